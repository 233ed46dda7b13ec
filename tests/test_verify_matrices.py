"""Matrices and number formats in the check language.

Matrix identities are decided entry by entry (RoPE's relative-position property must be proved
symbolically); dtype limits are compared with values built from the formats' bit patterns by
`struct`, not with the formulas in dldeck.verify.dtypes.
"""

from __future__ import annotations

import random
import struct

import pytest
import sympy

from dldeck.errors import BuildError
from dldeck.model import SourceSpan
from dldeck.verify.language import Scope, evaluate_expression
from test_verify_claims import make_card, only, verify

SPAN = SourceSpan("matrix.md", 9)


def value(text: str, scope: Scope | None = None) -> object:
    return evaluate_expression(text, scope or Scope(), SPAN)


def refused(text: str) -> str:
    with pytest.raises(BuildError) as caught:
        value(text)
    message = str(caught.value)
    assert message.startswith("matrix.md:9: ")
    return message


ROPE = """\
assume m, n, t: real
transpose(rotation(m*t)) @ rotation(n*t) == rotation((n - m)*t)
det(rotation(t)) == 1
inverse(rotation(t)) == transpose(rotation(t))
simplify(rotation(t) @ rotation(-t)) == eye(2)
rotation(m*t) @ rotation(n*t) == rotation((m + n)*t)
vector_norm(rotation(t) @ Matrix([3, 4])) == 5
dot(rotation(t) @ Matrix([1, 0]), rotation(t) @ Matrix([0, 1])) == 0
"""


def test_rope_rotation_identities_are_proved_symbolically():
    report = verify(make_card("rope", (1, ROPE)))
    assert report.ok, report.diagnostics
    assert [r.status for r in report.results] == ["symbolic"] * 7


def test_matrix_algebra_on_numbers():
    source = """\
A := Matrix([[1, 2], [3, 4]])
B := Matrix([[0, 1], [1, 0]])
A @ inverse(A) == eye(2)
det(A) == -2
trace(A) == 5
A[1, 0] == 3
A[-1, -1] == 4
Matrix([5, 6])[1] == 6
2*A - A == A
A / 2 == Matrix([[1/2, 1], [3/2, 2]])
A**2 == A @ A
A**-1 == inverse(A)
A @ B != B @ A
transpose(A @ B) == transpose(B) @ transpose(A)
det(A @ B) == det(A)*det(B)
zeros(2, 3) == Matrix([[0, 0, 0], [0, 0, 0]])
dot((1, 2, 3), (4, 5, 6)) == 32
vector_norm((3, 4)) == 5
-A == Matrix([[-1, -2], [-3, -4]])
"""
    report = verify(make_card("algebra", (1, source)))
    assert report.ok, report.diagnostics
    assert all(r.status == "symbolic" for r in report.results)


def test_a_wrong_matrix_claim_names_the_first_differing_entry():
    report = verify(make_card("wrong", (1, "assume t: real\nrotation(t) @ rotation(t) == rotation(t)\n")))
    result = only(report, 3)
    assert result.status == "failed"
    assert "entry [0, 0]" in result.message and "at t=" in result.message
    report = verify(make_card("shape", (1, "eye(2) == eye(3)\nMatrix([1, 2]) == (1, 2)\n")))
    assert "a 2×2 matrix, right side a 3×3 matrix" in only(report, 2).message
    assert only(report, 3).status == "failed"


def test_generated_products_match_hand_multiplication():
    rng = random.Random(16)
    for _ in range(60):
        a, b, c = rng.randint(1, 4), rng.randint(1, 4), rng.randint(1, 4)
        left = [[rng.randint(-5, 5) for _ in range(b)] for _ in range(a)]
        right = [[rng.randint(-5, 5) for _ in range(c)] for _ in range(b)]
        expected = [[sum(left[i][k] * right[k][j] for k in range(b)) for j in range(c)] for i in range(a)]
        product = value(f"Matrix({left}) @ Matrix({right})")
        assert [[int(product[i, j]) for j in range(c)] for i in range(a)] == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("Matrix([[1, 2], [3, 4]]) @ Matrix([[1, 2, 3]])", "needs (a×b) @ (b×c), got 2×2 @ 1×3"),
        ("Matrix([[1, 2], [3, 4]]) * Matrix([[1, 0], [0, 1]])", "write A @ B for the product"),
        ("Matrix([[1, 2], [3, 4]]) + 1", "two matrices of the same shape"),
        ("2 @ 3", "@ multiplies two matrices"),
        ("eye(17)", "from 1 to 16"),
        ("zeros(16) @ zeros(16)", ""),
        ("Matrix([[1, 2], [3]])", "rows of different lengths"),
        ("det(Matrix([[1, 2, 3]]))", "needs a square matrix"),
        ("inverse(Matrix([[1, 2], [2, 4]]))", "singular"),
        ("Matrix([[1, 2], [3, 4]])[2, 0]", "row index 2 out of range"),
        ("Matrix([[1, 2], [3, 4]])[0]", "takes two indices"),
        ("(1, 2)[0, 1]", "a tuple takes one index"),
        ("Matrix([[1, 2], [3, 4]])**100", "literal integer up to 64"),
        ("Matrix([[1, 2], [3, 4]])[x, 0]", "only indexing with literal integers"),
        ("dot((1, 2), (1, 2, 3))", "same length"),
        ("transpose(3)", "needs a matrix"),
    ],
)
def test_matrix_misuse_is_refused_with_a_reason(text: str, fragment: str):
    if not fragment:  # 16×16 is the limit, and allowed
        assert value(f"det({text})") == 0
        return
    assert fragment in refused(text)


