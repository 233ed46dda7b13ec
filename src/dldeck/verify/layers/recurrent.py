"""Recurrent layers: RNN, LSTM (with proj_size), GRU."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import sympy
from sympy import Integer

from dldeck.verify.layers.base import (
    REQUIRED,
    Layer,
    bind,
    check_rank,
    check_same,
    decided,
    flag,
    label_of,
    nonnegative,
    positive,
)
from dldeck.verify.syntax import CheckError
from dldeck.verify.values import Builtin

if TYPE_CHECKING:
    from dldeck.verify.evaluate import Evaluator


@dataclass(frozen=True)
class Recurrent(Layer):
    mixes_positions: ClassVar[bool] = True

    gates: int
    input_size: sympy.Expr
    hidden_size: sympy.Expr
    num_layers: sympy.Expr
    bias: bool
    batch_first: bool
    bidirectional: bool
    proj_size: sympy.Expr

    def params(self) -> sympy.Expr:
        directions = 2 if self.bidirectional else 1
        has_proj = decided(sympy.Gt(self.proj_size, 0))
        real_hidden = self.proj_size if has_proj else self.hidden_size
        layers = self.num_layers
        per_direction_later = self._per_direction(real_hidden * directions, real_hidden, bool(has_proj))
        first = self._per_direction(self.input_size, real_hidden, bool(has_proj))
        return directions * (first + (layers - 1) * per_direction_later)

    def _per_direction(
        self, input_size: sympy.Expr, recurrent_size: sympy.Expr, has_proj: bool
    ) -> sympy.Expr:
        h, g = self.hidden_size, self.gates
        total = g * h * input_size + g * h * recurrent_size  # W_ih, W_hh
        if self.bias:
            total += 2 * g * h  # b_ih, b_hh
        if has_proj:
            total += recurrent_size * h  # W_hr
        return total

    def output_shape(self, shape: tuple) -> tuple:
        shape = check_rank(shape, (2, 3), self.label, "(L, N, H_in), (N, L, H_in) or unbatched (L, H_in)")
        check_same(shape[-1], self.input_size, self.label, "input_size =")
        directions = 2 if self.bidirectional else 1
        out = self.proj_size if decided(sympy.Gt(self.proj_size, 0)) else self.hidden_size
        return (*shape[:-1], directions * out)

    def flops(self, shape: tuple) -> sympy.Expr:
        raise CheckError(
            f"flops(): {self.label} is not counted (torch's flop counter skips recurrent layers)"
        )


def _recurrent(name: str, gates: int) -> Builtin:
    signature: list[tuple[str, Any]] = [
        ("input_size", REQUIRED),
        ("hidden_size", REQUIRED),
        ("num_layers", Integer(1)),
    ]
    if name == "RNN":
        signature.append(("nonlinearity", "tanh"))
    signature += [("bias", True), ("batch_first", False), ("dropout", Integer(0)), ("bidirectional", False)]
    if name == "LSTM":
        signature.append(("proj_size", Integer(0)))

    def make(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Layer:
        label = label_of(name, args, kwargs)
        if "proj_size" in kwargs and name != "LSTM":
            raise CheckError(f"{label}: proj_size argument is only supported for LSTM, not RNN or GRU")
        a = bind(name, signature, args, kwargs)
        if a.get("nonlinearity", "tanh") not in ("tanh", "relu"):
            raise CheckError(f"{label}: unknown nonlinearity {a['nonlinearity']!r}")
        hidden = positive(a["hidden_size"], "hidden_size", label)
        proj = nonnegative(a.get("proj_size", Integer(0)), "proj_size", label)
        if decided(sympy.Ge(proj, hidden)):
            raise CheckError(f"{label}: proj_size has to be smaller than hidden_size")
        return Recurrent(
            label,
            gates,
            positive(a["input_size"], "input_size", label),
            hidden,
            positive(a["num_layers"], "num_layers", label),
            flag(a["bias"], "bias", label),
            flag(a["batch_first"], "batch_first", label),
            flag(a["bidirectional"], "bidirectional", label),
            proj,
        )

    return make


FUNCTIONS: dict[str, Builtin] = {
    "RNN": _recurrent("RNN", 1),
    "LSTM": _recurrent("LSTM", 4),
    "GRU": _recurrent("GRU", 3),
}
