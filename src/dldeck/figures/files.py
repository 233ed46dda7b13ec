"""What a whole figure file looks like. Kept apart from the renderer, and free of heavy imports, so
the build can trust cached figures without loading matplotlib when no figure needs drawing."""

from __future__ import annotations

import os
from pathlib import Path

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"IEND\xaeB`\x82"


def is_complete(svg_path: Path, png_path: Path) -> bool:
    """A cached pair is used only if both files are whole: a crash mid-write must not stick."""
    try:
        with svg_path.open("rb") as svg:
            svg.seek(0, os.SEEK_END)
            if svg.tell() < 64:
                return False
            svg.seek(-16, os.SEEK_END)
            if b"</svg>" not in svg.read():
                return False
        with png_path.open("rb") as png:
            if png.read(8) != PNG_SIGNATURE:
                return False
            png.seek(-8, os.SEEK_END)
            return png.read() == PNG_END
    except OSError:
        return False
