"""Normalisation layers: BatchNorm, InstanceNorm, LayerNorm, GroupNorm, RMSNorm."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sympy
from sympy import Integer

from dldeck.verify.layers.base import (
    KEYWORD_ONLY,
    REQUIRED,
    Layer,
    check_rank,
    check_same,
    divisible,
    flag,
    positive,
    product,
    simple,
)
from dldeck.verify.syntax import CheckError
from dldeck.verify.values import Builtin, short

if TYPE_CHECKING:
    pass


def _affine(count: sympy.Expr, affine: bool, bias: bool) -> sympy.Expr:
    """weight, and bias unless bias=False (torch 2.13's keyword-only `bias`), when affine."""
    if not affine:
        return Integer(0)
    return count * (2 if bias else 1)


@dataclass(frozen=True)
class ChannelNorm(Layer):
    """BatchNorm and InstanceNorm: per-channel affine parameters, running stats are buffers."""

    ranks: tuple[int, ...]
    channel_axis_from_end: int  # InstanceNorm accepts unbatched input, so count from the end
    num_features: sympy.Expr
    affine: bool
    track_running_stats: bool
    bias: bool = True

    def params(self) -> sympy.Expr:
        return _affine(self.num_features, self.affine, self.bias)

    def buffers(self) -> sympy.Expr:
        # running_mean, running_var and the scalar num_batches_tracked
        return 2 * self.num_features + 1 if self.track_running_stats else Integer(0)

    def output_shape(self, shape: tuple) -> tuple:
        shape = check_rank(shape, self.ranks, self.label, "channels at dim 1")
        axis = 1 if self.channel_axis_from_end == 0 else len(shape) - self.channel_axis_from_end
        check_same(shape[axis], self.num_features, self.label, "num_features =")
        return shape


@dataclass(frozen=True)
class LayerNorm(Layer):
    """LayerNorm and RMSNorm: statistics over the trailing `normalized_shape` dimensions."""

    normalized_shape: tuple
    elementwise_affine: bool
    bias: bool

    def params(self) -> sympy.Expr:
        return _affine(product(self.normalized_shape), self.elementwise_affine, self.bias)

    def output_shape(self, shape: tuple) -> tuple:
        shape = check_rank(
            shape,
            tuple(range(len(self.normalized_shape), 9)),
            self.label,
            f"ending in {short(self.normalized_shape)}",
        )
        for actual, expected in zip(shape[-len(self.normalized_shape) :], self.normalized_shape, strict=True):
            check_same(actual, expected, self.label, "trailing dimension")
        return shape


@dataclass(frozen=True)
class GroupNorm(Layer):
    num_groups: sympy.Expr
    num_channels: sympy.Expr
    affine: bool
    bias: bool = True

    def params(self) -> sympy.Expr:
        return _affine(self.num_channels, self.affine, self.bias)

    def output_shape(self, shape: tuple) -> tuple:
        shape = check_rank(shape, tuple(range(2, 9)), self.label, "(N, C, *)")
        check_same(shape[1], self.num_channels, self.label, "num_channels =")
        return shape


def _channel_norm(kind: str, dims: int) -> Builtin:
    name = f"{kind}Norm{dims}d"
    batch = kind == "Batch"
    signature = [
        ("num_features", REQUIRED),
        ("eps", Integer(1) / 10**5),
        ("momentum", Integer(1) / 10),
        ("affine", batch),
        ("track_running_stats", batch),
        KEYWORD_ONLY,
        ("bias", True),
    ]
    if batch:
        ranks = {1: (2, 3), 2: (4,), 3: (5,)}[dims]
        axis_from_end = 0
    else:
        ranks = (dims + 1, dims + 2)
        axis_from_end = dims + 1

    def build(label: str, a: dict) -> Layer:
        return ChannelNorm(
            label,
            ranks,
            axis_from_end,
            positive(a["num_features"], "num_features", label),
            flag(a["affine"], "affine", label),
            flag(a["track_running_stats"], "track_running_stats", label),
            flag(a["bias"], "bias", label),
        )

    return simple(name, signature, build)


def normalized_shape(value: Any, label: str) -> tuple:
    entries = value if isinstance(value, tuple) else (value,)
    if not entries:
        raise CheckError(f"{label}: normalized_shape must not be empty")
    return tuple(positive(e, "normalized_shape", label) for e in entries)


def layer_norm(label: str, a: dict) -> LayerNorm:
    return LayerNorm(
        label,
        normalized_shape(a["normalized_shape"], label),
        flag(a["elementwise_affine"], "elementwise_affine", label),
        flag(a["bias"], "bias", label),
    )


def _rms_norm(label: str, a: dict) -> Layer:
    shape = normalized_shape(a["normalized_shape"], label)
    return LayerNorm(label, shape, flag(a["elementwise_affine"], "elementwise_affine", label), False)


def _group_norm(label: str, a: dict) -> Layer:
    groups = positive(a["num_groups"], "num_groups", label)
    channels = positive(a["num_channels"], "num_channels", label)
    if divisible(channels, groups) is False:
        raise CheckError(
            f"{label}: num_channels ({short(channels)}) must be divisible by num_groups ({short(groups)})"
        )
    return GroupNorm(
        label, groups, channels, flag(a["affine"], "affine", label), flag(a["bias"], "bias", label)
    )


LAYER_NORM_SIGNATURE = [
    ("normalized_shape", REQUIRED),
    ("eps", Integer(1) / 10**5),
    ("elementwise_affine", True),
    ("bias", True),
]

FUNCTIONS: dict[str, Builtin] = {
    **{f"BatchNorm{d}d": _channel_norm("Batch", d) for d in (1, 2, 3)},
    **{f"InstanceNorm{d}d": _channel_norm("Instance", d) for d in (1, 2, 3)},
    "LayerNorm": simple("LayerNorm", LAYER_NORM_SIGNATURE, layer_norm),
    "RMSNorm": simple(
        "RMSNorm", [("normalized_shape", REQUIRED), ("eps", None), ("elementwise_affine", True)], _rms_norm
    ),
    "GroupNorm": simple(
        "GroupNorm",
        [
            ("num_groups", REQUIRED),
            ("num_channels", REQUIRED),
            ("eps", Integer(1) / 10**5),
            ("affine", True),
            KEYWORD_ONLY,
            ("bias", True),
        ],
        _group_norm,
    ),
}
