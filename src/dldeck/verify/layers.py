"""Layer arithmetic with `torch.nn` names, arguments and defaults, over sympy.

Cards state parameter counts and output sizes that learners memorise; these are computed here
from PyTorch's documented formulas, so `params(Conv2d(C, N, K, groups=G, bias=False))` is the
symbolic `C*N*K**2/G` and `output_shape(Conv2d(3, 64, 3, stride=2, padding=1), (1, 3, 224, 224))`
is `(1, 64, 112, 112)`. Configurations PyTorch refuses are refused here too, with its reason.
torch itself is not a dependency.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sympy
from sympy import Integer

from dldeck.verify.syntax import CheckError
from dldeck.verify.values import Builtin, describe, short

if TYPE_CHECKING:
    from dldeck.verify.evaluate import Evaluator

# --------------------------------------------------------------------------- argument handling

_REQUIRED = object()


def bind(name: str, signature: list[tuple[str, Any]], args: list[Any], kwargs: dict[str, Any]) -> dict:
    """Bind like Python binds torch's constructor arguments, with torch-like messages."""
    if len(args) > len(signature):
        raise CheckError(f"{name}() takes {len(signature)} arguments but {len(args)} were given")
    bound: dict[str, Any] = {}
    for (param, _), value in zip(signature, args, strict=False):
        bound[param] = value
    names = [param for param, _ in signature]
    for key, value in kwargs.items():
        if key not in names:
            raise CheckError(f"{name}() got an unexpected keyword argument {key!r}")
        if key in bound:
            raise CheckError(f"{name}() got multiple values for argument {key!r}")
        bound[key] = value
    for param, default in signature:
        if param not in bound:
            if default is _REQUIRED:
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

    def params(self) -> sympy.Expr:
        return Integer(0)

    def buffers(self) -> sympy.Expr:
        return Integer(0)

    def output_shape(self, shape: tuple) -> tuple:
        check_rank(shape, tuple(range(0, 9)), self.label, "any shape")
        return shape

    def window(self) -> tuple[tuple, tuple] | None:
        """(effective kernel per dim, stride per dim) for receptive fields; None: pointwise."""
        return None

    def __str__(self) -> str:
        return self.label


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

    def params(self) -> sympy.Expr:
        weight = self.out_channels * self.in_channels / self.groups * product(self.kernel)
        return weight + (self.out_channels if self.bias else 0)

    def output_shape(self, shape: tuple) -> tuple:
        lead, spatial = conv_input(shape, self.dims, self.in_channels, self.label)
        out = []
        for i, length in enumerate(spatial):
            if self.padding == "same":
                size = length
            else:
                assert isinstance(self.padding, tuple)
                size = conv_out(length, self.kernel[i], self.stride[i], self.padding[i], self.dilation[i])
            must_be_positive_size(size, self.label, length)
            out.append(size)
        return (*lead, self.out_channels, *out)

    def window(self) -> tuple[tuple, tuple]:
        effective = tuple(d * (k - 1) + 1 for k, d in zip(self.kernel, self.dilation, strict=True))
        return effective, self.stride


@dataclass(frozen=True)
class ConvTranspose(Layer):
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
        effective = tuple(d * (k - 1) + 1 for k, d in zip(self.kernel, self.dilation, strict=True))
        return effective, self.stride


@dataclass(frozen=True)
class AdaptivePool(Layer):
    dims: int
    output_size: tuple

    def output_shape(self, shape: tuple) -> tuple:
        shape = spatial_input(shape, self.dims, self.label)
        lead, spatial = shape[: -self.dims], shape[-self.dims :]
        out = tuple(
            length if size is None else size for length, size in zip(spatial, self.output_size, strict=True)
        )
        return (*lead, *out)


@dataclass(frozen=True)
class Linear(Layer):
    in_features: sympy.Expr
    out_features: sympy.Expr
    bias: bool

    def params(self) -> sympy.Expr:
        return self.in_features * self.out_features + (self.out_features if self.bias else 0)

    def output_shape(self, shape: tuple) -> tuple:
        shape = check_rank(shape, tuple(range(1, 9)), self.label, "(*, in_features)")
        check_same(shape[-1], self.in_features, self.label, "in_features =")
        return (*shape[:-1], self.out_features)


