"""Operators over evaluated values and the guards that keep them small.

Shared by the evaluator, the built-in library and the layer arithmetic, none of which needs the
others to compute `a + b` safely or to describe a value in a message.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sympy

from dldeck.verify.syntax import MAX_MATRIX_SIZE, MAX_POWER_EXPONENT, MAX_RESULT_BITS, CheckError

if TYPE_CHECKING:  # annotations only: the evaluator imports the library, which imports this module
    from dldeck.verify.evaluate import Evaluator

Builtin = Callable[["Evaluator", list[Any], dict[str, Any]], Any]


@functools.lru_cache(maxsize=1024)
def _simplified(expr: sympy.Basic) -> sympy.Basic:
    return sympy.simplify(expr)


def simplified(expr: Any) -> Any:
    """`sympy.simplify`, remembered by the worker process: cards restate the same expressions (a
    sigmoid's derivative, a softmax's sum) and simplifying one again cost about a tenth of verifying
    the real content. Expressions are immutable and compare structurally, assumptions included."""
    if isinstance(expr, sympy.Basic) and not is_matrix(expr):
        return _simplified(expr)
    return sympy.simplify(expr)


def expect_expr(value: Any, what: str) -> sympy.Expr:
    if isinstance(value, sympy.Expr):
        return value
    raise CheckError(f"{what} must be a number or expression, got {describe(value)}")


def short(value: Any, limit: int = 60) -> str:
    """A value as an author reads it, cut to one short line."""
    text = sympy.sstr(value) if isinstance(value, sympy.Basic) else str(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_matrix(value: Any) -> bool:
    return isinstance(value, sympy.MatrixBase)


def checked_matrix(value: sympy.MatrixBase) -> sympy.ImmutableMatrix:
    """Every matrix value passes here: at most MAX_MATRIX_SIZE rows and columns, entries size-checked."""
    rows, cols = value.shape
    if rows > MAX_MATRIX_SIZE or cols > MAX_MATRIX_SIZE:
        raise CheckError(f"matrix of {rows}×{cols} refused (at most {MAX_MATRIX_SIZE}×{MAX_MATRIX_SIZE})")
    for entry in value:
        check_size(entry)
    return sympy.ImmutableMatrix(value)


def dims(value: sympy.MatrixBase) -> str:
    return f"{value.shape[0]}×{value.shape[1]}"


def describe(value: Any) -> str:
    if is_matrix(value):
        return f"a {dims(value)} matrix"
    if isinstance(value, bool):
        return f"the boolean {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, tuple):
        return f"a tuple of {len(value)}"
    if isinstance(value, sympy.Basic):
        return short(value)
    return type(value).__name__


def check_size(value: Any) -> Any:
    if isinstance(value, sympy.Rational):
        bits = max(int(value.p).bit_length(), int(value.q).bit_length())
        if bits > MAX_RESULT_BITS:
            raise CheckError(f"number too large (over {MAX_RESULT_BITS} bits): refused")
    return value


def guarded_pow(base: sympy.Expr, exponent: sympy.Expr) -> sympy.Expr:
    """Refuse powers that would take sympy minutes or gigabytes before computing them."""
    if exponent.is_Number:
        if exponent.is_finite and abs(exponent) > MAX_POWER_EXPONENT:
            raise CheckError(f"exponent {short(exponent)} is too large (limit {MAX_POWER_EXPONENT})")
        if base.is_Rational and exponent.is_Rational:
            base_bits = max(int(base.p).bit_length(), int(base.q).bit_length())  # type: ignore[attr-defined]
            if base_bits * abs(float(exponent)) > MAX_RESULT_BITS:
                raise CheckError(f"power too large: {short(base)}**{short(exponent)} refused")
    elif isinstance(exponent, sympy.Pow) and isinstance(exponent.exp, sympy.Pow):
        raise CheckError("power tower refused")
    return check_size(base**exponent)


_SYMBOLS = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Pow: "**",
    ast.Mod: "%",
    ast.FloorDiv: "//",
    ast.MatMult: "@",
}


def binary(op: ast.operator, left: Any, right: Any, product: bool = False) -> Any:
    """`product`: a `*` written as a product in TeX (`AB`, `A \\cdot B`), which of two matrices is their
    matrix product; a check line's `*` of two matrices is refused (write `@`)."""
    symbol = _SYMBOLS[type(op)]
    if product and isinstance(op, ast.Mult) and is_matrix(left) and is_matrix(right):
        op, symbol = ast.MatMult(), "@"
    if is_matrix(left) or is_matrix(right) or isinstance(op, ast.MatMult):
        return checked_matrix(_matrix_binary(op, symbol, left, right))
    a = expect_expr(left, f"left operand of {symbol}")
    b = expect_expr(right, f"right operand of {symbol}")
    if isinstance(op, ast.Add):
        return check_size(a + b)
    if isinstance(op, ast.Sub):
        return check_size(a - b)
    if isinstance(op, ast.Mult):
        return check_size(a * b)
    if isinstance(op, ast.Div):
        return check_size(a / b)
    if isinstance(op, ast.Pow):
        return guarded_pow(a, b)
    if isinstance(op, ast.Mod):
        return sympy.Mod(a, b)
    return sympy.floor(a / b)


