"""Attention and Transformer blocks: MultiheadAttention, Transformer{Encoder,Decoder}[Layer], Transformer.

Parameter counts follow the tensors torch 2.13 registers (in_proj_weight or q/k/v_proj_weight,
in_proj_bias, out_proj, bias_k/bias_v; LayerNorms without bias when bias=False); shapes follow
`F.multi_head_attention_forward` (batch_first transposes the output only, the weights are always
(N, L, S) or (N, heads, L, S), add_bias_kv and add_zero_attn each add one key position).
"""

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
    divisible,
    flag,
    label_of,
    positive,
    product,
)
from dldeck.verify.layers.linear import Linear
from dldeck.verify.layers.norm import LayerNorm
from dldeck.verify.syntax import CheckError
from dldeck.verify.values import Builtin, describe, short

if TYPE_CHECKING:
    from dldeck.verify.evaluate import Evaluator


def _swap01(shape: tuple) -> tuple:
    return (shape[1], shape[0], *shape[2:])


@dataclass(frozen=True)
class MultiheadAttention(Layer):
    mixes_positions: ClassVar[bool] = True

    embed_dim: sympy.Expr
    num_heads: sympy.Expr
    bias: bool
    add_bias_kv: bool
    add_zero_attn: bool
    kdim: sympy.Expr
    vdim: sympy.Expr
    batch_first: bool

    def params(self) -> sympy.Expr:
        e = self.embed_dim
        # in_proj_weight (3E×E) when kdim = vdim = E, else q (E×E), k (E×kdim), v (E×vdim): same sum
        total = e * e + e * self.kdim + e * self.vdim + e * e  # in-projections and out_proj.weight
        if self.bias:
            total += 3 * e + e  # in_proj_bias, out_proj.bias
        if self.add_bias_kv:
            total += 2 * e  # bias_k, bias_v: (1, 1, E) each
        return total

    def output_shape(self, shape: tuple) -> tuple:
        return self.shapes(shape, True, True)

    def _inputs(self, shape: Any) -> tuple[tuple, tuple, tuple]:
        """(query, key, value) shapes in torch's (L, N, E) layout; one shape means self-attention."""
        if isinstance(shape, tuple) and shape and all(isinstance(s, tuple) for s in shape):
            if len(shape) != 3:
                raise CheckError(
                    f"{self.label}: give the shapes of (query, key, value), or one shape for self-attention"
                )
            query, key, value = shape
        else:
            query = key = value = shape
        query = check_rank(query, (2, 3), self.label, "query (L, E), (L, N, E) or batch_first (N, L, E)")
        key = check_rank(key, tuple(range(0, 9)), self.label, "key")
        value = check_rank(value, tuple(range(0, 9)), self.label, "value")
        batched = len(query) == 3
        if len(key) != len(query) or len(value) != len(query):
            raise CheckError(
                f"{self.label}: for {'batched (3-D)' if batched else 'unbatched (2-D)'} `query`, expected "
                f"`key` and `value` to be {len(query)}-D but found {len(key)}-D and {len(value)}-D tensors "
                "respectively"
            )
        if not batched:
            return (
                (query[0], Integer(1), query[1]),
                (key[0], Integer(1), key[1]),
                (value[0], Integer(1), value[1]),
            )
        if self.batch_first:
            return _swap01(query), _swap01(key), _swap01(value)
        return query, key, value

    def shapes(self, shape: Any, need_weights: bool, average: bool) -> tuple:
        query, key, value = self._inputs(shape)
        batched = self._batched(shape)
        length, batch, width = query
        check_same(width, self.embed_dim, self.label, "query embedding dimension embed_dim =")
        check_same(key[-1], self.kdim, self.label, "key embedding dimension kdim =")
        check_same(value[-1], self.vdim, self.label, "value embedding dimension vdim =")
        check_same(key[0], value[0], self.label, "the key and value sequence lengths to agree: value has")
        check_same(key[1], batch, self.label, "key batch size equal to the query's:")
        check_same(value[1], batch, self.label, "value batch size equal to the query's:")
        source = key[0] + (1 if self.add_bias_kv else 0) + (1 if self.add_zero_attn else 0)
        out = (length, batch, self.embed_dim)
        if batched and self.batch_first:
            out = _swap01(out)
        heads = () if average else (self.num_heads,)
        weights: tuple | None = (batch, *heads, length, source)
        if not batched:
            out = (length, self.embed_dim)
            weights = (*heads, length, source)
        return out, (weights if need_weights else None)

    def _batched(self, shape: Any) -> bool:
        first = shape[0] if shape and isinstance(shape[0], tuple) else shape
        return len(first) == 3

    def flops(self, shape: tuple) -> sympy.Expr:
        """Projections (2·rows·in·out each), QKᵀ and A·V (2·N·L·S·E each), as torch's flop counter."""
        self.shapes(shape, True, True)
        query, key, _ = self._inputs(shape)
        length, batch, e = query[0], query[1], self.embed_dim
        source = key[0]
        keys = source + (1 if self.add_bias_kv else 0) + (1 if self.add_zero_attn else 0)
        projections = (
            2 * batch * (length * e * e + source * e * self.kdim + source * e * self.vdim + length * e * e)
        )
        return projections + 2 * (2 * batch * length * keys * e)