@dataclass(frozen=True)
class ChannelNorm(Layer):
    """BatchNorm and InstanceNorm: per-channel affine parameters, running stats are buffers."""

    ranks: tuple[int, ...]
    channel_axis_from_end: int  # InstanceNorm accepts unbatched input, so count from the end
    num_features: sympy.Expr
    affine: bool
    track_running_stats: bool

    def params(self) -> sympy.Expr:
        return 2 * self.num_features if self.affine else Integer(0)

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
    normalized_shape: tuple
    elementwise_affine: bool
    bias: bool

    def params(self) -> sympy.Expr:
        if not self.elementwise_affine:
            return Integer(0)
        return product(self.normalized_shape) * (2 if self.bias else 1)

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

    def params(self) -> sympy.Expr:
        return 2 * self.num_channels if self.affine else Integer(0)

    def output_shape(self, shape: tuple) -> tuple:
        shape = check_rank(shape, tuple(range(2, 9)), self.label, "(N, C, *)")
        check_same(shape[1], self.num_channels, self.label, "num_channels =")
        return shape


@dataclass(frozen=True)
class Embedding(Layer):
    num_embeddings: sympy.Expr
    embedding_dim: sympy.Expr

    def params(self) -> sympy.Expr:
        return self.num_embeddings * self.embedding_dim

    def output_shape(self, shape: tuple) -> tuple:
        shape = check_rank(shape, tuple(range(0, 9)), self.label, "indices of any shape")
        return (*shape, self.embedding_dim)


@dataclass(frozen=True)
class Recurrent(Layer):
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


@dataclass(frozen=True)
class Flatten(Layer):
    start_dim: int
    end_dim: int

    def output_shape(self, shape: tuple) -> tuple:
        shape = check_rank(shape, tuple(range(1, 9)), self.label, "any shape")
        start, end = self.start_dim % len(shape), self.end_dim % len(shape)
        if start > end:
            raise CheckError(f"{self.label}: start_dim comes after end_dim for a {len(shape)}-D input")
        return (*shape[:start], product(shape[start : end + 1]), *shape[end + 1 :])


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


# --------------------------------------------------------------------------- constructors


def _label(name: str, args: list[Any], kwargs: dict[str, Any]) -> str:
    parts = [short(a, 30) if not isinstance(a, Layer) else a.label for a in args]
    parts += [f"{k}={short(v, 30) if not isinstance(v, str) else repr(v)}" for k, v in kwargs.items()]
    text = f"{name}({', '.join(parts)})"
    return text if len(text) <= 80 else text[:79] + "…"


