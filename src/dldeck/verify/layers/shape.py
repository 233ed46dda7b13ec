"""Layers that only rearrange or resize: Flatten, PixelShuffle, PixelUnshuffle, Upsample."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import sympy
from sympy import Integer

from dldeck.verify.layers.base import (
    REQUIRED,
    Layer,
    check_rank,
    decided,
    divisible,
    flag,
    integer,
    must_be_positive_size,
    positive,
    product,
    simple,
)
from dldeck.verify.syntax import CheckError
from dldeck.verify.values import Builtin, describe, short

if TYPE_CHECKING:
    pass


def dimension(dim: int, rank: int) -> int:
    """torch's wrap of a possibly negative dim; a 0-D tensor counts as rank 1 here, as in torch."""
    rank = max(rank, 1)
    if not -rank <= dim < rank:
        raise CheckError(
            f"Dimension out of range (expected to be in range of [{-rank}, {rank - 1}], but got {dim})"
        )
    return dim % rank


@dataclass(frozen=True)
class Flatten(Layer):
    mixes_positions: ClassVar[bool] = True

    start_dim: int
    end_dim: int

    def output_shape(self, shape: tuple) -> tuple:
        shape = check_rank(shape, tuple(range(0, 9)), self.label, "any shape")
        try:
            start, end = dimension(self.start_dim, len(shape)), dimension(self.end_dim, len(shape))
        except CheckError as error:
            raise CheckError(f"{self.label} on a {len(shape)}-D input: {error.message}") from None
        if not shape:
            return (Integer(1),)
        if start > end:
            raise CheckError(f"{self.label}: flatten() has invalid args: start_dim cannot come after end_dim")
        return (*shape[:start], product(shape[start : end + 1]), *shape[end + 1 :])


def _flatten(label: str, a: dict) -> Layer:
    start, end = (integer(a[k], k, label) for k in ("start_dim", "end_dim"))
    if not (start.is_Integer and end.is_Integer):
        raise CheckError(f"{label}: start_dim and end_dim must be literal integers")
    return Flatten(label, int(start), int(end))


@dataclass(frozen=True)
class PixelShuffle(Layer):
    """(*, C·r², H, W) -> (*, C, H·r, W·r); unshuffle is the inverse."""

    mixes_positions: ClassVar[bool] = True

    factor: sympy.Expr
    inverse: bool

    def output_shape(self, shape: tuple) -> tuple:
        name = "pixel_unshuffle" if self.inverse else "pixel_shuffle"
        shape = check_rank(shape, tuple(range(0, 9)), self.label, "(*, C, H, W)")
        if len(shape) < 3:
            raise CheckError(
                f"{self.label}: {name} expects input to have at least 3 dimensions, "
                f"but got input with {len(shape)} dimension(s)"
            )
        *lead, channels, height, width = shape
        r = self.factor
        if not self.inverse:
            if divisible(channels, r**2) is False:
                raise CheckError(
                    f"{self.label}: pixel_shuffle expects its input's 'channel' dimension to be divisible "
                    f"by the square of upscale_factor, but input.size(-3)={short(channels)} is not "
                    f"divisible by {short(r**2)}"
                )
            return (*lead, channels / r**2, height * r, width * r)
        for what, size, index in (("height", height, -2), ("width", width, -1)):
            if divisible(size, r) is False:
                raise CheckError(
                    f"{self.label}: pixel_unshuffle expects {what} to be divisible by downscale_factor, "
                    f"but input.size({index})={short(size)} is not divisible by {short(r)}"
                )
        return (*lead, channels * r**2, height / r, width / r)


def _pixel_shuffle(inverse: bool) -> Callable[[str, dict], Layer]:
    key = "downscale_factor" if inverse else "upscale_factor"
    name = "pixel_unshuffle" if inverse else "pixel_shuffle"

    def build(label: str, a: dict) -> Layer:
        factor = integer(a[key], key, label)
        if decided(sympy.Le(factor, 0)):
            raise CheckError(f"{label}: {name} expects a positive {key}, but got {short(factor)}")
        return PixelShuffle(label, factor, inverse)

    return build


_UPSAMPLE_MODES = {
    "nearest": (3, 4, 5),
    "nearest-exact": (3, 4, 5),
    "area": (3, 4, 5),
    "linear": (3,),
    "bilinear": (4,),
    "bicubic": (4,),
    "trilinear": (5,),
}


