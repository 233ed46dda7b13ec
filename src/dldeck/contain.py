"""Files named by content from strangers: the one place that decides whether a build may read one.

A card may only reach files inside its content folder (after every symlink is followed), only regular
files (a FIFO, a device such as /dev/zero, a socket or a folder would hang or flood the build) with a
single link (a hard link is the same file as another name that may lie outside the folder), only
up to a size limit, and an image only if its bytes are the image its name says. Everything that
reads or hashes an input goes through here — the reader, every emitter, the input hashes — so there
is no second, laxer copy of these rules.

Only the standard library is imported at module level: the no-op build hashes its inputs with it.
Pillow (installed with matplotlib) is imported when a raster image is checked.
"""

from __future__ import annotations

import io
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from dldeck.errors import Diagnostic, quote

if TYPE_CHECKING:
    from dldeck.model import Image

MAX_SOURCE_BYTES = 4 << 20   # one Markdown, facts or configuration file
MAX_IMAGE_BYTES = 16 << 20   # one image file
MAX_IMAGE_PIXELS = 40_000_000  # a small PNG can decode to gigabytes; this is ~6300 × 6300

RASTER_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".gif": "GIF", ".webp": "WEBP"}
IMAGE_SUFFIXES = frozenset({*RASTER_FORMATS, ".svg"})


class Refused(Exception):
    """A file the build will not read; the message completes "cannot use <file>: …"."""


def file_kind(mode: int) -> str:
    """What a non-regular file is, in words for a diagnostic."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def inside(path: Path, root: Path) -> Path:
    """The real path of `path`; Refused when, after every symlink, it lies outside `root`."""
    real = Path(os.path.realpath(path))
    real_root = Path(os.path.realpath(root))
    if real != real_root and real_root not in real.parents:
        shown = f" (a symbolic link to {real})" if Path(os.path.abspath(path)) != real else ""
        raise Refused(f"it is outside the content folder{shown}: a card may only use files inside it")
    return real


@contextmanager
def open_regular(path: Path, limit: int | None = None, *, single_link: bool = False) -> Iterator[BinaryIO]:
    """Open a regular file for reading; Refused for anything else, which is never opened blocking.

    `stat` first, so a FIFO or device is not even opened; then O_NONBLOCK and `fstat` on the open
    descriptor, so a file swapped for a FIFO between the two cannot hang the build either."""
    try:
        before = os.stat(path)
    except FileNotFoundError:
        raise Refused("file not found") from None
    except OSError as error:
        raise Refused(f"cannot read it ({error.strerror})") from None
    _check_regular(before, limit, single_link)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as error:
        raise Refused(f"cannot read it ({error.strerror})") from None
    try:
        _check_regular(os.fstat(descriptor), limit, single_link)
    except BaseException:
        os.close(descriptor)
        raise
    with os.fdopen(descriptor, "rb") as handle:
        yield handle


def _check_regular(status: os.stat_result, limit: int | None, single_link: bool = False) -> None:
    if not stat.S_ISREG(status.st_mode):
        raise Refused(f"it is {file_kind(status.st_mode)}, not a regular file")
    if single_link and status.st_nlink > 1:
        raise Refused(f"it is a hard link ({status.st_nlink} names for one file): the other name may lie "
                      "outside the content folder; copy the file instead")
    if limit is not None and status.st_size > limit:
        raise Refused(f"it is {status.st_size:,} bytes, more than the limit of {limit:,}")


def read_regular(path: Path, limit: int = MAX_SOURCE_BYTES, *, single_link: bool = False) -> bytes:
    """The bytes of a regular file of at most `limit` bytes (a file growing while read is cut off)."""
    with open_regular(path, limit, single_link=single_link) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise Refused(f"it is more than the limit of {limit:,} bytes")
    return data


def read_content(path: Path, root: Path, limit: int = MAX_SOURCE_BYTES) -> bytes:
    """The bytes of a file a card refers to: inside `root`, regular, at most `limit` bytes."""
    real = inside(path, root)
    if os.path.islink(path) and not os.path.lexists(real):
        raise Refused(f"it is a symbolic link to a missing file ({os.readlink(path)})")
    return read_regular(real, limit, single_link=True)


def read_image(path: Path, root: Path) -> bytes:
    """The bytes of an image a card shows, checked to be the image its suffix names."""
    suffix = Path(path).suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise Refused(f"{suffix or 'no suffix'} is not an image type dldeck accepts "
                      f"({', '.join(sorted(IMAGE_SUFFIXES))})")
    data = read_content(path, root, MAX_IMAGE_BYTES)
    check_image(data, suffix)
    return data


def image_message(src: str, refused: Refused) -> str:
    return f"cannot use image {quote(src)}: {refused}"


def load_image(image: Image, root: str | Path, problems: list[Diagnostic]) -> bytes | None:
    """An emitter's read of a card's image: checked again, not trusted from the reader, so the bytes
    shipped are the bytes checked; a refusal is added to `problems` at the image's line."""
    try:
        return read_image(Path(image.src), Path(root))
    except Refused as refused:
        problems.append(Diagnostic(image.span.path, image.span.line, image_message(image.src, refused)))
        return None


