"""Bad figure specs: every problem is reported as path:line: with the offending text, nothing is drawn."""

from __future__ import annotations

from pathlib import Path

import pytest

from dldeck.errors import BuildError
from dldeck.figures import render_figures
from dldeck.figures.render import prepare
from test_figures_support import PATH, card, collection

# The card helper puts the figure fence on line 10, so the block's first line is line 11.
CASES = [
    ("kind: convv\ninput: 5\n", 11, "unknown figure kind «convv» (did you mean «conv»?)"),
    (
        "kind: conv\ninput: 5\nkernal: 3\n",
        13,
        "unknown key «kernal» for figure kind conv (did you mean «kernel»?)",
    ),
    ("kind: conv\ninput: five\n", 12, "figure `input`: expected an integer from 1 to 16, got «five»"),
    ("kind: conv\ninput: 5\nstride: 9\n", 13, "9 is out of range: expected an integer from 1 to 5"),
    ("kind: conv\ninput: 3\nkernel: 5\n", 13, "but the padded input is only 3×3"),
    ("kind: conv\nkind: ema\n", 12, "duplicate key «kind»"),
    (
        "kind: group-conv\nin_channels: 8\ngroups:\n  - 1\n  - 3\n",
        15,
        "in_channels 8 must be divisible by groups 3",
    ),
    ("kind: optimizers\nlr: {sgd: 5}\n", 12, "SGD diverges with learning rate 5"),
    ("kind: lr-schedule\nschedules: [cosine, linear]\n", 12, "figure `schedules[1]`: unknown value «linear»"),
    ("kind: norm-axes\ngroups: 4\n", 12, "groups=4 does not divide C=6"),
    (
        "kind: transposed-conv\nstride: 2\noutput_padding: 2\n",
        13,
        "output_padding 2 must be smaller than stride 2",
    ),
    ("kind: ema\nbeta: 1\n", 12, "expected a number in (0, 1)"),
    ("plot: [1/x]\nx: [-1, 1]\n", 11, "figure `plot[0]`: «1/x» has a pole at x = 0 inside the range [-1, 1]"),
    ("plot:\n  - sin(x)\n  - sqrt(x)\nx: [-1, 1]\n", 13, "«sqrt(x)» is not finite at x = -1"),
    ("plot: [log(x)]\nx: [0, 1]\n", 11, "«log(x)» is not finite at x = 0"),
    ("plot: [tan(x)]\nx: [0, 3]\n", 11, "«tan(x)» jumps through ±∞ near x = 1.57"),
    ("plot: [sqrt(x - 2)*I]\nx: [3, 4]\n", 11, "is complex at x = 3"),
    ("plot: [a*x]\n", 11, "a is not defined: only x varies"),
    ("plot: [sin(x)]\nlabels: ['$\\tfrac{1}{2}$']\n", 12, "is not valid matplotlib mathtext"),
    ("plot: [sin(x), cos(x)]\nlabels: [a]\n", 12, "1 labels for 2 curves"),
    ("plot: [sin(x)]\nmark: [[9, 0]]\n", 12, "mark at x = 9 is outside the plotted range [-5, 5]"),
    ("plot: [__import__('os')]\n", 11, "names starting with _ are not allowed"),
    ("plot: [sin(x)]\nx: [2, 1]\n", 12, "empty range"),
    ("x: [0, 1]\n", 10, "figure kind function needs `plot:`"),
    ("", 11, "empty figure block"),
    ("- a\n- b\n", 11, "must be a YAML mapping"),
    ("kind: conv\ninput: [5\n", 13, "YAML:"),
    ("kind: bars\nlabels: [a, b, c]\nvalues: [1, 2]\n", 13, "2 values for 3 labels"),
    ("kind: bars\nlabels: [a]\nvalues: [y]\n", 13, "a bar's value must be a number, got «y»"),
    ("kind: bars\nlabels: [a]\nvalues: [1]\ntotal: maybe\n", 14, "expected true or false, got «maybe»"),
]


@pytest.mark.parametrize(("source", "line", "message"), CASES, ids=[c[2][:40] for c in CASES])
def test_bad_spec_names_file_line_and_problem(source: str, line: int, message: str) -> None:
    with pytest.raises(BuildError) as caught:
        prepare(collection(card(source, first_line=10)))
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.path == PATH
    assert diagnostic.line == line, str(diagnostic)
    assert message in diagnostic.message


def test_all_problems_of_all_figures_reported_together_and_nothing_written(tmp_path: Path) -> None:
    good = "kind: conv\n"
    bad_key = "kind: conv\nsize: 3\n"
    bad_value = "kind: ema\nn: 1\nbeta: 2\n"
    figures = card(good, bad_key, bad_value, first_line=10)
    with pytest.raises(BuildError) as caught:
        render_figures(collection(figures), tmp_path, jobs=1)
    lines = [(d.line, d.message.split(":")[0]) for d in caught.value.diagnostics]
    # good: fence 10, lines 11; bad_key: fence 14, `size` on 16; bad_value: fence 19, n on 21, beta on 22
    assert [line for line, _ in lines] == [16, 21, 22]
    assert "unknown key «size»" in caught.value.diagnostics[0].message
    assert not list(tmp_path.rglob("fig-*"))


def test_check_definition_errors_surface_at_their_own_line() -> None:
    figures = card("plot: [f(x)]\n", checks="f(x) := 1/(1 + exp(-x)\n", first_line=10)
    with pytest.raises(BuildError) as caught:
        prepare(collection(figures))
    assert all(d.path == PATH for d in caught.value.diagnostics)
    assert any(d.line == 11 for d in caught.value.diagnostics)


def test_duplicate_figure_ids_are_refused() -> None:
    first = card("kind: conv\nid: conv-demo\n", slug="one")
    second = card("kind: ema\nid: conv-demo\n", slug="two", first_line=40)
    with pytest.raises(BuildError) as caught:
        prepare(collection(first, second))
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.line == 42
    assert "figure id «conv-demo» already used at content/test/figures.md:12" in diagnostic.message
