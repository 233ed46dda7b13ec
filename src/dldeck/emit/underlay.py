"""Pages of other PDFs laid under the pages of a typeset document, at the PDF level (pikepdf/qpdf).

A large sheet is typeset in parts (dldeck.emit.pdf). Joining them in Typst, each part page drawn as
an image, made Typst read and place every page of every part on every build, one edit included:
about 0.7 s at 5,000 cards and 2.3 s at 20,000. Now Typst typesets only the joining document's
skeleton (title, outline, headers, page numbers, hidden headings for the bookmarks) and each part's
page goes under a skeleton page as a form XObject, its content stream copied as it is.

Run in the typesetting child (dldeck.emit.typeset), so the parts' PDFs are never held by the build.
The output is deterministic: objects are written in qpdf's order and the file ID is derived from the
content, so the same parts and skeleton give the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import pikepdf
from pikepdf import Name

FORM_NAME = "/DldeckUnderlay"  # the part page's name in a skeleton page's resources


class UnderlayError(Exception):
    """The pages cannot be laid under the document (a part is unreadable or a page is missing)."""


def lay_under(document: bytes, files: Mapping[str, Path], underlays: Sequence[tuple[str, int]]) -> bytes:
    """`document` with page `page` (1-based) of the PDF `files[name]` under each of its last
    len(underlays) pages, in order, at the same size."""
    try:
        out = pikepdf.open(io.BytesIO(document))
        first = len(out.pages) - len(underlays)
        if first < 0:
            raise UnderlayError(f"the document has {len(out.pages)} pages, fewer than the "
                                f"{len(underlays)} pages to lay under them")
        sources: dict[str, pikepdf.Pdf] = {}
        draw = out.make_stream(f"q {FORM_NAME} Do Q\n".encode("ascii"))  # shared by every page
        for offset, (name, page) in enumerate(underlays):
            if name not in sources:
                if name not in files:
                    raise UnderlayError(f"{name} is not among the files given")
                sources[name] = pikepdf.open(files[name])
            pages = sources[name].pages
            if not 1 <= page <= len(pages):
                raise UnderlayError(f"{name} has no page {page}")
            _underlay(out.pages[first + offset], out.copy_foreign(_as_form(pages[page - 1])), draw)
        buffer = io.BytesIO()
        out.save(buffer, deterministic_id=True, object_stream_mode=pikepdf.ObjectStreamMode.generate,
                 stream_decode_level=pikepdf.StreamDecodeLevel.none)
    except pikepdf.PdfError as error:
        raise UnderlayError(str(error)) from None
    return buffer.getvalue()


def _underlay(page: pikepdf.Page, form: pikepdf.Object, draw: pikepdf.Object) -> None:
    """Draw `form` before the page's own content, under a fixed resource name: `Page.add_underlay`
    names the resource at random, and the same sheet would not give the same bytes twice."""
    resources = page.obj.get("/Resources")
    if resources is None:
        resources = page.obj.Resources = pikepdf.Dictionary()
    if "/XObject" not in resources:
        resources.XObject = pikepdf.Dictionary()
    if FORM_NAME in resources.XObject:
        raise UnderlayError(f"a page already has a resource named {FORM_NAME}")
    resources.XObject[FORM_NAME] = form
    page.contents_add(draw, prepend=True)


def _as_form(page: pikepdf.Page) -> pikepdf.Object:
    """The page as a form XObject. A page with one content stream and its own resources (every page
    Typst writes) lends its stream, compressed as it is: `Page.as_form_xobject` rewrites the content
    and took 7 ms a page."""
    obj = page.obj
    contents = obj.get("/Contents")
    if isinstance(contents, pikepdf.Stream) and "/Resources" in obj and "/MediaBox" in obj:
        contents.Type = Name.XObject
        contents.Subtype = Name.Form
        contents.BBox = obj.MediaBox
        contents.Resources = obj.Resources
        return contents
    return page.as_form_xobject()