def _mha(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Layer:
    label = label_of("MultiheadAttention", args, kwargs)
    a = bind(
        "MultiheadAttention",
        [
            ("embed_dim", REQUIRED),
            ("num_heads", REQUIRED),
            ("dropout", Integer(0)),
            ("bias", True),
            ("add_bias_kv", False),
            ("add_zero_attn", False),
            ("kdim", None),
            ("vdim", None),
            ("batch_first", False),
        ],
        args,
        kwargs,
    )
    return multihead_attention(label, a["embed_dim"], a["num_heads"], a)


def multihead_attention(label: str, embed_dim: Any, num_heads: Any, a: dict) -> MultiheadAttention:
    e = positive(embed_dim, "embed_dim", label)
    h = positive(num_heads, "num_heads", label)
    if divisible(e, h) is False:
        raise CheckError(f"{label}: embed_dim must be divisible by num_heads ({short(e)} % {short(h)} != 0)")
    kdim = e if a.get("kdim") is None else positive(a["kdim"], "kdim", label)
    vdim = e if a.get("vdim") is None else positive(a["vdim"], "vdim", label)
    return MultiheadAttention(
        label,
        e,
        h,
        flag(a["bias"], "bias", label),
        flag(a.get("add_bias_kv", False), "add_bias_kv", label),
        flag(a.get("add_zero_attn", False), "add_zero_attn", label),
        kdim,
        vdim,
        flag(a["batch_first"], "batch_first", label),
    )


@dataclass(frozen=True)
class Block(Layer):
    """A Transformer layer: its sub-modules, as torch registers them."""

    mixes_positions: ClassVar[bool] = True

    attentions: tuple[MultiheadAttention, ...]  # self-attention, then cross-attention (decoder)
    feedforward: tuple[Linear, Linear]
    norms: tuple[LayerNorm, ...]

    def params(self) -> sympy.Expr:
        parts = (*self.attentions, *self.feedforward, *self.norms)
        return sympy.Add(*(p.params() for p in parts))

    def _split(self, shape: Any) -> tuple[tuple, tuple | None]:
        decoder = len(self.attentions) == 2
        if decoder:
            if not (
                isinstance(shape, tuple) and len(shape) == 2 and all(isinstance(s, tuple) for s in shape)
            ):
                raise CheckError(
                    f"{self.label}: give the shapes of (tgt, memory), e.g. ((T, N, E), (S, N, E))"
                )
            return shape[0], shape[1]
        return shape, None

    def output_shape(self, shape: Any) -> tuple:
        target, memory = self._split(shape)
        out, _ = self.attentions[0].shapes(target, False, True)
        if memory is not None:
            self.attentions[1].shapes((target, memory, memory), False, True)
        return out

    def flops(self, shape: Any) -> sympy.Expr:
        target, memory = self._split(shape)
        total = self.attentions[0].flops(target)
        if memory is not None:
            total += self.attentions[1].flops((target, memory, memory))
        tokens = product(self.output_shape(shape)[:-1])
        first, second = self.feedforward
        return total + 2 * tokens * (
            first.in_features * first.out_features + second.in_features * second.out_features
        )


def _block(name: str, decoder: bool) -> Builtin:
    signature = [
        ("d_model", REQUIRED),
        ("nhead", REQUIRED),
        ("dim_feedforward", Integer(2048)),
        ("dropout", Integer(1) / 10),
        ("activation", "relu"),
        ("layer_norm_eps", Integer(1) / 10**5),
        ("batch_first", False),
        ("norm_first", False),
        ("bias", True),
    ]

    def make(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Layer:
        label = label_of(name, args, kwargs)
        return block(label, bind(name, signature, args, kwargs), decoder)

    return make


def block(label: str, a: dict, decoder: bool) -> Block:
    if a["activation"] not in ("relu", "gelu"):
        raise CheckError(f"{label}: activation should be relu/gelu, not {short(a['activation'])}")
    flag(a["norm_first"], "norm_first", label)
    bias = flag(a["bias"], "bias", label)
    attention = multihead_attention(
        label, a["d_model"], a["nhead"], {"bias": bias, "batch_first": a["batch_first"]}
    )
    d = attention.embed_dim
    ff = positive(a["dim_feedforward"], "dim_feedforward", label)
    norms = tuple(LayerNorm(label, (d,), True, bias) for _ in range(3 if decoder else 2))
    attentions = (attention, attention) if decoder else (attention,)
    return Block(label, attentions, (Linear(label, d, ff, bias), Linear(label, ff, d, bias)), norms)


@dataclass(frozen=True)
class Stack(Layer):
    """TransformerEncoder/Decoder: num_layers deep copies of one layer, then an optional norm."""

    mixes_positions: ClassVar[bool] = True

    layer: Block
    num_layers: sympy.Expr
    norm: Layer | None

    def params(self) -> sympy.Expr:
        return self.num_layers * self.layer.params() + (self.norm.params() if self.norm else 0)

    def buffers(self) -> sympy.Expr:
        return self.num_layers * self.layer.buffers() + (self.norm.buffers() if self.norm else 0)

    def output_shape(self, shape: Any) -> tuple:
        out = self.layer.output_shape(shape)
        return self.norm.output_shape(out) if self.norm else out

    def flops(self, shape: Any) -> sympy.Expr:
        return self.num_layers * self.layer.flops(shape) + (
            self.norm.flops(self.layer.output_shape(shape)) if self.norm else 0
        )


def _stack(name: str, decoder: bool) -> Builtin:
    signature = [
        (f"{'decoder' if decoder else 'encoder'}_layer", REQUIRED),
        ("num_layers", REQUIRED),
        ("norm", None),
    ]
    if not decoder:
        signature += [("enable_nested_tensor", True), ("mask_check", True)]
    wanted = "TransformerDecoderLayer" if decoder else "TransformerEncoderLayer"

    def make(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Layer:
        label = label_of(name, args, kwargs)
        a = bind(name, signature, args, kwargs)
        layer = a[signature[0][0]]
        if not (isinstance(layer, Block) and (len(layer.attentions) == 2) == decoder):
            raise CheckError(f"{label}: the first argument must be a {wanted}, got {describe(layer)}")
        norm = a["norm"]
        if norm is not None and not isinstance(norm, Layer):
            raise CheckError(f"{label}: norm must be a layer such as LayerNorm(512), got {describe(norm)}")
        return Stack(label, layer, positive(a["num_layers"], "num_layers", label), norm)

    return make


@dataclass(frozen=True)
class Transformer(Layer):
    """nn.Transformer: an encoder stack and a decoder stack, each with a final LayerNorm."""

    mixes_positions: ClassVar[bool] = True

    encoder: Stack
    decoder: Stack

    def params(self) -> sympy.Expr:
        return self.encoder.params() + self.decoder.params()

    def _split(self, shape: Any) -> tuple[tuple, tuple]:
        if not (isinstance(shape, tuple) and len(shape) == 2 and all(isinstance(s, tuple) for s in shape)):
            raise CheckError(f"{self.label}: give the shapes of (src, tgt), e.g. ((S, N, E), (T, N, E))")
        return shape[0], shape[1]

    def output_shape(self, shape: Any) -> tuple:
        source, target = self._split(shape)
        memory = self.encoder.output_shape(source)
        return self.decoder.output_shape((target, memory))

    def flops(self, shape: Any) -> sympy.Expr:
        source, target = self._split(shape)
        memory = self.encoder.output_shape(source)
        return self.encoder.flops(source) + self.decoder.flops((target, memory))


def _transformer(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Layer:
    label = label_of("Transformer", args, kwargs)
    a = bind(
        "Transformer",
        [
            ("d_model", Integer(512)),
            ("nhead", Integer(8)),
            ("num_encoder_layers", Integer(6)),
            ("num_decoder_layers", Integer(6)),
            ("dim_feedforward", Integer(2048)),
            ("dropout", Integer(1) / 10),
            ("activation", "relu"),
            ("custom_encoder", None),
            ("custom_decoder", None),
            ("layer_norm_eps", Integer(1) / 10**5),
            ("batch_first", False),
            ("norm_first", False),
            ("bias", True),
        ],
        args,
        kwargs,
    )
    if a["custom_encoder"] is not None or a["custom_decoder"] is not None:
        raise CheckError(f"{label}: custom_encoder/custom_decoder are not supported here")
    stacks = []
    for decoder, count in ((False, "num_encoder_layers"), (True, "num_decoder_layers")):
        layer = block(label, a, decoder)
        norm = LayerNorm(label, layer.norms[0].normalized_shape, True, layer.norms[0].bias)
        stacks.append(Stack(label, layer, positive(a[count], count, label), norm))
    return Transformer(label, stacks[0], stacks[1])


def attention_flops(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """FLOPs of self-attention over one sequence: 8·L·d² (projections) + 4·L²·d (QKᵀ and A·V)."""
    a = bind(
        "attention_flops", [("seq_len", REQUIRED), ("d_model", REQUIRED), ("heads", Integer(1))], args, kwargs
    )
    length = positive(a["seq_len"], "seq_len", "attention_flops")
    layer = multihead_attention(
        "attention_flops", a["d_model"], a["heads"], {"bias": True, "batch_first": False}
    )
    return sympy.expand(layer.flops((length, Integer(1), layer.embed_dim)))


FUNCTIONS: dict[str, Builtin] = {
    "MultiheadAttention": _mha,
    "TransformerEncoderLayer": _block("TransformerEncoderLayer", False),
    "TransformerDecoderLayer": _block("TransformerDecoderLayer", True),
    "TransformerEncoder": _stack("TransformerEncoder", False),
    "TransformerDecoder": _stack("TransformerDecoder", True),
    "Transformer": _transformer,
    "attention_flops": attention_flops,
}