def test_matrix_size_limit():
    rows = [[1] * 17]
    assert "at most 16×16" in refused(f"Matrix({rows})")
    assert "at most 16×16" in refused(f"Matrix({[[1]] * 17})")
    assert value(f"trace(Matrix({[[1] * 16] * 16}))") == 16


def test_symbolic_entries_and_elementwise_helpers():
    scope = Scope()
    t = scope.symbol("t")
    derivative = value("diff(rotation(t), t)", scope)
    assert sympy.simplify(derivative[0, 0] + sympy.sin(t)) == 0
    assert value("subs(rotation(t), t, 0)", scope) == sympy.eye(2)
    assert value("expand(Matrix([(t + 1)**2]))", scope)[0] == t**2 + 2 * t + 1


# --------------------------------------------------------------------------- dtypes


def from_bits(fmt: str, bits: int) -> float:
    """A float from its bit pattern: 'e' is IEEE half, 'f' single, 'd' double; bf16 is the top half of
    a single."""
    if fmt == "bf16":
        return struct.unpack(">f", struct.pack(">I", bits << 16))[0]
    size = {"e": "H", "f": "I", "d": "Q"}[fmt]
    return struct.unpack(f">{fmt}", struct.pack(f">{size}", bits))[0]


@pytest.mark.parametrize(
    ("name", "fmt", "largest", "smallest_normal", "smallest", "one_plus_eps"),
    [
        ("fp16", "e", 0x7BFF, 0x0400, 0x0001, 0x3C01),
        ("bf16", "bf16", 0x7F7F, 0x0080, 0x0001, 0x3F81),
        ("fp32", "f", 0x7F7FFFFF, 0x00800000, 0x00000001, 0x3F800001),
        ("fp64", "d", 0x7FEFFFFFFFFFFFFF, 0x0010000000000000, 0x1, 0x3FF0000000000001),
    ],
)
def test_float_limits_match_bit_patterns(
    name: str, fmt: str, largest: int, smallest_normal: int, smallest: int, one_plus_eps: int
):
    assert value(f"dtype_max('{name}')") == sympy.Rational(from_bits(fmt, largest))
    assert value(f"dtype_min('{name}')") == -sympy.Rational(from_bits(fmt, largest))
    assert value(f"dtype_min_normal('{name}')") == sympy.Rational(from_bits(fmt, smallest_normal))
    assert value(f"dtype_min_subnormal('{name}')") == sympy.Rational(from_bits(fmt, smallest))
    assert value(f"dtype_eps('{name}')") == sympy.Rational(from_bits(fmt, one_plus_eps)) - 1


def test_dtype_sizes_and_named_values():
    assert value("dtype_max('fp16')") == 65504
    assert value("dtype_max('bf16')") == (2 - sympy.Rational(1, 2**7)) * 2**127
    assert value("dtype_max('fp8_e4m3')") == 448 and value("dtype_max('fp8_e5m2')") == 57344
    assert value("dtype_max('int8')") == 127 and value("dtype_min('int8')") == -128
    assert value("dtype_max('int4')") == 7 and value("dtype_max('uint8')") == 255
    sizes = {"fp32": 4, "float32": 4, "fp16": 2, "half": 2, "bf16": 2, "int8": 1, "fp8": 1, "int4": 0.5}
    for name, size in sizes.items():
        assert value(f"bytes_per('{name}')") == sympy.Rational(str(size))
    assert "unknown dtype 'fp12'" in refused("bytes_per('fp12')")
    assert "say which fp8" in refused("dtype_max('fp8')")
    assert "integer format" in refused("dtype_eps('int8')")
    assert "as a string" in refused("dtype_max(16)")
