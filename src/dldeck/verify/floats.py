"""Fast float screening of sample points: a sympy expression compiled once into nested closures.

The numeric fallback evaluates a claim at up to 1,201 points; sympy's `evalf` costs about a
millisecond a point (far more through a `Piecewise`), which made a handful of conditional claims
most of a cold build's verification time. Screening with machine floats is a few microseconds a
point. It only screens: a point where the float value is suspicious is confirmed at high precision
(`Screen.confirm`), and any point the floats cannot settle cleanly — an overflow, a domain
error, a complex intermediate, a condition decided within rounding of its boundary — is handed to
`evalf` as before, so a verdict never rests on float rounding. An expression with a node this
module does not know (a derivative, an integral, an undefined function) is not compiled at all.

A suspicious point is confirmed in exact rational arithmetic when the expression is rational (the
same walk, over fractions instead of floats: sums, products, integer powers, cases, min/max, |x|):
no rounding at all, and far faster than `evalf`, which rebuilds a `Piecewise` at every point. Any
other expression, and any point the fractions cannot settle (a pole, no case applies), is confirmed
by `evalf` at high precision.

Nothing is generated as source text and executed: the closures are built by walking the tree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import Any

import sympy

Values = Sequence[float]
FloatFunction = Callable[[Values], float]
ExactFunction = Callable[[Sequence[Fraction]], Any]

BOUNDARY = 1e-9  # a condition this close (relative) to its boundary is left to evalf


class Unsettled(Exception):
    """The floats cannot give this point's value cleanly: evaluate it with evalf instead."""


class _Unsupported(Exception):
    pass


_UNARY: dict[type, Callable[[float], float]] = {
    sympy.exp: math.exp, sympy.log: math.log, sympy.sin: math.sin, sympy.cos: math.cos,
    sympy.tan: math.tan, sympy.sinh: math.sinh, sympy.cosh: math.cosh, sympy.tanh: math.tanh,
    sympy.asin: math.asin, sympy.acos: math.acos, sympy.atan: math.atan, sympy.Abs: abs,
    sympy.floor: math.floor, sympy.ceiling: math.ceil, sympy.erf: math.erf, sympy.erfc: math.erfc,
    sympy.gamma: math.gamma, sympy.sign: lambda v: float((v > 0) - (v < 0)),
}
_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    sympy.StrictLessThan: lambda a, b: a < b, sympy.LessThan: lambda a, b: a <= b,
    sympy.StrictGreaterThan: lambda a, b: a > b, sympy.GreaterThan: lambda a, b: a >= b,
    sympy.Equality: lambda a, b: a == b, sympy.Unequality: lambda a, b: a != b,
}


def _float_constant(expr: sympy.Expr) -> float:
    if expr.is_infinite or expr is sympy.nan:
        raise _Unsupported(expr)
    constant = float(expr)
    if math.isinf(constant):
        raise _Unsupported(expr)
    return constant


def exact_value(value: Any) -> Fraction:
    """A sample point's value or a constant (a sympy Integer, Rational or Float) as the exact
    fraction evalf computes with (a Float's binary value)."""
    if not (value.is_Rational or value.is_Float):
        raise _Unsupported(value)
    rational = sympy.Rational(value)
    return Fraction(int(rational.p), int(rational.q))


@dataclass(frozen=True)
class _Arithmetic:
    """What the one compiler below computes with: machine floats, or exact fractions."""

    constant: Callable[[sympy.Expr], Any]
    total: Callable[[Any], Any]
    functions: dict[type, Callable[[Any], Any]]
    real_powers: bool  # a power with a non-integer exponent (floats only)
    exact: bool  # comparisons are exact: no boundary to leave to evalf


_FLOATS = _Arithmetic(_float_constant, math.fsum, _UNARY, real_powers=True, exact=False)
_FRACTIONS = _Arithmetic(exact_value, sum, {sympy.Abs: abs, sympy.floor: math.floor, sympy.ceiling: math.ceil,
                                           sympy.sign: lambda v: (v > 0) - (v < 0)},
                         real_powers=False, exact=True)


def compile_float(expr: sympy.Basic, symbols: Sequence[sympy.Symbol]) -> FloatFunction | None:
    """A function of the symbols' values in order, or None if the expression has a node it cannot
    evaluate. The function raises Unsettled for a point it cannot decide cleanly."""
    return _compiled(expr, symbols, _FLOATS)


def compile_exact(expr: sympy.Basic, symbols: Sequence[sympy.Symbol]) -> ExactFunction | None:
    """A function of the symbols' exact values in order, or None unless the expression is rational
    (no exp, log, root, trigonometric function or constant such as pi). It raises Unsettled where
    the value is undefined (a pole, no case applies): evalf decides those points."""
    return _compiled(expr, symbols, _FRACTIONS)


def _compiled(expr: sympy.Basic, symbols: Sequence[sympy.Symbol], arithmetic: _Arithmetic
              ) -> Callable[[Any], Any] | None:
    index = {symbol: i for i, symbol in enumerate(symbols)}
    try:
        return _compile(expr, index, arithmetic)
    except (_Unsupported, RecursionError, OverflowError, TypeError, ValueError):
        return None


