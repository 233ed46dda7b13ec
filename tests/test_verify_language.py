"""The check language as figures use it: scope_for_card and evaluate_expression, in-process."""

from __future__ import annotations

import pytest
import sympy

from dldeck.errors import BuildError
from dldeck.model import Card, CheckBlock, SourceSpan
from dldeck.verify.language import Scope, evaluate_expression, split_statements
from dldeck.verify.shown import scope_for_card

SPAN = SourceSpan("content/act.md", 30)


def make_card(*blocks: tuple[int, str]) -> Card:
    answer = tuple(CheckBlock(source, SourceSpan("content/act.md", fence)) for fence, source in blocks)
    return Card(
        "act", (), answer, (), (), "deck", "", (), ("act",), "basic", SourceSpan("content/act.md", 1), 0
    )


def test_figures_see_the_cards_definitions_across_blocks():
    card = make_card(
        (10, "sigma(x) := 1/(1 + exp(-x))   # logistic\n"), (20, "k := 2\nscaled(x) := k*sigma(x)\n")
    )
    scope = scope_for_card(card)
    curves = evaluate_expression("[sigma(x), diff(sigma(x), x), scaled(0)]", scope, SPAN)
    x = scope.symbol("x")
    assert isinstance(curves, sympy.Tuple) and len(curves) == 3
    assert sympy.simplify(curves[0] - 1 / (1 + sympy.exp(-x))) == 0
    assert sympy.simplify(curves[1] - curves[0] * (1 - curves[0])) == 0
    assert curves[2] == 1


def test_scope_for_card_runs_no_claims():
    card = make_card((10, "k := 3\nk == 4\n"))  # a false claim is not scope_for_card's business
    assert scope_for_card(card).definitions["k"].value == 3


def test_float_literals_are_exact_rationals():
    scope = Scope()
    assert evaluate_expression("10e-8", scope, SPAN) == sympy.Rational(1, 10**7)
    assert evaluate_expression("0.1 + 0.2", scope, SPAN) == sympy.Rational(3, 10)
    assert evaluate_expression("1/4", scope, SPAN) == sympy.Rational(1, 4)
    assert evaluate_expression("7 // 2", scope, SPAN) == 3


def test_assumptions_shape_symbols():
    card = make_card((5, "assume n, m: positive integer\nassume t: nonnegative\n"))
    scope = scope_for_card(card)
    n, t, y = scope.symbol("n"), scope.symbol("t"), scope.symbol("y")
    assert n.is_positive and n.is_integer
    assert t.is_nonnegative and not t.is_integer
    assert y.is_real and y.is_positive is None  # unassumed symbols are real


def test_bad_definitions_raise_all_diagnostics_with_lines():
    card = make_card(
        (10, "k := 1 +\nf(x, x) := x\n"), (20, "exp := 3\ng(x) := undefined_fn(x)\nsin(y) := 1\n")
    )
    with pytest.raises(BuildError) as caught:
        scope_for_card(card)
    found = {(d.line, d.message.split(":")[0]) for d in caught.value.diagnostics}
    assert {line for line, _ in found} == {11, 12, 21, 22, 23}
    text = str(caught.value)
    assert "content/act.md:12: repeated parameter name in «f(x, x)»" in text
    assert "content/act.md:21: cannot redefine the built-in «exp»" in text
    assert "content/act.md:22: unknown function «undefined_fn»" in text


def test_redefinition_and_late_assumption_are_refused():
    with pytest.raises(BuildError, match="already defined"):
        scope_for_card(make_card((0, "k := 1\nk := 2\n")))
    with pytest.raises(BuildError, match="already used above; assume it first"):
        scope_for_card(make_card((0, "k := x + 1\nassume x: positive\n")))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("sigma", "unknown function"),  # not defined in an empty scope: the call is what fails below
        ("exp", "is a function; call it"),
        ("x +", "cannot parse"),
        ("'abc'", "not a mathematical expression"),
        ("(1, 2)[5]", "index 5 out of range"),
        ("x.real", "attribute access is not allowed"),
        ("diff(x**2, 2)", "the variable must be a plain symbol"),
        ("maximum(x, y, z)", "maximum() takes 2 argument(s), got 3"),
    ],
)
def test_evaluate_expression_errors_name_the_span(text: str, fragment: str):
    expression = "sigma(x)" if text == "sigma" else text
    with pytest.raises(BuildError) as caught:
        evaluate_expression(expression, Scope(), SPAN)
    assert str(caught.value).startswith("content/act.md:30: ")
    assert fragment in str(caught.value)


def test_statements_continue_while_brackets_are_open_and_strings_hide_hashes():
    source = "a := (1 +\n  2)\n\nfact('a#b') == 1  # real comment\nb := [1,\n 2]\n"
    statements = list(split_statements(source, 1))
    assert statements == [(1, "a := (1 +\n  2)"), (4, "fact('a#b') == 1"), (5, "b := [1,\n 2]")]


def test_calculus_helpers():
    scope = Scope()
    assert evaluate_expression("limit(sin(x)/x, x, 0)", scope, SPAN) == 1
    assert evaluate_expression("limit(1/x, x, 0, '+')", scope, SPAN) == sympy.oo
    assert evaluate_expression("integrate(x, (x, 0, 2))", scope, SPAN) == 2
    assert evaluate_expression("minimum((x - 3)**2 + 1, x)", scope, SPAN) == 1
    assert evaluate_expression("argmin((x - 3)**2 + 1, x)", scope, SPAN) == 3
    assert evaluate_expression("diff(x**3, x, 2)", scope, SPAN) == 6 * scope.symbol("x")
    assert (
        evaluate_expression("Piecewise((0, x < 0), (x, True))", scope, SPAN).subs(scope.symbol("x"), -2) == 0
    )
