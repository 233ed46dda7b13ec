"""Attention, Transformer, norm, reshaping layers and FLOPs against PyTorch's documented formulas.

As in test_layers_shapes.py, expected values are written here independently of
dldeck.verify.layers: parameter counts by listing the tensors torch's docs say each module
registers, shapes from the documented Shape sections, FLOPs by enumerating the multiply-adds.
"""

from __future__ import annotations

import itertools
import math
import random

import pytest
import sympy

from dldeck.errors import BuildError
from dldeck.model import SourceSpan
from dldeck.verify.language import Scope, evaluate_expression
from test_verify_claims import make_card, only, verify

SPAN = SourceSpan("attention.md", 4)


def value(text: str, scope: Scope | None = None) -> object:
    return plain(evaluate_expression(text, scope or Scope(), SPAN))


def plain(result: object) -> object:
    if isinstance(result, tuple | sympy.Tuple):
        return tuple(plain(v) for v in result)
    return None if result is None else int(result)


def refused(text: str) -> str:
    with pytest.raises(BuildError) as caught:
        evaluate_expression(text, Scope(), SPAN)
    message = str(caught.value)
    assert message.startswith("attention.md:4: ")
    return message


# --------------------------------------------------------------------------- independent models


def mha_tensors(e: int, kdim: int, vdim: int, bias: bool, bias_kv: bool) -> list[tuple[int, ...]]:
    """The parameters the MultiheadAttention docs list: in_proj_weight when kdim = vdim = embed_dim,
    else q_proj_weight, k_proj_weight, v_proj_weight; in_proj_bias; out_proj; bias_k, bias_v."""
    shapes: list[tuple[int, ...]] = [(3 * e, e)] if kdim == vdim == e else [(e, e), (e, kdim), (e, vdim)]
    if bias:
        shapes.append((3 * e,))
    shapes.append((e, e))
    if bias:
        shapes.append((e,))
    if bias_kv:
        shapes += [(1, 1, e), (1, 1, e)]
    return shapes


def block_tensors(d: int, heads: int, ff: int, bias: bool, decoder: bool) -> list[tuple[int, ...]]:
    attention = mha_tensors(d, d, d, bias, False)
    linear1 = [(ff, d)] + ([(ff,)] if bias else [])
    linear2 = [(d, ff)] + ([(d,)] if bias else [])
    norm = [(d,)] + ([(d,)] if bias else [])
    return attention * (2 if decoder else 1) + linear1 + linear2 + norm * (3 if decoder else 2)


def numel(shapes: list[tuple[int, ...]]) -> int:
    return sum(math.prod(s) for s in shapes)


# --------------------------------------------------------------------------- attention


def test_multihead_attention_parameters_generated():
    rng = random.Random(141)
    for _ in range(200):
        heads = rng.randint(1, 8)
        e = heads * rng.randint(1, 16)
        kdim, vdim = rng.choice([e, rng.randint(1, 40)]), rng.choice([e, rng.randint(1, 40)])
        bias, bias_kv, zero = rng.random() < 0.7, rng.random() < 0.3, rng.random() < 0.3
        text = (
            f"MultiheadAttention({e}, {heads}, bias={bias}, add_bias_kv={bias_kv}, add_zero_attn={zero}, "
            f"kdim={kdim}, vdim={vdim})"
        )
        assert value(f"params({text})") == numel(mha_tensors(e, kdim, vdim, bias, bias_kv)), text
    assert value("params(MultiheadAttention(512, 8))") == 4 * 512 * 512 + 4 * 512


def test_multihead_attention_shapes_generated():
    """Docs: attn_output (L, N, E), or (N, L, E) with batch_first, (L, E) unbatched; weights
    (N, L, S) averaged or (N, num_heads, L, S), unbatched without N; add_bias_kv and add_zero_attn
    each append one key (the source length S grows by one)."""
    rng = random.Random(142)
    for _ in range(200):
        heads = rng.randint(1, 4)
        e, kdim, vdim = heads * rng.randint(1, 8), rng.randint(1, 9), rng.randint(1, 9)
        length, source, batch = rng.randint(1, 20), rng.randint(1, 20), rng.randint(1, 5)
        bias_kv, zero, batch_first = rng.random() < 0.3, rng.random() < 0.3, rng.random() < 0.5
        need, average, batched = rng.random() < 0.7, rng.random() < 0.5, rng.random() < 0.8
        layer = (
            f"MultiheadAttention({e}, {heads}, add_bias_kv={bias_kv}, add_zero_attn={zero}, kdim={kdim}, "
            f"vdim={vdim}, batch_first={batch_first})"
        )
        if not batched:
            q, k, v = (length, e), (source, kdim), (source, vdim)
        elif batch_first:
            q, k, v = (batch, length, e), (batch, source, kdim), (batch, source, vdim)
        else:
            q, k, v = (length, batch, e), (source, batch, kdim), (source, batch, vdim)
        s = source + bias_kv + zero
        heads_dim = () if average else (heads,)
        if not batched:
            expected_out, expected_weights = (length, e), (*heads_dim, length, s)
        else:
            expected_out = (batch, length, e) if batch_first else (length, batch, e)
            expected_weights = (batch, *heads_dim, length, s)
        text = f"output_shape({layer}, ({q}, {k}, {v}), need_weights={need}, average_attn_weights={average})"
        assert value(text) == (expected_out, expected_weights if need else None), text


