"""The float screen of the numeric fallback: the same values as evalf where it answers, evalf where not."""

from __future__ import annotations

import ast
import random
from fractions import Fraction

import pytest
import sympy

from dldeck.model import Card, CheckBlock, Collection, SourceSpan, Text
from dldeck.verify import verify_collection
from dldeck.verify.claims import numeric
from dldeck.verify.floats import Screen, compile_exact, compile_float

x, y = sympy.symbols("x y", real=True)
n = sympy.Symbol("n", integer=True, positive=True)

EXPRESSIONS = [
    sympy.exp(x) / (1 + sympy.exp(x)),
    sympy.tanh(x) - 2 / (1 + sympy.exp(-2 * x)) + 1,
    sympy.Piecewise((x, x > 0), (sympy.Rational(1, 100) * x, True)),
    sympy.Piecewise((0, x <= -3), (x * (x + 3) / 6, x < 3), (x, True)),
    sympy.Max(-1, sympy.Min(1, x)) * sympy.Abs(y),
    sympy.sqrt(x**2 + y**2) + sympy.log(1 + x**2),
    sympy.erf(x / sympy.sqrt(2)) * sympy.pi + sympy.E,
    sympy.Piecewise((sympy.sin(x), sympy.And(x > -1, x < 1)), (sympy.cos(y), sympy.Or(y > 0, x > 5)),
                    (1, True)),
]


@pytest.mark.parametrize("expr", EXPRESSIONS, ids=range(len(EXPRESSIONS)))
def test_the_screen_agrees_with_evalf(expr):
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    assert compile_float(expr, symbols) is not None  # these are all fast-path expressions
    screen = Screen(expr, symbols, numeric)
    rng = random.Random(7)
    for _ in range(200):
        point = {s: sympy.Float(round(rng.uniform(-8, 8), 6), 30) for s in symbols}
        fast, slow = screen(point), numeric(expr, point)
        assert fast == pytest.approx(slow, rel=1e-12, abs=1e-12), point


def test_points_the_floats_cannot_settle_go_to_evalf():
    calls = []

    def slow(expr, point):
        calls.append(point)
        return numeric(expr, point)

    # overflow, a complex power, a pole, and a point on a condition's boundary
    cases = [(sympy.exp(x), {x: sympy.Float(1000)}), (x ** sympy.Rational(1, 3), {x: sympy.Float(-8)}),
             (1 / x, {x: sympy.Float(0)}), (sympy.Piecewise((1, x > 0), (2, True)), {x: sympy.Float(0)})]
    for expr, point in cases:
        calls.clear()
        assert Screen(expr, [x], slow)(point) == numeric(expr, point)
        assert calls == [point]


def test_unknown_nodes_are_not_compiled():
    f = sympy.Function("f")
    assert compile_float(sympy.Derivative(f(x), x), [x]) is None
    assert compile_float(sympy.Integral(sympy.exp(-x * y), (y, 0, 1)), [x]) is None
    assert compile_float(x + y, [x]) is None  # a symbol the point does not give


def test_integer_symbols_and_huge_literals():
    expr = 2**n + sympy.Integer(10) ** 400
    assert compile_float(expr, [n]) is None  # 10**400 is no float: evalf decides
    assert Screen(2**n, [n], numeric)({n: sympy.Integer(10)}) == 1024.0


@pytest.mark.parametrize("claim, status", [
    ("Piecewise((1 - eta*L, eta > 2/L), (-1 - 1, True)) < -1", "numeric"),
    ("Piecewise((1 - eta*L, eta > 2/L), (-1 - 1, True)) < -2", "failed"),
    ("Piecewise((x, x > 0), (0, True)) == Max(x, 0)", "verified"),
    ("Piecewise((x, x > 0), (0, True)) == Max(x, 1)", "failed"),
])
def test_conditional_claims_keep_their_verdicts(claim, status):
    path = "content/floats.md"
    block = CheckBlock(f"assume eta, L: positive\n{claim}\n", SourceSpan(path, 3))
    card = Card("floats", (Text("q"),), (block,), (), (), "deck", "", (), ("floats",), "basic",
                SourceSpan(path, 1), 0)
    [result] = verify_collection(Collection((card,), ""), timeout=60.0, jobs=1).results
    assert result.line == 5
    if status == "verified":
        assert result.status in ("symbolic", "numeric"), result.message
    else:
        assert result.status == status, result.message


