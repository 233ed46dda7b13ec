"""Pooling: MaxPool, AvgPool and the adaptive pools."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import sympy
from sympy import Integer

from dldeck.verify.layers.base import (
    REQUIRED,
    Layer,
    bind,
    decided,
    dilated_window,
    flag,
    label_of,
    must_be_positive_size,
    nonnegative,
    per_dim,
    positive,
    spatial_input,
)
from dldeck.verify.syntax import CheckError
from dldeck.verify.values import Builtin, short

if TYPE_CHECKING:
    from dldeck.verify.evaluate import Evaluator


@dataclass(frozen=True)
class Pool(Layer):
    dims: int
    kernel: tuple
    stride: tuple
    padding: tuple
    dilation: tuple
    ceil_mode: bool

    def output_shape(self, shape: tuple) -> tuple:
        shape = spatial_input(shape, self.dims, self.label)
        lead, spatial = shape[: -self.dims], shape[-self.dims :]
        return (*lead, *(self._size(i, length) for i, length in enumerate(spatial)))

    def _size(self, i: int, length: sympy.Expr) -> sympy.Expr:
        k, s, p, d = self.kernel[i], self.stride[i], self.padding[i], self.dilation[i]
        span = length + 2 * p - d * (k - 1) - 1
        if not self.ceil_mode:
            size = sympy.floor(span / s) + 1
        else:
            size = sympy.ceiling(span / s) + 1
            # PyTorch drops a last window that would start in the right padding.
            starts_in_padding = sympy.Ge((size - 1) * s, length + p)
            verdict = decided(starts_in_padding)
            if verdict is True:
                size -= 1
            elif verdict is None:
                size = sympy.Piecewise((size - 1, starts_in_padding), (size, True))
        must_be_positive_size(size, self.label, length)
        return size

    def window(self) -> tuple[tuple, tuple]:
        return dilated_window(self.kernel, self.dilation, self.stride)


@dataclass(frozen=True)
class AdaptivePool(Layer):
    mixes_positions: ClassVar[bool] = True

    dims: int
    output_size: tuple

    def output_shape(self, shape: tuple) -> tuple:
        shape = spatial_input(shape, self.dims, self.label)
        lead, spatial = shape[: -self.dims], shape[-self.dims :]
        out = tuple(
            length if size is None else size for length, size in zip(spatial, self.output_size, strict=True)
        )
        return (*lead, *out)


def _pool(kind: str, dims: int) -> Builtin:
    name = f"{kind}Pool{dims}d"
    if kind == "Max":
        signature = [
            ("kernel_size", REQUIRED),
            ("stride", None),
            ("padding", Integer(0)),
            ("dilation", Integer(1)),
            ("return_indices", False),
            ("ceil_mode", False),
        ]
    else:
        signature = [
            ("kernel_size", REQUIRED),
            ("stride", None),
            ("padding", Integer(0)),
            ("ceil_mode", False),
            ("count_include_pad", True),
        ]
        if dims > 1:
            signature.append(("divisor_override", None))

    def make(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Layer:
        label = label_of(name, args, kwargs)
        a = bind(name, signature, args, kwargs)
        kernel = per_dim(a["kernel_size"], dims, "kernel_size", label)
        stride = kernel if a["stride"] is None else per_dim(a["stride"], dims, "stride", label)
        padding = per_dim(a["padding"], dims, "padding", label, nonnegative)
        dilation = per_dim(a.get("dilation", Integer(1)), dims, "dilation", label)
        for p, k in zip(padding, kernel, strict=True):
            if decided(sympy.Gt(2 * p, k)):
                raise CheckError(
                    f"{label}: pad should be at most half of kernel size "
                    f"(padding={short(p)}, kernel_size={short(k)})"
                )
        ceil_mode = flag(a["ceil_mode"], "ceil_mode", label)
        for key in ("return_indices", "count_include_pad"):
            if key in a:
                flag(a[key], key, label)
        return Pool(label, dims, kernel, stride, padding, dilation, ceil_mode)

    return make


def _adaptive(kind: str, dims: int) -> Builtin:
    name = f"Adaptive{kind}Pool{dims}d"
    signature = [("output_size", REQUIRED)] + ([("return_indices", False)] if kind == "Max" else [])

    def make(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Layer:
        label = label_of(name, args, kwargs)
        a = bind(name, signature, args, kwargs)
        size = a["output_size"]
        entries = size if isinstance(size, tuple) else (size,) * dims
        if len(entries) != dims:
            raise CheckError(f"{label}: output_size must be an int or a tuple of {dims}")
        checked = tuple(None if e is None else positive(e, "output_size", label) for e in entries)
        return AdaptivePool(label, dims, checked)

    return make


FUNCTIONS: dict[str, Builtin] = {
    **{f"{kind}Pool{d}d": _pool(kind, d) for kind in ("Max", "Avg") for d in (1, 2, 3)},
    **{f"Adaptive{kind}Pool{d}d": _adaptive(kind, d) for kind in ("Max", "Avg") for d in (1, 2, 3)},
}
