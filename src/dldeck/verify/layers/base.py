"""Argument binding, value checks and the Layer base shared by every layer family."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import sympy
from sympy import Integer

from dldeck.verify.syntax import CheckError
from dldeck.verify.values import Builtin, describe, short

if TYPE_CHECKING:
    from dldeck.verify.evaluate import Evaluator

# --------------------------------------------------------------------------- argument handling

REQUIRED = object()


KEYWORD_ONLY = ("*", None)  # in a signature: the parameters after it are keyword-only, as in torch


def bind(name: str, signature: list[tuple[str, Any]], args: list[Any], kwargs: dict[str, Any]) -> dict:
    """Bind like Python binds torch's constructor arguments, with torch-like messages."""
    positional = signature[: signature.index(KEYWORD_ONLY)] if KEYWORD_ONLY in signature else signature
    parameters = [entry for entry in signature if entry != KEYWORD_ONLY]
    if len(args) > len(positional):
        raise CheckError(f"{name}() takes {len(positional)} positional arguments but {len(args)} were given")
    bound: dict[str, Any] = {}
    for (param, _), value in zip(positional, args, strict=False):
        bound[param] = value
    names = [param for param, _ in parameters]
    for key, value in kwargs.items():
        if key not in names:
            raise CheckError(f"{name}() got an unexpected keyword argument {key!r}")
        if key in bound:
            raise CheckError(f"{name}() got multiple values for argument {key!r}")
        bound[key] = value
    for param, default in parameters:
        if param not in bound:
            if default is REQUIRED:
                raise CheckError(f"{name}() missing required argument {param!r}")
            bound[param] = default
    return bound


def decided(relation: Any) -> bool | None:
    """True/False when sympy can decide the relation under the symbols' assumptions, else None."""
    value = relation if isinstance(relation, bool) else sympy.simplify(relation)
    if value in (True, sympy.true):
        return True
    if value in (False, sympy.false):
        return False
    return None


def integer(value: Any, what: str, layer: str) -> sympy.Expr:
    if isinstance(value, bool) or not isinstance(value, sympy.Expr):
        raise CheckError(f"{layer}: {what} must be an integer, got {describe(value)}")
    if value.is_number and not value.is_Integer:
        raise CheckError(f"{layer}: {what} must be an integer, got {short(value)}")
    if value.is_integer is False:
        raise CheckError(f"{layer}: {what} must be an integer, got {short(value)}")
    return value


def positive(value: Any, what: str, layer: str) -> sympy.Expr:
    value = integer(value, what, layer)
    if decided(sympy.Le(value, 0)):
        raise CheckError(f"{layer}: {what} must be positive, got {short(value)}")
    return value


def nonnegative(value: Any, what: str, layer: str) -> sympy.Expr:
    value = integer(value, what, layer)
    if decided(sympy.Lt(value, 0)):
        raise CheckError(f"{layer}: {what} must not be negative, got {short(value)}")
    return value


def per_dim(value: Any, dims: int, what: str, layer: str, check: Callable = positive) -> tuple:
    """An int or a tuple of `dims` ints, as torch's `_pair`/`_triple` accept."""
    if isinstance(value, tuple):
        if len(value) != dims:
            raise CheckError(
                f"{layer}: {what} must be an int or a tuple of {dims}, got a tuple of {len(value)}"
            )
        return tuple(check(v, what, layer) for v in value)
    return (check(value, what, layer),) * dims


def flag(value: Any, what: str, layer: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in (sympy.true, sympy.false):
        return bool(value)
    raise CheckError(f"{layer}: {what} must be True or False, got {describe(value)}")


def product(values: tuple) -> sympy.Expr:
    result: sympy.Expr = Integer(1)
    for value in values:
        result *= value
    return result


def divisible(numerator: sympy.Expr, denominator: sympy.Expr) -> bool | None:
    remainder = sympy.Mod(numerator, denominator)
    if remainder.is_number:
        return remainder == 0
    return None


def conv_out(
    length: sympy.Expr, kernel: sympy.Expr, stride: sympy.Expr, pad: sympy.Expr, dilation: sympy.Expr
) -> sympy.Expr:
    """PyTorch's Conv/MaxPool formula: floor((L + 2p - d(k-1) - 1)/s + 1)."""
    return sympy.floor((length + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1)


def dilated_window(kernel: tuple, dilation: tuple, stride: tuple) -> tuple[tuple, tuple]:
    """(effective kernel d(k-1)+1 per dim, stride per dim): the window a conv or pool slides."""
    return tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True)), stride


