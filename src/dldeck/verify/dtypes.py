"""Number formats for mixed-precision cards: sizes and limits as exact rationals.

`dtype_max('fp16') == 65504` is checked exactly, not against a printed float: each floating
format is described by its exponent and mantissa bits and its limits follow from them, as
`torch.finfo` reports them (the tests compare with torch when it is installed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sympy import Integer, Rational

from dldeck.verify.syntax import CheckError
from dldeck.verify.values import Builtin

if TYPE_CHECKING:
    from dldeck.verify.evaluate import Evaluator


@dataclass(frozen=True)
class Format:
    bits: int
    exponent: int = 0  # 0: an integer format
    mantissa: int = 0
    finite_only: bool = False  # e4m3fn: no infinities, the top exponent holds normal numbers (not NaN)

    @property
    def bias(self) -> int:
        return 2 ** (self.exponent - 1) - 1


FORMATS: dict[str, Format] = {
    "fp64": Format(64, 11, 52),
    "fp32": Format(32, 8, 23),
    "fp16": Format(16, 5, 10),
    "bf16": Format(16, 8, 7),
    "fp8_e4m3": Format(8, 4, 3, finite_only=True),
    "fp8_e5m2": Format(8, 5, 2),
    "fp8": Format(8),  # either fp8 format: only its size is defined
    "int32": Format(32),
    "int8": Format(8),
    "uint8": Format(8),
    "int4": Format(4),
}
ALIASES = {
    "float64": "fp64",
    "double": "fp64",
    "float32": "fp32",
    "float": "fp32",
    "float16": "fp16",
    "half": "fp16",
    "bfloat16": "bf16",
    "float8_e4m3fn": "fp8_e4m3",
    "float8_e5m2": "fp8_e5m2",
}


def _format(function: str, args: list[Any], kwargs: dict[str, Any]) -> tuple[str, Format]:
    if kwargs or len(args) != 1 or not isinstance(args[0], str):
        raise CheckError(f"{function}() takes one dtype name as a string, e.g. {function}('fp16')")
    name = ALIASES.get(args[0], args[0])
    if name not in FORMATS:
        known = ", ".join(repr(n) for n in FORMATS)
        raise CheckError(f"{function}(): unknown dtype {args[0]!r} (known: {known})")
    return name, FORMATS[name]


def _floating(function: str, args: list[Any], kwargs: dict[str, Any]) -> Format:
    name, fmt = _format(function, args, kwargs)
    if name == "fp8":
        raise CheckError(f"{function}(): say which fp8: 'fp8_e4m3' or 'fp8_e5m2'")
    if not fmt.exponent:
        raise CheckError(f"{function}(): {name} is an integer format; only dtype_max/dtype_min apply")
    return fmt


def _bytes_per(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    return Rational(_format("bytes_per", args, kwargs)[1].bits, 8)


def _dtype_max(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    name, fmt = _format("dtype_max", args, kwargs)
    if not fmt.exponent:
        if name == "fp8":
            raise CheckError("dtype_max(): say which fp8: 'fp8_e4m3' or 'fp8_e5m2'")
        return Integer(2 ** (fmt.bits - (0 if name.startswith("u") else 1)) - 1)
    if fmt.finite_only:  # all-ones exponent is a normal binade; only mantissa all-ones is NaN
        return (2 - Rational(2, 2**fmt.mantissa)) * Integer(2) ** (fmt.bias + 1)
    return (2 - Rational(1, 2**fmt.mantissa)) * Integer(2) ** fmt.bias


def _dtype_min(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """The most negative value: -max for floats, -2^(bits-1) for signed integers."""
    name, fmt = _format("dtype_min", args, kwargs)
    if fmt.exponent:
        return -_dtype_max(_, args, kwargs)
    if name == "fp8":
        raise CheckError("dtype_min(): say which fp8: 'fp8_e4m3' or 'fp8_e5m2'")
    return Integer(0) if name.startswith("u") else -(Integer(2) ** (fmt.bits - 1))


def _dtype_eps(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    return Rational(1, 2 ** _floating("dtype_eps", args, kwargs).mantissa)


def _dtype_min_normal(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    return Rational(1, 2 ** (_floating("dtype_min_normal", args, kwargs).bias - 1))


def _dtype_min_subnormal(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    fmt = _floating("dtype_min_subnormal", args, kwargs)
    return Rational(1, 2 ** (fmt.bias - 1 + fmt.mantissa))


FUNCTIONS: dict[str, Builtin] = {
    "bytes_per": _bytes_per,
    "dtype_max": _dtype_max,
    "dtype_min": _dtype_min,
    "dtype_eps": _dtype_eps,
    "dtype_min_normal": _dtype_min_normal,
    "dtype_min_subnormal": _dtype_min_subnormal,
}
