"""Matrix values for the check language: Matrix([[a, b], [c, d]]), eye, rotation, det, inverse, ….

RoPE, attention and whitening cards state matrix identities (`transpose(rotation(m*t)) @
rotation(n*t) == rotation((n - m)*t)`); they are decided entry by entry like scalar identities.
Operators on matrices live with the other operators in values.py; every matrix passes
`checked_matrix` (at most 16×16).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sympy

from dldeck.verify.syntax import MAX_MATRIX_SIZE, CheckError
from dldeck.verify.values import Builtin, checked_matrix, describe, dims, expect_expr, is_matrix, simplified

if TYPE_CHECKING:
    from dldeck.verify.evaluate import Evaluator


def _one(name: str, args: list[Any], kwargs: dict[str, Any], count: int = 1) -> list[Any]:
    if kwargs or len(args) != count:
        raise CheckError(f"{name}() takes {count} argument(s)")
    return args


def _matrix_arg(value: Any, name: str) -> sympy.ImmutableMatrix:
    if not is_matrix(value):
        raise CheckError(f"{name}() needs a matrix such as Matrix([[1, 2], [3, 4]]), got {describe(value)}")
    return value


def _square(value: Any, name: str) -> sympy.ImmutableMatrix:
    matrix = _matrix_arg(value, name)
    if matrix.shape[0] != matrix.shape[1]:
        raise CheckError(f"{name}() needs a square matrix, got {dims(matrix)}")
    return matrix


def _vector(value: Any, name: str) -> list[sympy.Expr]:
    """A tuple of numbers, or a matrix with one row or one column."""
    if is_matrix(value):
        if 1 not in value.shape:
            raise CheckError(f"{name}() needs a vector, got a {dims(value)} matrix")
        return list(value)
    if isinstance(value, tuple) and value:
        return [expect_expr(v, f"an entry of {name}()'s vector") for v in value]
    raise CheckError(f"{name}() needs a vector such as (1, 2) or Matrix([1, 2]), got {describe(value)}")


def _size(value: Any, what: str) -> int:
    size = expect_expr(value, what)
    if not (size.is_Integer and 1 <= size <= MAX_MATRIX_SIZE):
        raise CheckError(
            f"{what} must be a literal integer from 1 to {MAX_MATRIX_SIZE}, got {describe(size)}"
        )
    return int(size)


def _matrix(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    (rows,) = _one("Matrix", args, kwargs)
    if not (isinstance(rows, tuple) and rows):
        raise CheckError(
            "Matrix() takes a list of rows, e.g. Matrix([[1, 2], [3, 4]]), or a list for a column"
        )
    if len(rows) > MAX_MATRIX_SIZE:
        raise CheckError(f"matrix of {len(rows)} rows refused (at most {MAX_MATRIX_SIZE}×{MAX_MATRIX_SIZE})")
    if not any(isinstance(row, tuple) for row in rows):
        rows = tuple((entry,) for entry in rows)  # a flat list is a column vector, as in sympy
    if not all(isinstance(row, tuple) for row in rows):
        raise CheckError("Matrix(): every row must be a list, e.g. Matrix([[1, 2], [3, 4]])")
    width = len(rows[0])
    if width == 0 or any(len(row) != width for row in rows):
        raise CheckError(f"Matrix(): rows of different lengths {[len(row) for row in rows]}")
    if width > MAX_MATRIX_SIZE:
        raise CheckError(f"matrix of {width} columns refused (at most {MAX_MATRIX_SIZE}×{MAX_MATRIX_SIZE})")
    entries = [[expect_expr(entry, "a matrix entry") for entry in row] for row in rows]
    return checked_matrix(sympy.Matrix(entries))


def _eye(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    (n,) = _one("eye", args, kwargs)
    return checked_matrix(sympy.eye(_size(n, "eye(n): n")))


def _zeros(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    if kwargs or len(args) not in (1, 2):
        raise CheckError("zeros(n) or zeros(rows, cols)")
    rows = _size(args[0], "zeros(): rows")
    cols = _size(args[-1], "zeros(): cols")
    return checked_matrix(sympy.zeros(rows, cols))


def _rotation(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    (angle,) = _one("rotation", args, kwargs)
    theta = expect_expr(angle, "rotation() angle")
    return checked_matrix(
        sympy.Matrix([[sympy.cos(theta), -sympy.sin(theta)], [sympy.sin(theta), sympy.cos(theta)]])
    )


def _transpose(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    (matrix,) = _one("transpose", args, kwargs)
    return checked_matrix(_matrix_arg(matrix, "transpose").T)


def _det(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    (matrix,) = _one("det", args, kwargs)
    return _square(matrix, "det").det()


def _inverse(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    (matrix,) = _one("inverse", args, kwargs)
    square = _square(matrix, "inverse")
    determinant = simplified(square.det())
    if determinant == 0:
        raise CheckError(f"inverse(): the matrix is singular (its determinant is 0): {describe(square)}")
    return checked_matrix(square.inv())


def _trace(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    (matrix,) = _one("trace", args, kwargs)
    return _square(matrix, "trace").trace()


def _vector_norm(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """Euclidean norm; a matrix counts as its flattened entries (Frobenius), as torch.linalg.vector_norm.

    Named vector_norm, not norm: cards already define their own `norm(x)` (input normalisation).
    """
    (value,) = _one("vector_norm", args, kwargs)
    entries = list(value) if is_matrix(value) else _vector(value, "vector_norm")
    return sympy.sqrt(sum((abs(e) ** 2 if not e.is_real else e**2 for e in entries), sympy.Integer(0)))


def _dot(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    left, right = (_vector(v, "dot") for v in _one("dot", args, kwargs, 2))
    if len(left) != len(right):
        raise CheckError(f"dot() needs two vectors of the same length, got {len(left)} and {len(right)}")
    return sympy.Add(*(a * b for a, b in zip(left, right, strict=True)))


def elementwise(value: Any, function: Any) -> Any:
    """Apply a scalar operation (simplify, expand, subs, diff) to every entry of a matrix."""
    return checked_matrix(value.applyfunc(function))


FUNCTIONS: dict[str, Builtin] = {
    "Matrix": _matrix,
    "eye": _eye,
    "zeros": _zeros,
    "rotation": _rotation,
    "transpose": _transpose,
    "det": _det,
    "inverse": _inverse,
    "trace": _trace,
    "vector_norm": _vector_norm,
    "dot": _dot,
}