def test_self_attention_shorthand_and_refusals():
    assert value("output_shape(MultiheadAttention(64, 8), (10, 2, 64))") == ((10, 2, 64), (2, 10, 10))
    assert "embed_dim must be divisible by num_heads" in refused("MultiheadAttention(100, 8)")
    assert "embed_dim = 64" in refused("output_shape(MultiheadAttention(64, 8), (10, 2, 32))")
    assert "expected `key` and `value` to be 3-D" in refused(
        "output_shape(MultiheadAttention(64, 8), ((10, 2, 64), (5, 64), (5, 64)))"
    )
    assert "only applies to MultiheadAttention" in refused(
        "output_shape(Linear(4, 4), (2, 4), need_weights=False)"
    )
    assert "unexpected keyword argument 'heads'" in refused("MultiheadAttention(64, heads=8)")


def test_transformer_blocks_generated():
    rng = random.Random(143)
    for _ in range(150):
        heads = rng.randint(1, 8)
        d, ff, layers = heads * rng.randint(1, 32), rng.randint(1, 256), rng.randint(1, 12)
        bias = rng.random() < 0.7
        args = f"{d}, {heads}, dim_feedforward={ff}, bias={bias}"
        encoder, decoder = block_tensors(d, heads, ff, bias, False), block_tensors(d, heads, ff, bias, True)
        assert value(f"params(TransformerEncoderLayer({args}))") == numel(encoder)
        assert value(f"params(TransformerDecoderLayer({args}))") == numel(decoder)
        final_norm = [(d,), (d,)] if bias else [(d,)]
        stack = (
            f"TransformerEncoder(TransformerEncoderLayer({args}), {layers}, norm=LayerNorm({d}, bias={bias}))"
        )
        assert value(f"params({stack})") == layers * numel(encoder) + numel(final_norm)
        assert value(
            f"params(TransformerDecoder(TransformerDecoderLayer({args}), {layers}))"
        ) == layers * numel(decoder)
        whole = f"Transformer({d}, {heads}, {layers}, {layers + 1}, {ff}, bias={bias})"
        expected = layers * numel(encoder) + (layers + 1) * numel(decoder) + 2 * numel(final_norm)
        assert value(f"params({whole})") == expected
    # the 2017 base model: 6 + 6 layers, d_model 512, 8 heads, d_ff 2048 (embeddings not included)
    assert value("params(Transformer())") == 44_140_544
    assert value("output_shape(Transformer(), ((10, 2, 512), (7, 2, 512)))") == (7, 2, 512)
    assert value(
        "output_shape(TransformerDecoderLayer(64, 4, batch_first=True), ((2, 7, 64), (2, 9, 64)))"
    ) == (
        2,
        7,
        64,
    )
    assert "activation should be relu/gelu" in refused("TransformerEncoderLayer(64, 4, activation='tanh')")
    assert "must be a TransformerEncoderLayer" in refused("TransformerEncoder(Linear(4, 4), 2)")
    assert "(tgt, memory)" in refused("output_shape(TransformerDecoderLayer(64, 4), (7, 2, 64))")


def test_symbolic_transformer_parameters():
    scope = Scope()
    scope.assume(("d", "h", "f"), ("positive", "integer"))
    count = evaluate_expression("params(TransformerEncoderLayer(d*h, h, dim_feedforward=f))", scope, SPAN)
    d, h, f = (scope.symbol(n) for n in "dhf")
    e = d * h
    assert sympy.expand(count - (4 * e * e + 4 * e + 2 * e * f + f + e + 4 * e)) == 0


# --------------------------------------------------------------------------- norms


