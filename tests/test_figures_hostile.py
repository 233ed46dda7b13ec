"""Figure specs from strangers: expressions sympy cannot finish, formulas too big to plot, nesting
that would overflow a parser, and TeX the formula allow-list refuses all end as `path:line:`."""

from __future__ import annotations

import time

import pytest
import sympy

from dldeck.errors import BuildError
from dldeck.figures.kinds import function
from dldeck.figures.params import SpecError
from dldeck.figures.render import prepare
from test_figures_support import PATH, card, collection

# The card helper puts the figure fence on line 10, so the block's first line is line 11.
CASES = [
    ("plot: [expand((x+1)**700)]\n", 11, "«expand((x+1)**700)» is too large to plot (over 2,000 terms)"),
    ("plot: [limit(sin(x)/x**y, x, 0)]\n", 11,
     "sympy could not evaluate «limit(sin(x)/x**y, x, 0)»: NotImplementedError"),
    ("plot: [x]\nlabels: " + "{" * 500 + "}" * 500 + "\n", 12, "YAML: brackets nested deeper than 20"),
    ("plot: [x]\ncaption: " + "[" * 10_000 + "]" * 10_000 + "\n", 12, "YAML: brackets nested deeper than 20"),
    ("plot: [x]\nlabels:\n" + "- " * 5_000 + "x\n", 13, "YAML nested deeper than 50 levels"),
    ("plot: [x]\nlabels: ['$" + "{" * 50 + "x" + "}" * 50 + "$']\n", 12,
     "figure `labels[0]`: formula refused: braces nested deeper than 10"),
    ("plot: [x]\ncaption: 'see $\\href{javascript:alert(1)}{x}$'\n", 12,
     "figure `caption`: formula refused: \\href creates a link"),
    ("plot: [x]\nxlabel: '$\\style{color:red}{x}$'\n", 12,
     "figure `xlabel`: formula refused: \\style sets HTML classes, styles, ids or attributes"),
]


@pytest.mark.parametrize(("source", "line", "message"), CASES, ids=[c[2][:40] for c in CASES])
def test_hostile_spec_is_a_message_at_its_line_in_bounded_time(source: str, line: int, message: str) -> None:
    started = time.process_time()  # CPU time: other work on a shared machine does not count
    with pytest.raises(BuildError) as caught:
        prepare(collection(card(source, first_line=10)))
    assert time.process_time() - started < 20
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.path, diagnostic.line) == (PATH, line), str(diagnostic)
    assert message in diagnostic.message


def test_a_limit_sympy_leaves_unevaluated_is_not_plotted() -> None:
    x, t = sympy.Symbol("x", real=True), sympy.Symbol("t", real=True)
    unevaluated = sympy.Limit(sympy.sin(x * t) / t, t, 0)
    params = {"plot": [(unevaluated, "limit(sin(x*t)/t, t, 0)")], "x": (-1.0, 1.0), "var": "x"}
    with pytest.raises(SpecError, match="no closed form: sympy left a Limit unevaluated"):
        function.compute(params)
