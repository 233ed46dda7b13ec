"""Fast float screening of sample points: a sympy expression compiled once into nested closures.

The numeric fallback evaluates a claim at up to 1,201 points; sympy's `evalf` costs about a
millisecond a point (far more through a `Piecewise`), which made a handful of conditional claims
most of a cold build's verification time. Screening with machine floats is a few microseconds a
point. It only screens: a point where the float value is suspicious is confirmed by `evalf` at high
precision by the caller, and any point the floats cannot settle cleanly — an overflow, a domain
error, a complex intermediate, a condition decided within rounding of its boundary — is handed to
`evalf` as before, so a verdict never rests on float rounding. An expression with a node this
module does not know (a derivative, an integral, an undefined function) is not compiled at all.

Nothing is generated as source text and executed: the closures are built by walking the tree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import sympy

Values = Sequence[float]
FloatFunction = Callable[[Values], float]

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
_COMPARE: dict[type, Callable[[float, float], bool]] = {
    sympy.StrictLessThan: lambda a, b: a < b, sympy.LessThan: lambda a, b: a <= b,
    sympy.StrictGreaterThan: lambda a, b: a > b, sympy.GreaterThan: lambda a, b: a >= b,
    sympy.Equality: lambda a, b: a == b, sympy.Unequality: lambda a, b: a != b,
}


def compile_float(expr: sympy.Basic, symbols: Sequence[sympy.Symbol]) -> FloatFunction | None:
    """A function of the symbols' values in order, or None if the expression has a node it cannot
    evaluate. The function raises Unsettled for a point it cannot decide cleanly."""
    index = {symbol: i for i, symbol in enumerate(symbols)}
    try:
        return _compile(expr, index)
    except (_Unsupported, RecursionError, OverflowError, TypeError, ValueError):
        return None


def _compile(expr: Any, index: dict[sympy.Symbol, int]) -> Callable[[Values], Any]:
    if expr.is_Symbol:
        if expr not in index:
            raise _Unsupported(expr)
        i = index[expr]
        return lambda v: v[i]
    if expr.is_Number or expr.is_NumberSymbol:
        if expr.is_infinite or expr is sympy.nan:
            raise _Unsupported(expr)
        constant = float(expr)
        if math.isinf(constant):
            raise _Unsupported(expr)
        return lambda v: constant
    if expr.is_Add:
        parts = [_compile(arg, index) for arg in expr.args]
        return lambda v: math.fsum(part(v) for part in parts)
    if expr.is_Mul:
        parts = [_compile(arg, index) for arg in expr.args]
        return lambda v: math.prod(part(v) for part in parts)
    if expr.is_Pow:
        return _power(expr, index)
    if isinstance(expr, sympy.Piecewise):
        return _piecewise(expr, index)
    if isinstance(expr, sympy.Max | sympy.Min):
        parts = [_compile(arg, index) for arg in expr.args]
        pick = max if isinstance(expr, sympy.Max) else min
        return lambda v: pick(part(v) for part in parts)
    function = _UNARY.get(type(expr)) if len(expr.args) == 1 else None
    if function is not None:
        argument = _compile(expr.args[0], index)
        return lambda v: function(argument(v))
    raise _Unsupported(type(expr).__name__)


def _power(expr: sympy.Pow, index: dict[sympy.Symbol, int]) -> Callable[[Values], float]:
    base = _compile(expr.base, index)
    if expr.exp.is_Integer and abs(int(expr.exp)) <= 64:
        n = int(expr.exp)

        def integer_power(v: Values) -> float:
            b = base(v)
            if b == 0 and n < 0:
                raise Unsettled("pole")
            return b**n

        return integer_power
    exponent = _compile(expr.exp, index)

    def power(v: Values) -> float:
        b, e = base(v), exponent(v)
        if b < 0 or (b == 0 and e <= 0):
            raise Unsettled("complex or undefined power")
        return math.pow(b, e)

    return power


def _piecewise(expr: sympy.Piecewise, index: dict[sympy.Symbol, int]) -> Callable[[Values], float]:
    pieces = [(_compile(value, index), _condition(condition, index)) for value, condition in expr.args]

    def piecewise(v: Values) -> float:
        for value, condition in pieces:
            if condition(v):
                return value(v)
        raise Unsettled("no piece applies")  # evalf gives nan there: the point is undefined

    return piecewise


def _condition(condition: Any, index: dict[sympy.Symbol, int]) -> Callable[[Values], bool]:
    if condition is sympy.true:
        return lambda v: True
    if condition is sympy.false:
        return lambda v: False
    if isinstance(condition, sympy.And | sympy.Or):
        parts = [_condition(arg, index) for arg in condition.args]
        combine = all if isinstance(condition, sympy.And) else any
        return lambda v: combine(part(v) for part in parts)
    if isinstance(condition, sympy.Not):
        inner = _condition(condition.args[0], index)
        return lambda v: not inner(v)
    compare = _COMPARE.get(type(condition))
    if compare is None:
        raise _Unsupported(type(condition).__name__)
    left, right = _compile(condition.lhs, index), _compile(condition.rhs, index)

    def relation(v: Values) -> bool:
        a, b = left(v), right(v)
        if abs(a - b) <= BOUNDARY * max(1.0, abs(a), abs(b)):
            raise Unsettled("on the boundary of a condition")
        return compare(a, b)

    return relation


class Screen:
    """An expression's value at sample points: by floats where they settle it, else by evalf."""

    def __init__(self, expr: sympy.Basic, symbols: Sequence[sympy.Symbol],
                 slow: Callable[[sympy.Basic, dict], Any]) -> None:
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