GAN_N = 2 * x / 255 - 1  # n(x) = (x - 127.5)/127.5, the GAN card's pixel scaling
GAN_LHS = sympy.Piecewise((sympy.Piecewise((-1, x >= 0), (GAN_N, True)), x <= 255), (GAN_N, True))
RATIONAL = [
    x / 3 + sympy.Piecewise((x**2, x > 1), (1 - x, True)),
    sympy.Max(-1, sympy.Min(1, x)) * sympy.Abs(y) - sympy.Rational(1, 7) * y**-2,
    GAN_N - GAN_LHS,
    sympy.Rational(1, 10) * x - sympy.floor(x) + sympy.sign(y) + sympy.ceiling(y / 3),
]


@pytest.mark.parametrize("expr", RATIONAL, ids=range(len(RATIONAL)))
def test_rational_expressions_are_confirmed_exactly(expr):
    """Sums, products, integer powers, cases, min/max, |x|, floor and sign: the exact value, as sympy
    computes it in rationals at the same point, and evalf is never asked."""
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    screen = Screen(expr, symbols, lambda *_: pytest.fail("evalf asked"))
    rng = random.Random(11)
    for _ in range(100):
        point = {s: sympy.Float(round(rng.uniform(-300, 300), 9), 30) for s in symbols}
        value = screen.confirm(point, 60)
        assert isinstance(value, Fraction)
        assert value == sympy.Rational(expr.subs({s: sympy.Rational(v) for s, v in point.items()})), point


def test_a_float_constant_counts_as_the_binary_value_evalf_uses():
    expr = sympy.Float("0.1", 30) * x
    point = {x: sympy.Float(3, 30)}
    value = Screen(expr, [x], lambda *_: pytest.fail("evalf asked")).confirm(point, 60)
    assert value != Fraction(3, 10)  # 0.1 has no exact binary value
    assert abs(sympy.Rational(value.numerator, value.denominator) - expr.evalf(60, subs=point)) < 1e-45


def test_other_expressions_and_undefined_points_are_confirmed_by_evalf():
    calls = []

    def slow(expr, point, precision=15):
        calls.append(precision)
        return numeric(expr, point, precision)

    for expr in (sympy.exp(x), sympy.sqrt(x), sympy.pi * x, sympy.tanh(x) + x, sympy.Function("f")(x)):
        assert compile_exact(expr, [x]) is None
    assert Screen(1 / x, [x], slow).confirm({x: sympy.Float(0)}, 60) is None  # a pole
    only_positive = sympy.Piecewise((1, x > 0))
    assert Screen(only_positive, [x], slow).confirm({x: sympy.Float(-1, 30)}, 60) is None  # no case applies
    assert calls == [60, 60]


def test_a_rational_gap_that_rounds_below_zero_is_confirmed_without_evalf(monkeypatch):
    """`若 x∈[0,255]，n(x)∈[-1,1]`: outside [0, 255] both sides are n(x) and the floats give the gap as
    -1e-16 at half the grid's points. Each was confirmed by evalf (18 ms through the cases, 2.4 s for
    the claim); exact fractions settle them, and the verdict is the same."""
    import dldeck.verify.claims as claims

    asked = []
    real = claims.numeric
    monkeypatch.setattr(claims, "numeric", lambda expr, point, precision=15: asked.append(precision)
                        or real(expr, point, precision))
    assert claims.inequality(ast.LtE(), GAN_LHS, GAN_N, random.Random(0)) == "numeric"
    assert claims.CONFIRM_PRECISION not in asked
    with pytest.raises(claims._Failed) as failed:  # a false bound still fails, with evalf's values shown
        claims.inequality(ast.LtE(), GAN_LHS, GAN_N - sympy.Rational(1, 10**30), random.Random(0))
    assert failed.value.detail.startswith("at x=-") and ", rhs=" in failed.value.detail
