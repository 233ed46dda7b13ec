"""The float screen of the numeric fallback: the same values as evalf where it answers, evalf where not."""

from __future__ import annotations

import random

import pytest
import sympy

from dldeck.model import Card, CheckBlock, Collection, SourceSpan, Text
from dldeck.verify import verify_collection
from dldeck.verify.claims import numeric
from dldeck.verify.floats import Screen, compile_float

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
