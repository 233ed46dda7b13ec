"""Convolutions: Conv1d/2d/3d and ConvTranspose1d/2d/3d."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import sympy
from sympy import Integer

from dldeck.verify.layers.base import (
    REQUIRED,
    Layer,
    bind,
    conv_input,
    conv_out,
    decided,
    dilated_window,
    divisible,
    flag,
    label_of,
    must_be_positive_size,
    nonnegative,
    per_dim,
    positive,
    product,
)
from dldeck.verify.syntax import CheckError
from dldeck.verify.values import Builtin, short

if TYPE_CHECKING:
    from dldeck.verify.evaluate import Evaluator


@dataclass(frozen=True)
class Conv(Layer):
    dims: int
    in_channels: sympy.Expr
    out_channels: sympy.Expr
    kernel: tuple
    stride: tuple
    padding: tuple | str
    dilation: tuple
    groups: sympy.Expr
    bias: bool
    padding_mode: str = "zeros"

    def params(self) -> sympy.Expr:
        weight = self.out_channels * self.in_channels / self.groups * product(self.kernel)
        return weight + (self.out_channels if self.bias else 0)

    def output_shape(self, shape: tuple) -> tuple:
        lead, spatial = conv_input(shape, self.dims, self.in_channels, self.label)
        out = []
        for i, length in enumerate(spatial):
            if self.padding == "same":
                size = length
                total = self.dilation[i] * (self.kernel[i] - 1)  # torch pads total//2 left, the rest right
                sides = (sympy.floor(total / 2), total - sympy.floor(total / 2))
            else:
                assert isinstance(self.padding, tuple)
                size = conv_out(length, self.kernel[i], self.stride[i], self.padding[i], self.dilation[i])
                sides = (self.padding[i], self.padding[i])
            for pad in sides:
                self._check_padding_mode(pad, length, shape)
            must_be_positive_size(size, self.label, length)
            out.append(size)
        return (*lead, self.out_channels, *out)

    def _check_padding_mode(self, pad: sympy.Expr, length: sympy.Expr, shape: tuple) -> None:
        """reflect needs padding < the input size, circular at most the input size (torch's F.pad)."""
        if self.padding_mode == "reflect" and decided(sympy.Ge(pad, length)):
            raise CheckError(
                f"{self.label}: padding size should be less than the corresponding input dimension, "
                f"but got padding {short(pad)} for input size {short(length)} of {short(shape)} "
                "(reflect padding)"
            )
        if self.padding_mode == "circular" and decided(sympy.Gt(pad, length)):
            raise CheckError(
                f"{self.label}: padding value causes wrapping around more than once "
                f"(padding {short(pad)}, input size {short(length)}, circular padding)"
            )

    def flops(self, shape: tuple) -> sympy.Expr:
        out = self.output_shape(shape)
        batch = shape[0] if len(shape) == self.dims + 2 else 1
        spatial = out[-self.dims :]
        return (
            2
            * batch
            * product(spatial)
            * self.out_channels
            * self.in_channels
            / self.groups
            * product(self.kernel)
        )

    def window(self) -> tuple[tuple, tuple]:
        return dilated_window(self.kernel, self.dilation, self.stride)


@dataclass(frozen=True)
class ConvTranspose(Layer):
    mixes_positions: ClassVar[bool] = True

    dims: int
    in_channels: sympy.Expr
    out_channels: sympy.Expr
    kernel: tuple
    stride: tuple
    padding: tuple
    output_padding: tuple
    groups: sympy.Expr
    bias: bool
    dilation: tuple

    def params(self) -> sympy.Expr:
        weight = self.in_channels * self.out_channels / self.groups * product(self.kernel)
        return weight + (self.out_channels if self.bias else 0)

    def output_shape(self, shape: tuple) -> tuple:
        lead, spatial = conv_input(shape, self.dims, self.in_channels, self.label)
        out = []
        for i, length in enumerate(spatial):
            size = (
                (length - 1) * self.stride[i]
                - 2 * self.padding[i]
                + self.dilation[i] * (self.kernel[i] - 1)
                + self.output_padding[i]
                + 1
            )
            must_be_positive_size(size, self.label, length)
            out.append(sympy.expand(size))
        return (*lead, self.out_channels, *out)

    def flops(self, shape: tuple) -> sympy.Expr:
        """torch counts a transposed convolution over the input grid: 2·N·C_in·C_out/g·Πk·Π(input)."""
        self.output_shape(shape)
        batch = shape[0] if len(shape) == self.dims + 2 else 1
        spatial = shape[-self.dims :]
        return (
            2
            * batch
            * product(spatial)
            * self.in_channels
            * self.out_channels
            / self.groups
            * product(self.kernel)
        )


def _conv(dims: int) -> Builtin:
    name = f"Conv{dims}d"
    signature = [
        ("in_channels", REQUIRED),
        ("out_channels", REQUIRED),
        ("kernel_size", REQUIRED),
        ("stride", Integer(1)),
        ("padding", Integer(0)),
        ("dilation", Integer(1)),
        ("groups", Integer(1)),
        ("bias", True),
        ("padding_mode", "zeros"),
    ]

    def make(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Layer:
        label = label_of(name, args, kwargs)
        a = bind(name, signature, args, kwargs)
        in_channels, out_channels, groups, kernel, stride, dilation = _common(a, dims, label)
        if a["padding_mode"] not in ("zeros", "reflect", "replicate", "circular"):
            raise CheckError(
                f"{label}: padding_mode must be one of 'zeros', 'reflect', 'replicate', 'circular', "
                f"but got padding_mode={a['padding_mode']!r}"
            )
        padding: tuple | str
        if isinstance(a["padding"], str):
            if a["padding"] not in ("same", "valid"):
                raise CheckError(
                    f"{label}: invalid padding string {a['padding']!r}, should be 'valid' or 'same'"
                )
            if a["padding"] == "same" and any(decided(sympy.Ne(s, 1)) for s in stride):
                raise CheckError(f"{label}: padding='same' is not supported for strided convolutions")
            padding = "same" if a["padding"] == "same" else (Integer(0),) * dims
        else:
            padding = per_dim(a["padding"], dims, "padding", label, nonnegative)
        return Conv(
            label,
            dims,
            in_channels,
            out_channels,
            kernel,
            stride,
            padding,
            dilation,
            groups,
            flag(a["bias"], "bias", label),
            a["padding_mode"],
        )

    return make


def _common(a: dict, dims: int, label: str) -> tuple:
    """in_channels, out_channels, groups, kernel, stride, dilation: checked as torch checks them."""
    in_channels = positive(a["in_channels"], "in_channels", label)
    out_channels = positive(a["out_channels"], "out_channels", label)
    groups = positive(a["groups"], "groups", label)
    _check_groups(in_channels, out_channels, groups, label)
    kernel = per_dim(a["kernel_size"], dims, "kernel_size", label)
    stride = per_dim(a["stride"], dims, "stride", label)
    dilation = per_dim(a["dilation"], dims, "dilation", label)
    return in_channels, out_channels, groups, kernel, stride, dilation


def _check_groups(in_channels: sympy.Expr, out_channels: sympy.Expr, groups: sympy.Expr, label: str) -> None:
    if divisible(in_channels, groups) is False:
        raise CheckError(
            f"{label}: in_channels must be divisible by groups ({short(in_channels)} % {short(groups)} != 0)"
        )
    if divisible(out_channels, groups) is False:
        raise CheckError(
            f"{label}: out_channels must be divisible by groups "
            f"({short(out_channels)} % {short(groups)} != 0)"
        )


def _conv_transpose(dims: int) -> Builtin:
    name = f"ConvTranspose{dims}d"
    signature = [
        ("in_channels", REQUIRED),
        ("out_channels", REQUIRED),
        ("kernel_size", REQUIRED),
        ("stride", Integer(1)),
        ("padding", Integer(0)),
        ("output_padding", Integer(0)),
        ("groups", Integer(1)),
        ("bias", True),
        ("dilation", Integer(1)),
        ("padding_mode", "zeros"),
    ]

    def make(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Layer:
        label = label_of(name, args, kwargs)
        a = bind(name, signature, args, kwargs)
        in_channels, out_channels, groups, kernel, stride, dilation = _common(a, dims, label)
        if isinstance(a["padding"], str):
            raise CheckError(
                f"{label}: {name} only supports padding as an int or a tuple, not {a['padding']!r}"
            )
        if a["padding_mode"] != "zeros":
            raise CheckError(f"{label}: only 'zeros' padding mode is supported for {name}")
        padding = per_dim(a["padding"], dims, "padding", label, nonnegative)
        output_padding = per_dim(a["output_padding"], dims, "output_padding", label, nonnegative)
        for op, s, d in zip(output_padding, stride, dilation, strict=True):
            if decided(sympy.Ge(op, s)) and decided(sympy.Ge(op, d)):
                raise CheckError(
                    f"{label}: output padding must be smaller than either stride or dilation "
                    f"(output_padding={short(op)}, stride={short(s)}, dilation={short(d)})"
                )
        return ConvTranspose(
            label,
            dims,
            in_channels,
            out_channels,
            kernel,
            stride,
            padding,
            output_padding,
            groups,
            flag(a["bias"], "bias", label),
            dilation,
        )

    return make


FUNCTIONS: dict[str, Builtin] = {
    **{f"Conv{d}d": _conv(d) for d in (1, 2, 3)},
    **{f"ConvTranspose{d}d": _conv_transpose(d) for d in (1, 2, 3)},
}