@dataclass(frozen=True)
class Upsample(Layer):
    mixes_positions: ClassVar[bool] = True

    size: tuple | None
    scale_factor: tuple | None
    mode: str

    def output_shape(self, shape: tuple) -> tuple:
        shape = check_rank(shape, tuple(range(0, 9)), self.label, "(N, C, *spatial)")
        ranks = _UPSAMPLE_MODES[self.mode]
        if len(shape) not in (3, 4, 5):
            raise CheckError(
                f"{self.label}: only 3D, 4D and 5D input tensors are supported (got {len(shape)}D)"
            )
        if len(shape) not in ranks:
            raise CheckError(
                f"{self.label}: got {len(shape)}D input, but {self.mode} mode needs {ranks[0]}D input"
            )
        spatial = shape[2:]
        wanted = self.size if self.size is not None else self.scale_factor
        assert wanted is not None
        if len(wanted) == 1:
            wanted = wanted * len(spatial)
        if len(wanted) != len(spatial):
            what = "output size" if self.size is not None else "scale_factor"
            raise CheckError(
                f"{self.label}: input and {what} must have the same number of spatial dimensions, but got "
                f"input with spatial dimensions of {short(spatial)} and {what} {short(wanted)}"
            )
        if self.size is not None:
            out = wanted
        else:
            out = tuple(_scaled(length, scale) for length, scale in zip(spatial, wanted, strict=True))
        for length, size in zip(spatial, out, strict=True):
            if decided(sympy.Lt(size, 1)):
                raise CheckError(
                    f"{self.label}: input and output sizes should be greater than 0, but got input "
                    f"{short(spatial)} output {short(out)}"
                )
            must_be_positive_size(size, self.label, length)
        return (*shape[:2], *out)


def _scaled(length: sympy.Expr, scale: sympy.Expr) -> sympy.Expr:
    """floor(length · scale), in double precision when both are numbers, as torch computes it."""
    if length.is_number and scale.is_number:
        return Integer(math.floor(float(length) * float(scale)))
    return sympy.floor(length * scale)


def _upsample(label: str, a: dict) -> Layer:
    size, scale = a["size"], a["scale_factor"]
    if size is not None and scale is not None:
        raise CheckError(f"{label}: only one of size or scale_factor should be defined")
    if size is None and scale is None:
        raise CheckError(f"{label}: either size or scale_factor should be defined")
    mode = a["mode"]
    if mode not in _UPSAMPLE_MODES:
        raise CheckError(f"{label}: unknown mode {mode!r} (known: {', '.join(_UPSAMPLE_MODES)})")
    if a["align_corners"] is not None:
        flag(a["align_corners"], "align_corners", label)
        if mode not in ("linear", "bilinear", "bicubic", "trilinear"):
            raise CheckError(
                f"{label}: align_corners option can only be set with the interpolating modes: "
                "linear | bilinear | bicubic | trilinear"
            )
    sizes = (
        None
        if size is None
        else tuple(positive(s, "size", label) for s in (size if isinstance(size, tuple) else (size,)))
    )
    scales = None
    if scale is not None:
        scales = tuple(_scale(s, label) for s in (scale if isinstance(scale, tuple) else (scale,)))
    return Upsample(label, sizes, scales, mode)


def _scale(value: Any, label: str) -> sympy.Expr:
    if isinstance(value, bool) or not isinstance(value, sympy.Expr):
        raise CheckError(f"{label}: scale_factor must be a number, got {describe(value)}")
    return value


FUNCTIONS: dict[str, Builtin] = {
    "Flatten": simple("Flatten", [("start_dim", Integer(1)), ("end_dim", Integer(-1))], _flatten),
    "PixelShuffle": simple("PixelShuffle", [("upscale_factor", REQUIRED)], _pixel_shuffle(False)),
    "PixelUnshuffle": simple("PixelUnshuffle", [("downscale_factor", REQUIRED)], _pixel_shuffle(True)),
    "Upsample": simple(
        "Upsample",
        [
            ("size", None),
            ("scale_factor", None),
            ("mode", "nearest"),
            ("align_corners", None),
            ("recompute_scale_factor", None),
        ],
        _upsample,
    ),
}
