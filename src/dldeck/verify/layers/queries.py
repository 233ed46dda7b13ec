"""Questions about layers: params, buffers, output_shape, receptive_field, jump, flops, macs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sympy
from sympy import Integer

from dldeck.verify.layers.attention import MultiheadAttention
from dldeck.verify.layers.base import (
    Layer,
    Sequential,
    flag,
    product,
)
from dldeck.verify.syntax import CheckError
from dldeck.verify.values import Builtin, describe

if TYPE_CHECKING:
    from dldeck.verify.evaluate import Evaluator


def _one_layer(name: str, args: list[Any], kwargs: dict[str, Any], count: int = 1) -> Layer:
    if kwargs or len(args) != count:
        raise CheckError(f"{name}() takes {count} argument(s)")
    if not isinstance(args[0], Layer):
        raise CheckError(f"{name}(): expected a layer such as Conv2d(3, 64, 3), got {describe(args[0])}")
    return args[0]


def _params(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    return _one_layer("params", args, kwargs).params()


def _buffers(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    return _one_layer("buffers", args, kwargs).buffers()


def _output_shape(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    options = {k: kwargs.pop(k) for k in ("need_weights", "average_attn_weights") if k in kwargs}
    layer = _one_layer("output_shape", args, kwargs, 2)
    if options:
        if not isinstance(layer, MultiheadAttention):
            raise CheckError(f"output_shape(): {', '.join(options)} only applies to MultiheadAttention")
        return layer.shapes(
            args[1],
            flag(options.get("need_weights", True), "need_weights", "output_shape"),
            flag(options.get("average_attn_weights", True), "average_attn_weights", "output_shape"),
        )
    return layer.output_shape(args[1])


def _flops(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    layer = _one_layer("flops", args, kwargs, 2)
    return sympy.expand(layer.flops(args[1]))


def _macs(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    layer = _one_layer("macs", args, kwargs, 2)
    return sympy.expand(layer.flops(args[1]) / 2)


def _flatten_layers(value: Any, name: str) -> list[Layer]:
    if isinstance(value, Sequential):
        return [inner for layer in value.layers for inner in _flatten_layers(layer, name)]
    if isinstance(value, Layer):
        return [value]
    if isinstance(value, tuple):
        return [inner for item in value for inner in _flatten_layers(item, name)]
    raise CheckError(f"{name}(): expected a list of layers, got {describe(value)}")


def _windows(args: list[Any], kwargs: dict[str, Any], name: str) -> list[tuple[tuple, tuple]]:
    if kwargs or len(args) != 1:
        raise CheckError(
            f"{name}() takes one list of layers, e.g. {name}([Conv2d(1, 1, 3), Conv2d(1, 1, 3)])"
        )
    windows = []
    dims = None
    for layer in _flatten_layers(args[0], name):
        window = layer.window()
        if window is not None:
            if dims is not None and len(window[0]) != dims:
                raise CheckError(f"{name}(): mixes {dims}-D and {len(window[0])}-D layers")
            dims = len(window[0])
            windows.append(window)
        elif layer.mixes_positions:
            raise CheckError(f"{name}(): {layer.label} has no fixed window on the input grid")
    return windows


def _collapse(values: list[sympy.Expr]) -> Any:
    if not values:
        return Integer(1)
    values = [sympy.simplify(v) for v in values]
    return values[0] if all(v == values[0] for v in values) else tuple(values)


def receptive_field_of(windows: list[tuple[tuple, tuple]]) -> list[sympy.Expr]:
    """r = 1 + sum over layers of (k_eff - 1) * product of earlier strides, per spatial dim."""
    if not windows:
        return []
    dims = len(windows[0][0])
    fields: list[sympy.Expr] = [Integer(1)] * dims
    jumps: list[sympy.Expr] = [Integer(1)] * dims
    for kernel, stride in windows:
        for i in range(dims):
            fields[i] += (kernel[i] - 1) * jumps[i]
            jumps[i] *= stride[i]
    return fields


def _receptive_field(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    return _collapse(receptive_field_of(_windows(args, kwargs, "receptive_field")))


def _jump(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    windows = _windows(args, kwargs, "jump")
    if not windows:
        return Integer(1)
    jumps = [product(tuple(stride[i] for _, stride in windows)) for i in range(len(windows[0][1]))]
    return _collapse(jumps)


FUNCTIONS: dict[str, Builtin] = {
    "params": _params,
    "buffers": _buffers,
    "output_shape": _output_shape,
    "receptive_field": _receptive_field,
    "jump": _jump,
    "flops": _flops,
    "macs": _macs,
}