def test_norm_parameters_with_bias_flags_generated():
    rng = random.Random(144)
    for _ in range(200):
        c = rng.randint(1, 64)
        affine, bias = rng.random() < 0.7, rng.random() < 0.5
        per = (2 if bias else 1) if affine else 0
        assert value(f"params(BatchNorm2d({c}, affine={affine}, bias={bias}))") == per * c
        assert value(f"params(InstanceNorm1d({c}, affine={affine}, bias={bias}))") == per * c
        groups = rng.choice([g for g in range(1, c + 1) if c % g == 0])
        assert value(f"params(GroupNorm({groups}, {c}, affine={affine}, bias={bias}))") == per * c
        shape = (c, rng.randint(1, 5))
        assert value(
            f"params(LayerNorm({shape}, elementwise_affine={affine}, bias={bias}))"
        ) == per * math.prod(shape)
        assert value(f"params(RMSNorm({shape}, elementwise_affine={affine}))") == (
            math.prod(shape) if affine else 0
        )
    assert value("output_shape(RMSNorm(16), (2, 7, 16))") == (2, 7, 16)
    assert "unexpected keyword argument 'bias'" in refused("RMSNorm(16, bias=False)")
    # torch 2.13: bias is keyword-only for BatchNorm/InstanceNorm/GroupNorm
    assert "positional arguments" in refused("GroupNorm(2, 4, 0.001, True, False)")
    assert "num_channels (10) must be divisible by num_groups (4)" in refused("GroupNorm(4, 10)")


# --------------------------------------------------------------------------- reshaping layers


def test_pixel_shuffle_and_unshuffle_generated():
    rng = random.Random(145)
    for _ in range(200):
        r, c, h, w = rng.randint(1, 4), rng.randint(1, 6), rng.randint(1, 9), rng.randint(1, 9)
        lead = tuple(rng.randint(1, 3) for _ in range(rng.randint(0, 2)))
        shape = (*lead, c * r * r, h, w)
        out = value(f"output_shape(PixelShuffle({r}), {shape})")
        assert out == (*lead, c, h * r, w * r)
        assert math.prod(out) == math.prod(shape)  # a rearrangement: no element is lost or made
        back = value(f"output_shape(PixelUnshuffle({r}), {out})")
        assert back == shape
    assert "divisible by the square of upscale_factor" in refused(
        "output_shape(PixelShuffle(2), (1, 6, 3, 3))"
    )
    assert "expects height to be divisible by downscale_factor" in refused(
        "output_shape(PixelUnshuffle(2), (1, 3, 5, 4))"
    )
    assert "at least 3 dimensions" in refused("output_shape(PixelShuffle(2), (8, 3))")
    assert "expects a positive upscale_factor" in refused("PixelShuffle(0)")


def test_upsample_generated():
    """Docs: output size floor(input size × scale_factor), computed in double precision by torch."""
    rng = random.Random(146)
    modes = {1: "linear", 2: "bilinear", 3: "trilinear"}
    for _ in range(200):
        dims = rng.randint(1, 3)
        sizes = tuple(rng.randint(1, 40) for _ in range(dims))
        scale = rng.choice(["2", "3", "1.5", "0.5", "0.75", "1.1", "2.5", "0.9"])
        mode = rng.choice(["nearest", modes[dims]])
        expected = tuple(math.floor(n * float(scale)) for n in sizes)
        layer = f"Upsample(scale_factor={scale}, mode='{mode}')"
        text = f"output_shape({layer}, (2, 3, {', '.join(map(str, sizes))}))"
        if min(expected) < 1:
            assert "greater than 0" in refused(text)
        else:
            assert value(text) == (2, 3, *expected), text
    assert value("output_shape(Upsample(size=(5, 7)), (1, 3, 2, 2))") == (1, 3, 5, 7)
    assert value("output_shape(Upsample(size=5), (1, 3, 2, 2, 2))") == (1, 3, 5, 5, 5)
    assert "only one of size or scale_factor" in refused("Upsample(size=4, scale_factor=2)")
    assert "either size or scale_factor" in refused("Upsample()")
    assert "align_corners option can only be set" in refused("Upsample(scale_factor=2, align_corners=True)")
    assert "bilinear mode needs 4D input" in refused(
        "output_shape(Upsample(scale_factor=2, mode='bilinear'), (1, 3, 8))"
    )


def test_flatten_generated():
    rng = random.Random(147)
    for _ in range(200):
        shape = tuple(rng.randint(1, 5) for _ in range(rng.randint(0, 5)))
        start, end = rng.randint(-6, 5), rng.randint(-6, 5)
        rank = max(len(shape), 1)
        text = f"output_shape(Flatten({start}, {end}), {shape})"
        bad = [d for d in (start, end) if not -rank <= d < rank]
        if bad:
            wanted = (
                f"Dimension out of range (expected to be in range of [{-rank}, {rank - 1}], but got {bad[0]})"
            )
            assert wanted in refused(text), text
            continue
        if not shape:
            assert value(text) == (1,)
            continue
        s, e = start % rank, end % rank
        if s > e:
            assert "start_dim cannot come after end_dim" in refused(text)
            continue
        assert value(text) == (*shape[:s], math.prod(shape[s : e + 1]), *shape[e + 1 :]), text


