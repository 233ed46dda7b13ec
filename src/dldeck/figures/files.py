"""What a whole figure file looks like. Kept apart from the renderer, and free of heavy imports, so
the build can trust cached figures without loading matplotlib when no figure needs drawing.

A figure's SVG and PNG are written first, then a checksum file beside them (`fig-….sha256`, in
`sha256sum` format) with the hash of each as written. A cached pair is used only if both files
still hash to what was recorded: a file cut short by a crash, or changed by anyone since, is drawn
again rather than shipped. The figures cache keeps each pair's `stamps` from when it was last found
whole, and a pair that still carries them is not hashed again.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from dldeck.atomicfile import write_atomically
from dldeck.buildcache import file_stamp
from dldeck.contain import MAX_IMAGE_BYTES, Refused, read_regular


def checksum_path(png_path: Path) -> Path:
    return png_path.with_suffix(".sha256")


def write_figure(svg_path: Path, png_path: Path, svg: bytes, png: bytes) -> None:
    """Write both files, then the checksums that vouch for them (last: a crash before leaves no vouch)."""
    write_atomically(png_path, png)
    write_atomically(svg_path, svg)
    lines = "".join(f"{hashlib.sha256(data).hexdigest()}  {path.name}\n"
                    for path, data in ((svg_path, svg), (png_path, png)))
    write_atomically(checksum_path(png_path), lines.encode("ascii"))


def stamps(svg_path: Path, png_path: Path) -> list[list[int]] | None:
    """Both files' stamps (`buildcache.file_stamp`, of the links themselves): a pair that still carries
    the stamps it had when it was last found complete is the same pair and need not be hashed again
    (hashing 1,000 figure files was 0.07 s of every 5,000-card build). None if either is missing."""
    try:
        return [file_stamp(path, follow_symlinks=False) for path in (svg_path, png_path)]
    except OSError:
        return None


def is_complete(svg_path: Path, png_path: Path) -> bool:
    """A cached pair is used only if both files hash to the checksums recorded when they were drawn."""
    try:
        recorded = read_regular(checksum_path(png_path), 4096).decode("ascii").splitlines()
        expected = [f"{hashlib.sha256(read_regular(path, MAX_IMAGE_BYTES)).hexdigest()}  {path.name}"
                    for path in (svg_path, png_path)]
    except (Refused, OSError, UnicodeDecodeError):
        return False
    return recorded == expected
