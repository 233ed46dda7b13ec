"""The PNG twin of each figure: its SVG rasterized by Typst, many figures in one compile.

The deck ships PNGs (AnkiDroid shows no inline SVG); the HTML and PDF sheets use the SVGs. Drawing
each figure a second time with matplotlib's Agg cost as much as drawing the SVG; Typst rasterizes
the SVG in a quarter of that, and the PNG then shows exactly what the SVG does. The SVGs reach Typst
as `sys.inputs` (no file is read, nothing is escaped into the source), each on a page of its own
size (the page takes the SVG's width and height in pt), on white: a transparent figure vanishes in
Anki's night mode.
"""

from __future__ import annotations

from collections.abc import Sequence

from dldeck.mathengines.engines import MathEngineError, typst_png_pages, typst_version

# Figures per Typst compile: the document and its PNGs are held in memory until the compile ends.
BATCH = 64

_DOCUMENT = """#set page(width: auto, height: auto, margin: 0pt, fill: white)
#for i in range(int(sys.inputs.at("count"))) {
  if i > 0 { pagebreak() }
  image(bytes(sys.inputs.at("svg" + str(i))), format: "svg")
}
"""


class RasterError(Exception):
    """Typst could not rasterize a batch of figures (their SVGs are matplotlib's, so: a bug)."""


def version() -> str:
    """Part of every figure's cache key: another Typst may draw other pixels."""
    return typst_version()


def rasterize(svgs: Sequence[bytes], ppi: float) -> list[bytes]:
    """PNG bytes of each SVG at `ppi` pixels per inch, in order."""
    pngs: list[bytes] = []
    for start in range(0, len(svgs), BATCH):
        batch = svgs[start : start + BATCH]
        inputs = {f"svg{i}": svg.decode("utf-8") for i, svg in enumerate(batch)}
        inputs["count"] = str(len(batch))
        try:
            pages = typst_png_pages(_DOCUMENT, inputs, ppi)
        except MathEngineError as error:
            raise RasterError(error.engine_message) from error
        if len(pages) != len(batch):
            raise RasterError(f"{len(pages)} pages for {len(batch)} figures")
        pngs.extend(pages)
    return pngs