def _compile(expr: Any, index: dict[sympy.Symbol, int], arithmetic: _Arithmetic) -> Callable[[Any], Any]:
    if expr.is_Symbol:
        if expr not in index:
            raise _Unsupported(expr)
        i = index[expr]
        return lambda v: v[i]
    if expr.is_Number or expr.is_NumberSymbol:
        constant = arithmetic.constant(expr)
        return lambda v: constant
    if expr.is_Add or expr.is_Mul:
        parts = [_compile(arg, index, arithmetic) for arg in expr.args]
        combine = arithmetic.total if expr.is_Add else math.prod
        return lambda v: combine(part(v) for part in parts)
    if expr.is_Pow:
        return _power(expr, index, arithmetic)
    if isinstance(expr, sympy.Piecewise):
        return _piecewise(expr, index, arithmetic)
    if isinstance(expr, sympy.Max | sympy.Min):
        parts = [_compile(arg, index, arithmetic) for arg in expr.args]
        pick = max if isinstance(expr, sympy.Max) else min
        return lambda v: pick(part(v) for part in parts)
    function = arithmetic.functions.get(type(expr)) if len(expr.args) == 1 else None
    if function is not None:
        argument = _compile(expr.args[0], index, arithmetic)
        return lambda v: function(argument(v))
    raise _Unsupported(type(expr).__name__)


def _power(expr: sympy.Pow, index: dict[sympy.Symbol, int], arithmetic: _Arithmetic) -> Callable[[Any], Any]:
    base = _compile(expr.base, index, arithmetic)
    if expr.exp.is_Integer and abs(int(expr.exp)) <= 64:
        n = int(expr.exp)

        def integer_power(v: Any) -> Any:
            b = base(v)
            if b == 0 and n < 0:
                raise Unsettled("pole")
            return b**n

        return integer_power
    if not arithmetic.real_powers:
        raise _Unsupported("a power with a non-integer exponent")
    exponent = _compile(expr.exp, index, arithmetic)

    def power(v: Values) -> float:
        b, e = base(v), exponent(v)
        if b < 0 or (b == 0 and e <= 0):
            raise Unsettled("complex or undefined power")
        return math.pow(b, e)

    return power


def _piecewise(expr: sympy.Piecewise, index: dict[sympy.Symbol, int], arithmetic: _Arithmetic
               ) -> Callable[[Any], Any]:
    pieces = [(_compile(value, index, arithmetic), _condition(condition, index, arithmetic))
              for value, condition in expr.args]

    def piecewise(v: Any) -> Any:
        for value, condition in pieces:
            if condition(v):
                return value(v)
        raise Unsettled("no piece applies")  # evalf gives nan there: the point is undefined

    return piecewise


def _condition(condition: Any, index: dict[sympy.Symbol, int], arithmetic: _Arithmetic
               ) -> Callable[[Any], bool]:
    if condition is sympy.true:
        return lambda v: True
    if condition is sympy.false:
        return lambda v: False
    if isinstance(condition, sympy.And | sympy.Or):
        parts = [_condition(arg, index, arithmetic) for arg in condition.args]
        combine = all if isinstance(condition, sympy.And) else any
        return lambda v: combine(part(v) for part in parts)
    if isinstance(condition, sympy.Not):
        inner = _condition(condition.args[0], index, arithmetic)
        return lambda v: not inner(v)
    compare = _COMPARE.get(type(condition))
    if compare is None:
        raise _Unsupported(type(condition).__name__)
    left, right = _compile(condition.lhs, index, arithmetic), _compile(condition.rhs, index, arithmetic)
    if arithmetic.exact:
        return lambda v: compare(left(v), right(v))

    def relation(v: Values) -> bool:
        a, b = left(v), right(v)
        if abs(a - b) <= BOUNDARY * max(1.0, abs(a), abs(b)):
            raise Unsettled("on the boundary of a condition")
        return compare(a, b)

    return relation


class Screen:
    """An expression's value at sample points: by floats where they settle it, else by evalf."""

    def __init__(self, expr: sympy.Basic, symbols: Sequence[sympy.Symbol],
                 slow: Callable[..., Any]) -> None:
        """`slow(expr, point, precision)`: the value by evalf (None where undefined)."""
        self.expr = expr
        self.symbols = list(symbols)
        self.slow = slow
        self.function = compile_float(expr, self.symbols)

    def __call__(self, point: dict) -> Any:
        if self.function is not None:
            try:
                value = self.function([float(point[s]) for s in self.symbols])
            except (Unsettled, ArithmeticError, ValueError, TypeError, KeyError):
                pass
            else:
                if isinstance(value, float | int) and math.isfinite(value):
                    return float(value)
        return self.slow(self.expr, point)

    @cached_property
    def _exact(self) -> ExactFunction | None:
        return compile_exact(self.expr, self.symbols)

    def confirm(self, point: dict, precision: int) -> Any:
        """The value at a point the floats found suspicious: exact (a Fraction) for a rational
        expression, else by evalf at `precision` digits (None where undefined)."""
        if self._exact is not None:
            try:
                return self._exact([exact_value(point[s]) for s in self.symbols])
            except (Unsettled, _Unsupported, ArithmeticError, ValueError, TypeError, KeyError):
                pass
        return self.slow(self.expr, point, precision)