MAX_MATRIX_POWER = 64


def _matrix_binary(op: ast.operator, symbol: str, left: Any, right: Any) -> sympy.MatrixBase:
    """+ - between equal shapes, * and / by a scalar, @ for products, ** by a literal integer."""
    both = is_matrix(left) and is_matrix(right)
    what = f"{describe(left)} {symbol} {describe(right)}"
    if isinstance(op, ast.MatMult):
        if not both:
            raise CheckError(f"@ multiplies two matrices, got {what}")
        if left.shape[1] != right.shape[0]:
            raise CheckError(f"matrix product needs (a×b) @ (b×c), got {dims(left)} @ {dims(right)}")
        return left @ right
    if isinstance(op, ast.Add | ast.Sub):
        if not both or left.shape != right.shape:
            raise CheckError(f"{symbol} needs two matrices of the same shape, got {what}")
        return left + right if isinstance(op, ast.Add) else left - right
    if isinstance(op, ast.Mult):
        if both:
            raise CheckError(f"* of two matrices is ambiguous: write A @ B for the product ({what})")
        scalar = expect_expr(right if is_matrix(left) else left, "the factor of a matrix")
        return (left if is_matrix(left) else right) * scalar
    if isinstance(op, ast.Div) and is_matrix(left) and not is_matrix(right):
        return left / expect_expr(right, "the divisor of a matrix")
    if isinstance(op, ast.Pow) and is_matrix(left) and not is_matrix(right):
        exponent = expect_expr(right, "the power of a matrix")
        if not (exponent.is_Integer and abs(exponent) <= MAX_MATRIX_POWER):
            raise CheckError(
                f"a matrix power must be a literal integer up to {MAX_MATRIX_POWER}, got {short(exponent)}"
            )
        if left.shape[0] != left.shape[1]:
            raise CheckError(f"only a square matrix has powers, got {dims(left)}")
        return left ** int(exponent)
    raise CheckError(f"{symbol} is not defined for {what}")


def negate(value: Any) -> Any:
    if is_matrix(value):
        return -value
    return -expect_expr(value, "operand of unary minus")


def relation(op: ast.cmpop, left: Any, right: Any) -> Any:
    """A comparison inside an expression (e.g. a Piecewise condition) becomes a sympy relational."""
    if isinstance(op, ast.Eq | ast.NotEq):
        if not (isinstance(left, sympy.Basic) and isinstance(right, sympy.Basic)):
            same = left == right
            return sympy.true if same == isinstance(op, ast.Eq) else sympy.false
        return sympy.Eq(left, right) if isinstance(op, ast.Eq) else sympy.Ne(left, right)
    a = expect_expr(left, "left side of a comparison")
    b = expect_expr(right, "right side of a comparison")
    return {ast.Lt: sympy.Lt, ast.LtE: sympy.Le, ast.Gt: sympy.Gt, ast.GtE: sympy.Ge}[type(op)](a, b)


def logical_not(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, sympy.Basic) and value.is_Boolean:  # type: ignore[attr-defined]
        return sympy.Not(value)
    raise CheckError(f"`not` needs a condition, got {describe(value)}")
