"""A shown bound is the bound: weakening it (`1-ηL<+1` for `<-1`, `(-1,2)` for `(-1,1)`) keeps it true,
so the verifier also checks that it is reached (verify/tightness.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from tests.test_shown_claims import by_line, content, verify

from dldeck.verify.evaluate import Scope
from dldeck.verify.tightness import unreached

CARD = "## 界？ {#bounds}\n\n"


@pytest.mark.parametrize(("formula", "reached"), [
    (r"\text{当 }a>2\text{ 时}, 1-a<-1", True),  # the sides meet at a = 2
    (r"\text{当 }a>2\text{ 时}, 1-a<1", False),  # true, but 1 is not where a = 2 puts it
    (r"\text{当 }a>3\text{ 时}, 1-a<-1", False),  # true, but the condition is not the range
    (r"\text{当 }0<a<2\text{ 时}, 1-a>-1", True),  # met at the upper end
    (r"\text{当 }x>0\text{ 时}, 1-e^{-x}<1", True),  # met as x → +∞
    (r"\tanh x\in(-1,1)", True),  # the infimum and the supremum
    (r"\tanh x\in(-1,2)", False),
    (r"0<e^{-x^2}\le 1", True),
    (r"e^{-x^2}\le 2", False),
    # sympy finds no extremum of these: the sampled values and the limits at ±∞ decide
    (r"\min(\max(0,x),6)\in[0,6]", True),
    (r"\min(\max(0,x),6)\in[0,7]", False),
    (r"\frac{x}{1+|x|}\in(-1,1)", True),  # reached only as x → ±∞
    (r"\frac{x}{1+|x|}\in(-1,2)", False),
])
def test_a_shown_bound_must_be_reached(tmp_path: Path, formula: str, reached: bool) -> None:
    folder = content(tmp_path, CARD + f"$${formula}$$\n")
    [result] = by_line(verify(folder), 7)
    if reached:
        assert result.status in ("symbolic", "numeric"), result.message
    else:
        assert result.status == "failed", result
        assert "not reached" in result.message or "do not meet where its condition ends" in result.message


def test_prose_conditions_mark_the_boundary_too(tmp_path: Path) -> None:
    body = (CARD + "```check\nsigma(x) := 1/(1+exp(-x))\n```\n\n"
            "当 $T>1$ 时 $\\sigma(1/T)<\\sigma(2)$。\n\n当 $T>1$ 时 $\\sigma(1/T)<\\sigma(1)$。\n")
    report = verify(content(tmp_path, body))
    [weak] = [r for r in report.results if "sigma(2)" in r.text]
    assert weak.status == "failed" and "at T = 1" in weak.message
    [exact] = [r for r in report.results if "sigma(1)" in r.text and r.source == "formula"]
    assert exact.status in ("symbolic", "numeric"), exact.message


def test_a_boundary_where_the_sides_are_undefined_is_met_in_the_limit(tmp_path: Path) -> None:
    """Under m<0, σ(1/m) is undefined at m = 0 itself: its limit from inside the condition decides."""
    body = (CARD + "```check\nsigma(x) := 1/(1+exp(-x))\n```\n\n"
            "若 $m<0$，$\\sigma(1/m)<\\frac12$。\n\n若 $m<0$，$\\sigma(1/m)<1$。\n")
    report = verify(content(tmp_path, body))
    [exact, weak] = [r for r in report.results if r.source == "formula" and "sigma(1 / m)" in r.text]
    assert exact.status in ("symbolic", "numeric"), exact.message
    assert weak.status == "failed" and "at m = 0, as m → -∞" in weak.message, weak.message


def test_what_sympy_cannot_bound_is_not_judged() -> None:
    """No infimum found (two free names; a bound by a name): nothing is said about reach."""
    scope = Scope()
    for text in ("x + y < x + y + 1", "x**2 + 1 > 0 * x", "exp(x) > 0"):
        assert unreached(ast.parse(text, mode="eval").body, scope, 1) == ""


def test_a_bound_is_proved_and_judged_from_one_search_per_side(monkeypatch: pytest.MonkeyPatch) -> None:
    """Proving `-1 < tanh(v) < 1` needs tanh's infimum and supremum, and so does checking that they
    are reached: sympy searches each once (`library.extremum`), not once per question."""
    import sympy.calculus.util as util

    from dldeck.verify.claims import check_claim
    from dldeck.verify.library import BUILTIN_NAMES
    from dldeck.verify.syntax import parse_statement

    searched: list[tuple[str, str]] = []
    for name in ("maximum", "minimum"):
        real = getattr(util, name)

        def search(f, x, domain, real=real, name=name):  # noqa: ANN001, ANN202
            searched.append((name, str(f)))
            return real(f, x, domain)
        monkeypatch.setattr(util, name, search)
    statement = parse_statement("-1 < tanh(v_7) < 1", 1, BUILTIN_NAMES)
    scope = Scope()
    assert check_claim(statement, scope).status == "symbolic"  # not attained, and never equal: proved
    assert unreached(statement.body, scope, 1) == ""
    assert sorted(searched) == [("maximum", "tanh(v_7)"), ("minimum", "tanh(v_7)")]
    # a weaker bound is still judged from the same, remembered supremum
    weaker = parse_statement("-1 < tanh(v_7) < 2", 1, BUILTIN_NAMES).body
    assert "not reached" in unreached(weaker, scope, 1)
    assert len(searched) == 2