def check_image(data: bytes, suffix: str) -> None:
    """Refused unless `data` decodes as the format `suffix` names (SVG: parses and is inert)."""
    if suffix == ".svg":
        check_svg(data)
        return
    expected = RASTER_FORMATS.get(suffix)
    if expected is None:
        raise Refused(f"{suffix} is not an image type dldeck accepts")
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data), formats=[expected]) as picture:
            width, height = picture.size
            if width * height > MAX_IMAGE_PIXELS:
                raise Refused(f"it is {width} × {height} pixels, more than the limit of {MAX_IMAGE_PIXELS:,}")
            picture.load()
    except Refused:
        raise
    except Exception as error:  # noqa: BLE001 - Pillow raises many kinds; all mean "not this image"
        raise Refused(f"it is not a valid {expected} image ({type(error).__name__})") from None


# --------------------------------------------------------------------------- SVG

_FORBIDDEN_ELEMENTS = {"script", "foreignobject", "iframe", "embed", "object", "handler", "listener", "audio",
                       "video"}
_URL = re.compile(r"url\(\s*(['\"]?)\s*([^'\")]*)", re.IGNORECASE)
_DECLARATION = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_PROCESSING = re.compile(r"<\?(?!xml[\s?])", re.IGNORECASE)  # e.g. <?xml-stylesheet href=…?>
_ENCODING = re.compile(r"^\s*<\?xml[^>]*encoding\s*=\s*['\"]([^'\"]+)", re.IGNORECASE)


def check_svg(data: bytes) -> None:
    """An SVG a page can show inline without it running script, loading anything or expanding entities.

    Parsed by expat only after DOCTYPE and ENTITY declarations are refused, so no entity can expand
    and no DTD is fetched; then every element, attribute and style is checked for script, event
    handlers, foreign content and references to anything outside the file itself."""
    import xml.etree.ElementTree as ElementTree

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("it is not a UTF-8 SVG file") from None
    declared = _ENCODING.match(text)
    if declared and declared.group(1).lower().replace("_", "-") not in ("utf-8", "utf8", "us-ascii", "ascii"):
        raise Refused(f"it declares the encoding {declared.group(1)!r}: SVG images must be UTF-8")
    if _DECLARATION.search(text):
        raise Refused("it has a <!DOCTYPE> or <!ENTITY> declaration: remove it (SVG needs neither)")
    if _PROCESSING.search(text):
        raise Refused("it has an XML processing instruction (such as xml-stylesheet), which may load files")
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as error:
        raise Refused(f"it is not well-formed SVG ({error})") from None
    if _local(root.tag) != "svg":
        raise Refused(f"its root element is <{_local(root.tag)}>, not <svg>")
    for element in root.iter():
        name = _local(element.tag)
        if name in _FORBIDDEN_ELEMENTS:
            raise Refused(f"it contains a <{name}> element: images must not run script or embed documents")
        if name == "style":
            _check_style(element.text or "", "a <style> element")
        for attribute, value in element.attrib.items():
            key = _local(attribute)
            if key.startswith("on"):
                raise Refused(f"it has an event handler attribute {key!r} on <{name}>")
            if key in ("href", "src") and not value.strip().startswith("#"):
                raise Refused(f"<{name}> refers to {value.strip()[:80]!r}: only references inside the "
                              "file (#id) are allowed")
            _check_style(value, f"attribute {key!r} of <{name}>")


def _check_style(text: str, where: str) -> None:
    if "@import" in text.lower():
        raise Refused(f"{where} has an @import, which loads another file")
    for match in _URL.finditer(text):
        target = match.group(2).strip()
        if not target.startswith("#"):
            raise Refused(f"{where} refers to url({target[:80]}): only references inside the file (#id) "
                          "are allowed")


def _local(tag: object) -> str:
    """An element or attribute name without its namespace, lower-cased (SVG is case-sensitive, but
    `foreignObject` and `foreignobject` must both be caught)."""
    return str(tag).rsplit("}", 1)[-1].lower()
