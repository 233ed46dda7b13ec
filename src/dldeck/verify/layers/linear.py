"""Linear, Embedding and the pointwise layers (activations, dropout)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import sympy
from sympy import Integer

from dldeck.verify.layers.base import (
    REQUIRED,
    Layer,
    check_rank,
    check_same,
    decided,
    flag,
    integer,
    positive,
    product,
    simple,
)
from dldeck.verify.syntax import CheckError
from dldeck.verify.values import Builtin, short

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class Linear(Layer):
    mixes_positions: ClassVar[bool] = True

    in_features: sympy.Expr
    out_features: sympy.Expr
    bias: bool

    def params(self) -> sympy.Expr:
        return self.in_features * self.out_features + (self.out_features if self.bias else 0)

    def output_shape(self, shape: tuple) -> tuple:
        shape = check_rank(shape, tuple(range(1, 9)), self.label, "(*, in_features)")
        check_same(shape[-1], self.in_features, self.label, "in_features =")
        return (*shape[:-1], self.out_features)

    def flops(self, shape: tuple) -> sympy.Expr:
        out = self.output_shape(shape)
        return 2 * product(out[:-1]) * self.in_features * self.out_features


@dataclass(frozen=True)
class Embedding(Layer):
    mixes_positions: ClassVar[bool] = True

    num_embeddings: sympy.Expr
    embedding_dim: sympy.Expr

    def params(self) -> sympy.Expr:
        return self.num_embeddings * self.embedding_dim

    def output_shape(self, shape: tuple) -> tuple:
        shape = check_rank(shape, tuple(range(0, 9)), self.label, "indices of any shape")
        return (*shape, self.embedding_dim)


def _embedding(label: str, a: dict) -> Layer:
    count = positive(a["num_embeddings"], "num_embeddings", label)
    if a["padding_idx"] is not None:
        index = integer(a["padding_idx"], "padding_idx", label)
        if decided(sympy.Ge(index, count)) or decided(sympy.Lt(index, -count)):
            raise CheckError(
                f"{label}: Padding_idx must be within num_embeddings "
                f"(padding_idx={short(index)}, allowed -{short(count)} to {short(count - 1)})"
            )
    return Embedding(label, count, positive(a["embedding_dim"], "embedding_dim", label))


def _pointwise(label: str, a: dict) -> Layer:
    return Layer(label)


_NO_ARGS: list[tuple[str, Any]] = []

FUNCTIONS: dict[str, Builtin] = {
    "Linear": simple(
        "Linear",
        [("in_features", REQUIRED), ("out_features", REQUIRED), ("bias", True)],
        lambda label, a: Linear(
            label,
            positive(a["in_features"], "in_features", label),
            positive(a["out_features"], "out_features", label),
            flag(a["bias"], "bias", label),
        ),
    ),
    "Embedding": simple(
        "Embedding",
        [
            ("num_embeddings", REQUIRED),
            ("embedding_dim", REQUIRED),
            ("padding_idx", None),
            ("max_norm", None),
            ("norm_type", Integer(2)),
            ("scale_grad_by_freq", False),
            ("sparse", False),
        ],
        _embedding,
    ),
    **{name: simple(name, [("inplace", False)], _pointwise) for name in ("ReLU", "ReLU6", "SiLU", "Mish")},
    **{name: simple(name, _NO_ARGS, _pointwise) for name in ("Sigmoid", "Tanh", "Identity")},
    "GELU": simple("GELU", [("approximate", "none")], _pointwise),
    "LeakyReLU": simple("LeakyReLU", [("negative_slope", Integer(1) / 100), ("inplace", False)], _pointwise),
    "Softmax": simple("Softmax", [("dim", None)], _pointwise),
    "Dropout": simple("Dropout", [("p", Integer(1) / 2), ("inplace", False)], _pointwise),
}