def _conv(dims: int) -> Builtin:
    name = f"Conv{dims}d"
    signature = [
        ("in_channels", _REQUIRED),
        ("out_channels", _REQUIRED),
        ("kernel_size", _REQUIRED),
        ("stride", Integer(1)),
        ("padding", Integer(0)),
        ("dilation", Integer(1)),
        ("groups", Integer(1)),
        ("bias", True),
        ("padding_mode", "zeros"),
    ]

    def make(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Layer:
        label = _label(name, args, kwargs)
        a = bind(name, signature, args, kwargs)
        in_channels = positive(a["in_channels"], "in_channels", label)
        out_channels = positive(a["out_channels"], "out_channels", label)
        groups = positive(a["groups"], "groups", label)
        kernel = per_dim(a["kernel_size"], dims, "kernel_size", label)
        stride = per_dim(a["stride"], dims, "stride", label)
        dilation = per_dim(a["dilation"], dims, "dilation", label)
        _check_groups(in_channels, out_channels, groups, label)
        if a["padding_mode"] not in ("zeros", "reflect", "replicate", "circular"):
            raise CheckError(f"{label}: padding_mode must be 'zeros', 'reflect', 'replicate' or 'circular'")
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
        )

    return make


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
        ("in_channels", _REQUIRED),
        ("out_channels", _REQUIRED),
        ("kernel_size", _REQUIRED),
        ("stride", Integer(1)),
        ("padding", Integer(0)),
        ("output_padding", Integer(0)),
        ("groups", Integer(1)),
        ("bias", True),
        ("dilation", Integer(1)),
        ("padding_mode", "zeros"),
    ]

    def make(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Layer:
        label = _label(name, args, kwargs)
        a = bind(name, signature, args, kwargs)
        in_channels = positive(a["in_channels"], "in_channels", label)
        out_channels = positive(a["out_channels"], "out_channels", label)
        groups = positive(a["groups"], "groups", label)
        _check_groups(in_channels, out_channels, groups, label)
        kernel = per_dim(a["kernel_size"], dims, "kernel_size", label)
        stride = per_dim(a["stride"], dims, "stride", label)
        dilation = per_dim(a["dilation"], dims, "dilation", label)
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


def _pool(kind: str, dims: int) -> Builtin:
    name = f"{kind}Pool{dims}d"
    if kind == "Max":
        signature = [
            ("kernel_size", _REQUIRED),
            ("stride", None),
            ("padding", Integer(0)),
            ("dilation", Integer(1)),
            ("return_indices", False),
            ("ceil_mode", False),
        ]
    else:
        signature = [
            ("kernel_size", _REQUIRED),
            ("stride", None),
            ("padding", Integer(0)),
            ("ceil_mode", False),
            ("count_include_pad", True),
        ]
        if dims > 1:
            signature.append(("divisor_override", None))

    def make(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Layer:
        label = _label(name, args, kwargs)
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
    signature = [("output_size", _REQUIRED)] + ([("return_indices", False)] if kind == "Max" else [])

    def make(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Layer:
        label = _label(name, args, kwargs)
        a = bind(name, signature, args, kwargs)
        size = a["output_size"]
        entries = size if isinstance(size, tuple) else (size,) * dims
        if len(entries) != dims:
            raise CheckError(f"{label}: output_size must be an int or a tuple of {dims}")
        checked = tuple(None if e is None else positive(e, "output_size", label) for e in entries)
        return AdaptivePool(label, dims, checked)

    return make


def _simple(name: str, signature: list[tuple[str, Any]], build: Callable[[str, dict], Layer]) -> Builtin:
    def make(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Layer:
        label = _label(name, args, kwargs)
        return build(label, bind(name, signature, args, kwargs))

    return make


def _channel_norm(kind: str, dims: int) -> Builtin:
    name = f"{kind}Norm{dims}d"
    batch = kind == "Batch"
    signature = [
        ("num_features", _REQUIRED),
        ("eps", Integer(1) / 10**5),
        ("momentum", Integer(1) / 10),
        ("affine", batch),
        ("track_running_stats", batch),
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
        )

    return _simple(name, signature, build)


def _layer_norm(label: str, a: dict) -> Layer:
    shape = a["normalized_shape"]
    entries = shape if isinstance(shape, tuple) else (shape,)
    return LayerNorm(
        label,
        tuple(positive(e, "normalized_shape", label) for e in entries),
        flag(a["elementwise_affine"], "elementwise_affine", label),
        flag(a["bias"], "bias", label),
    )


def _group_norm(label: str, a: dict) -> Layer:
    groups = positive(a["num_groups"], "num_groups", label)
    channels = positive(a["num_channels"], "num_channels", label)
    if divisible(channels, groups) is False:
        raise CheckError(f"{label}: num_channels must be divisible by num_groups")
    return GroupNorm(label, groups, channels, flag(a["affine"], "affine", label))


def _recurrent(name: str, gates: int) -> Builtin:
    signature: list[tuple[str, Any]] = [
        ("input_size", _REQUIRED),
        ("hidden_size", _REQUIRED),
        ("num_layers", Integer(1)),
    ]
    if name == "RNN":
        signature.append(("nonlinearity", "tanh"))
    signature += [("bias", True), ("batch_first", False), ("dropout", Integer(0)), ("bidirectional", False)]
    if name == "LSTM":
        signature.append(("proj_size", Integer(0)))

    def make(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Layer:
        label = _label(name, args, kwargs)
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


def _flatten(label: str, a: dict) -> Layer:
    start, end = (integer(a[k], k, label) for k in ("start_dim", "end_dim"))
    if not (start.is_Integer and end.is_Integer):
        raise CheckError(f"{label}: start_dim and end_dim must be literal integers")
    return Flatten(label, int(start), int(end))


def _sequential(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Layer:
    if kwargs:
        raise CheckError("Sequential() takes layers as positional arguments only")
    for index, arg in enumerate(args):
        if not isinstance(arg, Layer):
            raise CheckError(f"Sequential(): argument {index + 1} is {describe(arg)}, not a layer")
    return Sequential(_label("Sequential", args, {}), tuple(args))


# --------------------------------------------------------------------------- queries


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
    layer = _one_layer("output_shape", args, kwargs, 2)
    return layer.output_shape(args[1])


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
        if isinstance(layer, Conv | Pool):
            if dims is not None and layer.dims != dims:
                raise CheckError(f"{name}(): mixes {dims}-D and {layer.dims}-D layers")
            dims = layer.dims
            windows.append(layer.window())
        elif isinstance(layer, ConvTranspose | AdaptivePool | Linear | Flatten | Recurrent | Embedding):
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


# --------------------------------------------------------------------------- the names library.py merges

_NO_ARGS: list[tuple[str, Any]] = []

LAYER_FUNCTIONS: dict[str, Builtin] = {
    **{f"Conv{d}d": _conv(d) for d in (1, 2, 3)},
    **{f"ConvTranspose{d}d": _conv_transpose(d) for d in (1, 2, 3)},
    **{f"{kind}Pool{d}d": _pool(kind, d) for kind in ("Max", "Avg") for d in (1, 2, 3)},
    **{f"Adaptive{kind}Pool{d}d": _adaptive(kind, d) for kind in ("Max", "Avg") for d in (1, 2, 3)},
    **{f"BatchNorm{d}d": _channel_norm("Batch", d) for d in (1, 2, 3)},
    **{f"InstanceNorm{d}d": _channel_norm("Instance", d) for d in (1, 2, 3)},
    "Linear": _simple(
        "Linear",
        [("in_features", _REQUIRED), ("out_features", _REQUIRED), ("bias", True)],
        lambda label, a: Linear(
            label,
            positive(a["in_features"], "in_features", label),
            positive(a["out_features"], "out_features", label),
            flag(a["bias"], "bias", label),
        ),
    ),
    "LayerNorm": _simple(
        "LayerNorm",
        [
            ("normalized_shape", _REQUIRED),
            ("eps", Integer(1) / 10**5),
            ("elementwise_affine", True),
            ("bias", True),
        ],
        _layer_norm,
    ),
    "GroupNorm": _simple(
        "GroupNorm",
        [
            ("num_groups", _REQUIRED),
            ("num_channels", _REQUIRED),
            ("eps", Integer(1) / 10**5),
            ("affine", True),
        ],
        _group_norm,
    ),
    "Embedding": _simple(
        "Embedding",
        [
            ("num_embeddings", _REQUIRED),
            ("embedding_dim", _REQUIRED),
            ("padding_idx", None),
            ("max_norm", None),
            ("norm_type", Integer(2)),
            ("scale_grad_by_freq", False),
            ("sparse", False),
        ],
        lambda label, a: Embedding(
            label,
            positive(a["num_embeddings"], "num_embeddings", label),
            positive(a["embedding_dim"], "embedding_dim", label),
        ),
    ),
    "RNN": _recurrent("RNN", 1),
    "LSTM": _recurrent("LSTM", 4),
    "GRU": _recurrent("GRU", 3),
    **{
        name: _simple(name, [("inplace", False)], lambda label, a: Layer(label))
        for name in ("ReLU", "ReLU6", "SiLU")
    },
    **{
        name: _simple(name, _NO_ARGS, lambda label, a: Layer(label))
        for name in ("Sigmoid", "Tanh", "Identity")
    },
    "GELU": _simple("GELU", [("approximate", "none")], lambda label, a: Layer(label)),
    "LeakyReLU": _simple(
        "LeakyReLU", [("negative_slope", Integer(1) / 100), ("inplace", False)], lambda label, a: Layer(label)
    ),
    "Softmax": _simple("Softmax", [("dim", None)], lambda label, a: Layer(label)),
    "Dropout": _simple("Dropout", [("p", Integer(1) / 2), ("inplace", False)], lambda label, a: Layer(label)),
    "Flatten": _simple("Flatten", [("start_dim", Integer(1)), ("end_dim", Integer(-1))], _flatten),
    "Sequential": _sequential,
    "params": _params,
    "buffers": _buffers,
    "output_shape": _output_shape,
    "receptive_field": _receptive_field,
    "jump": _jump,
}