def must_be_positive_size(size: sympy.Expr, layer: str, length: sympy.Expr) -> None:
    if decided(sympy.Lt(size, 1)):
        raise CheckError(f"{layer}: input size {short(length)} gives output size {short(size)}: too small")


def check_rank(shape: Any, ranks: tuple[int, ...], layer: str, meaning: str) -> tuple:
    if not isinstance(shape, tuple):
        raise CheckError(
            f"output_shape: the input shape must be a tuple such as (N, C, H, W), got {describe(shape)}"
        )
    for entry in shape:
        integer(entry, "every input dimension", layer)
    if len(shape) not in ranks:
        wanted = " or ".join(str(r) for r in ranks)
        raise CheckError(f"{layer} expects a {wanted}-D input ({meaning}), got {len(shape)}-D {short(shape)}")
    return shape


def check_same(actual: sympy.Expr, expected: sympy.Expr, layer: str, what: str) -> None:
    if decided(sympy.Eq(actual, expected)) is False:
        raise CheckError(f"{layer} expects {what} {short(expected)}, the input has {short(actual)}")


def spatial_input(shape: Any, dims: int, label: str) -> tuple:
    """The input of a conv or pool layer with `dims` spatial dimensions, batched or not."""
    return check_rank(shape, (dims + 1, dims + 2), label, "(N, C, *spatial) or (C, *spatial)")


def conv_input(shape: Any, dims: int, in_channels: sympy.Expr, label: str) -> tuple[tuple, tuple]:
    """(leading dims, spatial dims) of a conv layer's input, whose channels must be in_channels."""
    shape = spatial_input(shape, dims, label)
    check_same(shape[-dims - 1], in_channels, label, "in_channels =")
    return shape[: -dims - 1], shape[-dims:]


# --------------------------------------------------------------------------- layers


@dataclass(frozen=True)
class Layer:
    """Base: a torch.nn module as far as counting and shapes go."""

    label: str

    # True for layers that connect every position of the input grid to every output position, or
    # resample it: they have no fixed window, so receptive_field() refuses them.
    mixes_positions: ClassVar[bool] = False

    def params(self) -> sympy.Expr:
        return Integer(0)

    def buffers(self) -> sympy.Expr:
        return Integer(0)

    def output_shape(self, shape: tuple) -> tuple:
        check_rank(shape, tuple(range(0, 9)), self.label, "any shape")
        return shape

    def flops(self, shape: tuple) -> sympy.Expr:
        """FLOPs of one forward pass as torch.utils.flop_counter counts them: matrix products and
        convolutions only (2 per multiply-add, bias additions not counted); other layers count 0."""
        self.output_shape(shape)
        return Integer(0)

    def window(self) -> tuple[tuple, tuple] | None:
        """(effective kernel per dim, stride per dim) for receptive fields; None: pointwise."""
        return None

    def __str__(self) -> str:
        return self.label


@dataclass(frozen=True)
class Sequential(Layer):
    layers: tuple[Layer, ...]

    def params(self) -> sympy.Expr:
        return sympy.Add(*(layer.params() for layer in self.layers))

    def buffers(self) -> sympy.Expr:
        return sympy.Add(*(layer.buffers() for layer in self.layers))

    def output_shape(self, shape: tuple) -> tuple:
        for layer in self.layers:
            shape = layer.output_shape(shape)
        return shape

    def flops(self, shape: tuple) -> sympy.Expr:
        total: sympy.Expr = Integer(0)
        for layer in self.layers:
            total += layer.flops(shape)
            shape = layer.output_shape(shape)
        return total


def sequential(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Layer:
    if kwargs:
        raise CheckError("Sequential() takes layers as positional arguments only")
    for index, arg in enumerate(args):
        if not isinstance(arg, Layer):
            raise CheckError(f"Sequential(): argument {index + 1} is {describe(arg)}, not a layer")
    return Sequential(label_of("Sequential", args, {}), tuple(args))


def label_of(name: str, args: list[Any], kwargs: dict[str, Any]) -> str:
    parts = [short(a, 30) if not isinstance(a, Layer) else a.label for a in args]
    parts += [f"{k}={short(v, 30) if not isinstance(v, str) else repr(v)}" for k, v in kwargs.items()]
    text = f"{name}({', '.join(parts)})"
    return text if len(text) <= 80 else text[:79] + "…"


def simple(name: str, signature: list[tuple[str, Any]], build: Callable[[str, dict], Layer]) -> Builtin:
    def make(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Layer:
        label = label_of(name, args, kwargs)
        return build(label, bind(name, signature, args, kwargs))

    return make
