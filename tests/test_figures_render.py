"""The figures pass as the pipeline uses it: cache, parallel workers, determinism across processes, YAML."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from dldeck.figures import render_figures
from dldeck.figures.examples import EXAMPLES
from dldeck.figures.render import prepare
from dldeck.figures.yamlspec import load_entries
from dldeck.model import FigureKey
from test_figures_support import card, collection

FIRST_EXAMPLES = [
    card(source, checks=checks, slug=f"ex-{kind}") for kind, ((_, source, checks), *_) in EXAMPLES.items()
]

RENDER_IN_SUBPROCESS = """
import json, sys
sys.path.insert(0, sys.argv[2])
from pathlib import Path
from test_figures_render import FIRST_EXAMPLES
from test_figures_support import collection
from dldeck.figures import render_figures
result = render_figures(collection(*FIRST_EXAMPLES), Path(sys.argv[1]), jobs=2)
print(json.dumps({k.slug: [v.svg_path, v.png_path] for k, v in result.items()}))
"""


def test_pool_and_a_fresh_interpreter_produce_the_same_bytes(tmp_path: Path) -> None:
    here = render_figures(collection(*FIRST_EXAMPLES), tmp_path / "here", jobs=2)
    tests_dir = str(Path(__file__).parent)
    env = dict(os.environ, PYTHONHASHSEED="12345")
    output = subprocess.run(
        [sys.executable, "-c", RENDER_IN_SUBPROCESS, str(tmp_path / "there"), tests_dir],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    there = json.loads(output.strip().splitlines()[-1])
    assert set(there) == {key.slug for key in here}
    for key, figure in here.items():
        svg, png = there[key.slug]
        assert Path(svg).name == Path(figure.svg_path).name
        assert Path(svg).read_bytes() == Path(figure.svg_path).read_bytes(), key.slug
        assert Path(png).read_bytes() == Path(figure.png_path).read_bytes(), key.slug


def test_cache_hit_skips_drawing_and_corrupt_files_are_redrawn(tmp_path: Path) -> None:
    figures = collection(card("kind: conv\n", "kind: ema\n"))
    first = render_figures(figures, tmp_path, jobs=1)
    conv = first[FigureKey("figure-card", 0)]
    ema = first[FigureKey("figure-card", 1)]
    good_png = Path(conv.png_path).read_bytes()
    ema_mtime = Path(ema.svg_path).stat().st_mtime_ns
    Path(conv.png_path).write_bytes(good_png[: len(good_png) // 2])  # a build killed mid-write
    second = render_figures(figures, tmp_path, jobs=1)
    assert second == first
    assert Path(conv.png_path).read_bytes() == good_png
    assert Path(ema.svg_path).stat().st_mtime_ns == ema_mtime  # untouched: served from the cache
    assert not [p for p in (tmp_path / "figures").iterdir() if p.name.startswith(".")]  # no temp files


def test_cache_key_follows_spec_and_definitions_not_claims(tmp_path: Path) -> None:
    def name(source: str, checks: str) -> str:
        (job,) = prepare(collection(card(source, checks=checks)))
        return job.name

    plot = "plot: [f(x)]\n"
    base = name(plot, "f(x) := x**2\nf(2) == 4\n")
    assert name(plot, "f(x) := x**2\nf(3) == 9\n") == base  # a claim cannot change the picture
    assert name(plot, "f(x) := x**3\n") != base  # a definition can
    assert name("plot: [f(x)]\nx: [0, 1]\n", "f(x) := x**2\n") != base


def test_rendered_figure_carries_caption_alt_and_id(tmp_path: Path) -> None:
    figures = collection(card("kind: overlap\ncaption: 棋盘格伪影\nid: checkerboard\n", "kind: conv\n"))
    result = render_figures(figures, tmp_path, jobs=1)
    overlap = result[FigureKey("figure-card", 0)]
    conv = result[FigureKey("figure-card", 1)]
    assert (overlap.caption, overlap.alt, overlap.figure_id) == ("棋盘格伪影", "棋盘格伪影", "checkerboard")
    assert conv.caption == "" and "输出 3×3" in conv.alt
    assert Path(conv.svg_path).parent == tmp_path / "figures"


def test_yaml_keeps_commas_inside_parentheses_and_backslashes_in_double_quotes() -> None:
    entries = load_entries(
        "plot: [sigma(x), diff(sigma(x), x)]\n"
        'labels: [\'$\\sigma(x)$\', "$\\sigma\'(x)$", "$\\theta$ \\"q\\""]\n'
        "mark: [[0, subs(f(x), x, 0), 'top']]\n"
    )
    values = {entry.name: entry.value for entry in entries}
    assert values["plot"] == ["sigma(x)", "diff(sigma(x), x)"]
    assert values["labels"] == ["$\\sigma(x)$", "$\\sigma'(x)$", '$\\theta$ "q"']
    assert values["mark"] == [[0, "subs(f(x), x, 0)", "top"]]


def test_yaml_refuses_object_construction_tags() -> None:
    (diagnostic,) = _diagnostics("kind: !!python/object/apply:os.system ['true']\n")
    assert diagnostic.line == 11 and "YAML" in diagnostic.message


def _diagnostics(source: str):  # type: ignore[no-untyped-def]
    from dldeck.errors import BuildError

    try:
        prepare(collection(card(source, first_line=10)))
    except BuildError as error:
        return error.diagnostics
    raise AssertionError("expected a BuildError")
