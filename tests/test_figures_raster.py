"""One drawing per figure: the SVG laid out once, its PNG twin rasterized from it by Typst, each
label parsed once per process, and no Typst in a fork of a process that already ran it."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib import _mathtext
from PIL import Image

from dldeck.figures import raster, render_figures, style
from dldeck.figures.examples import EXAMPLES
from dldeck.figures.kinds import KINDS
from dldeck.figures.render import draw_svg
from dldeck.mathengines import engines
from dldeck.model import FigureKey
from dldeck.pipeline.child import _Interpreter
from dldeck.pipeline.figures import FigurePass
from dldeck.pipeline.outcome import Work, quiet
from test_figures_kinds import data_of
from test_figures_support import card, collection

FIRST = [pytest.param(kind, source, checks, id=kind) for kind, ((_, source, checks), *_) in EXAMPLES.items()]


@pytest.mark.parametrize(("kind_name", "source", "checks"), FIRST)
def test_svg_laid_out_once_is_the_svg_savefig_writes(kind_name: str, source: str, checks: str) -> None:
    data, plain = data_of(source, checks), io.BytesIO()
    with style.figure(KINDS[kind_name].size(data)) as fig:
        KINDS[kind_name].draw(data, fig)
        fig.savefig(plain, format="svg", metadata=style.SVG_METADATA)  # lays out twice
    assert draw_svg(kind_name, data) == plain.getvalue()


def test_png_is_the_svg_rasterized_on_white_the_same_alone_or_in_a_batch() -> None:
    svgs = [draw_svg(kind, data_of(source, checks)) for kind, source, checks in (p.values for p in FIRST[:3])]
    batch = raster.rasterize(svgs, style.PNG_DPI)
    assert [raster.rasterize([svg], style.PNG_DPI)[0] for svg in svgs] == batch  # a rebuild of one matches
    for svg, png in zip(svgs, batch, strict=True):
        image = Image.open(io.BytesIO(png)).convert("RGBA")
        width_pt, height_pt = (float(v) for v in _svg_size_pt(svg))
        assert image.size == (round(width_pt / 72 * style.PNG_DPI), round(height_pt / 72 * style.PNG_DPI))
        pixels = np.asarray(image)
        assert pixels[..., 3].min() == 255  # opaque: a transparent figure vanishes in night mode
        assert (pixels[0, 0] == 255).all() and (pixels[:, :, :3] < 128).any()  # white ground, a drawing on it


def _svg_size_pt(svg: bytes) -> tuple[str, str]:
    found = re.search(rb'width="([\d.]+)pt" height="([\d.]+)pt"', svg)
    assert found is not None
    return found[1].decode(), found[2].decode()


def test_a_label_is_parsed_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    original = _mathtext.Parser.parse

    def counting(self: object, text: str, *args: object) -> object:
        parsed.append(text)
        return original(self, text, *args)

    monkeypatch.setattr(_mathtext.Parser, "parse", counting)
    label = r"$\zeta_{once}(x)$"
    spec = f"plot: [sin(x)]\nx: [0, 3]\nlabels: ['{label}']\n"
    style.parse_mathtext(label)  # as `prepare` checks it
    for i in range(60):  # more labels checked meanwhile than matplotlib's own cache keeps (50)
        style.parse_mathtext(f"$y_{{{i}}}$")
    draw_svg("function", data_of(spec, ""))
    draw_svg("function", data_of(spec.replace("3]", "4]"), ""))  # another figure, another renderer
    assert parsed.count(label) == 1


def test_after_typst_ran_here_the_figures_pass_draws_here_not_in_a_fork(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    figures = collection(card("kind: conv\n"))
    monkeypatch.setattr(engines, "_ran_here", True)
    figure_pass = FigurePass(figures, tmp_path, Work())
    figure_pass.start(quiet)
    assert figure_pass._child is None  # a fork would hang in Typst's dead thread pool
    result = figure_pass.finish()
    (rendered,) = result.values()
    assert Path(rendered.png_path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = render_figures(figures, tmp_path / "again", jobs=1)[FigureKey("figure-card", 0)]
    assert Path(again.png_path).read_bytes() == Path(rendered.png_path).read_bytes()


def test_many_figures_are_drawn_in_a_fresh_interpreter_with_the_same_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """From FRESH_FIGURES figures the child is a new interpreter (it does not map the build's memory),
    even after Typst ran here; it draws the same files a fork or this process draws."""
    import dldeck.pipeline.figures as figures_pass

    figures = collection(card("kind: conv\n"))
    monkeypatch.setattr(figures_pass, "FRESH_FIGURES", 1)
    monkeypatch.setattr(engines, "_ran_here", True)
    figure_pass = FigurePass(figures, tmp_path, Work())
    figure_pass.start(quiet)
    assert figure_pass._child is not None and isinstance(figure_pass._child._process, _Interpreter)
    (rendered,) = figure_pass.finish().values()
    again = render_figures(figures, tmp_path / "again", jobs=1)[FigureKey("figure-card", 0)]
    assert Path(again.png_path).read_bytes() == Path(rendered.png_path).read_bytes()
    assert Path(again.svg_path).read_bytes() == Path(rendered.svg_path).read_bytes()