def test_embedding_padding_idx_and_conv_padding_modes():
    for index in range(-12, 12):
        text = f"params(Embedding(10, 4, padding_idx={index}))"
        if -10 <= index < 10:
            assert value(text) == 40
        else:
            assert "Padding_idx must be within num_embeddings" in refused(text)
    for pad in range(0, 7):
        for n in range(1, 7):
            reflect = f"output_shape(Conv1d(1, 1, 1, padding={pad}, padding_mode='reflect'), (1, 1, {n}))"
            circular = reflect.replace("reflect", "circular")
            if pad < n:
                assert value(reflect) == (1, 1, n + 2 * pad)
            else:
                assert "less than the corresponding input dimension" in refused(reflect)
            if pad <= n:
                assert value(circular) == (1, 1, n + 2 * pad)
            else:
                assert "wrapping around more than once" in refused(circular)
    # 'same' with kernel 4 pads 1 on the left and 2 on the right: 2 must be below the size too
    assert value("output_shape(Conv2d(1, 1, 4, padding='same', padding_mode='reflect'), (1, 1, 3, 3))") == (
        1,
        1,
        3,
        3,
    )
    assert "less than the corresponding input dimension" in refused(
        "output_shape(Conv2d(1, 1, 4, padding='same', padding_mode='reflect'), (1, 1, 2, 2))"
    )
    assert "padding='same' is not supported for strided convolutions" in refused(
        "Conv2d(1, 1, 3, stride=2, padding='same')"
    )
    assert "padding_mode must be one of" in refused("Conv2d(1, 1, 3, padding_mode='mirror')")


# --------------------------------------------------------------------------- FLOPs


def conv_macs(batch: int, cin: int, cout: int, groups: int, kernel: tuple, out: tuple) -> int:
    """One multiply-add per (output element, input channel of its group, kernel tap), enumerated."""
    count = 0
    for _ in itertools.product(range(batch), range(cout), *(range(o) for o in out)):
        count += (cin // groups) * math.prod(kernel)
    return count


def test_conv_and_linear_flops_generated():
    rng = random.Random(148)
    for _ in range(120):
        groups = rng.choice([1, 2, 3])
        cin, cout = groups * rng.randint(1, 3), groups * rng.randint(1, 3)
        k, s, p = (rng.randint(1, 3), rng.randint(1, 3)), rng.randint(1, 2), rng.randint(0, 1)
        h, w, batch = rng.randint(3, 8), rng.randint(3, 8), rng.randint(1, 2)
        bias = rng.random() < 0.5
        layer = f"Conv2d({cin}, {cout}, {k}, stride={s}, padding={p}, groups={groups}, bias={bias})"
        out = ((h + 2 * p - k[0]) // s + 1, (w + 2 * p - k[1]) // s + 1)
        macs = conv_macs(batch, cin, cout, groups, k, out)
        assert value(f"macs({layer}, ({batch}, {cin}, {h}, {w}))") == macs, layer
        assert value(f"flops({layer}, ({batch}, {cin}, {h}, {w}))") == 2 * macs, (
            layer
        )  # bias adds not counted
        tokens = rng.randint(1, 9)
        linear = f"Linear({cin}, {cout}, bias={bias})"
        assert value(f"macs({linear}, ({batch}, {tokens}, {cin}))") == batch * tokens * cin * cout
    assert value(
        "flops(Sequential(Linear(8, 16), ReLU(), LayerNorm(16), Linear(16, 4)), (5, 8))"
    ) == 2 * 5 * (8 * 16 + 16 * 4)
    assert "not counted" in refused("flops(LSTM(4, 8), (3, 1, 4))")


def test_attention_flops_formula():
    """Four d×d projections (8·L·d² FLOPs), QKᵀ and A·V (2·L²·d each): independent of the head count."""
    scope = Scope()
    scope.assume(("L", "d"), ("positive", "integer"))
    total = evaluate_expression("attention_flops(L, d)", scope, SPAN)
    length, d = scope.symbol("L"), scope.symbol("d")
    assert sympy.expand(total - (8 * length * d**2 + 4 * length**2 * d)) == 0
    assert value("attention_flops(128, 64, 8)") == value("attention_flops(128, 64, 1)")
    assert value("flops(MultiheadAttention(64, 8), (128, 1, 64))") == value("attention_flops(128, 64, 8)")
    assert "divisible by num_heads" in refused("attention_flops(128, 64, 7)")


def test_attention_weights_none_is_shown_in_a_failed_claim():
    source = """\
output_shape(MultiheadAttention(8, 2), (3, 1, 8), need_weights=False) == ((3, 1, 8), None)
output_shape(MultiheadAttention(8, 2), (3, 1, 8), need_weights=False) == ((3, 1, 8), (1, 3, 3))
"""
    report = verify(make_card("weights", (1, source)))
    assert only(report, 2).status == "symbolic"
    failed = only(report, 3)
    assert failed.status == "failed" and "computed ((3, 1, 8), None)" in failed.message
