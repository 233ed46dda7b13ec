"""Layer arithmetic against real torch modules, when torch is installed.

torch is not a dependency of dldeck (the optional `facts` extra installs torch 2.13 CPU); without
it this module is skipped. With it, a seeded sample of configurations is built both ways and
compared: parameter and buffer counts (`numel` summed over named_parameters/named_buffers), output
shapes of a forward pass on zero tensors, FLOPs from torch.utils.flop_counter, dtype limits from
torch.finfo, and every configuration torch refuses is refused here as well.
"""

from __future__ import annotations

import random

import pytest
import sympy

from dldeck.errors import BuildError
from dldeck.model import SourceSpan
from dldeck.verify.language import Scope, evaluate_expression

torch = pytest.importorskip("torch", reason="torch is not installed (the optional facts extra installs it)")
nn = torch.nn
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

SPAN = SourceSpan("torch.md", 3)
pytestmark = [
    pytest.mark.filterwarnings("ignore:enable_nested_tensor is True"),
    pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel"),
]


def ours(text: str) -> object:
    result = evaluate_expression(text, Scope(), SPAN)
    return _plain(result)


def _plain(value: object) -> object:
    if isinstance(value, tuple | sympy.Tuple):
        return tuple(_plain(v) for v in value)
    if value is None:
        return None
    return int(value) if value == int(value) else value


def refused_by_us(text: str) -> str:
    with pytest.raises(BuildError) as caught:
        evaluate_expression(text, Scope(), SPAN)
    return str(caught.value)


def counts(module: object) -> tuple[int, int]:
    params = sum(p.numel() for p in module.parameters())
    buffers = sum(b.numel() for b in module.buffers())
    return params, buffers


def flops_of(module: object, *inputs: object, **kwargs: object) -> int:
    with FlopCounterMode(display=False) as counter:
        module(*inputs, **kwargs)
    return counter.get_total_flops()


def shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


# --------------------------------------------------------------------------- attention


def test_multihead_attention_against_torch():
    rng = random.Random(14)
    for _ in range(40):
        heads = rng.choice([1, 2, 4])
        e = heads * rng.randint(1, 6)
        kdim = rng.choice([None, e, rng.randint(1, 9)])
        vdim = rng.choice([None, kdim, rng.randint(1, 9)])
        options = dict(
            bias=rng.random() < 0.7,
            add_bias_kv=rng.random() < 0.3,
            add_zero_attn=rng.random() < 0.3,
            batch_first=rng.random() < 0.5,
        )
        kw = {k: v for k, v in options.items()} | {"kdim": kdim, "vdim": vdim}
        module = nn.MultiheadAttention(e, heads, **kw)
        text = f"MultiheadAttention({e}, {heads}, " + ", ".join(f"{k}={v}" for k, v in kw.items()) + ")"
        assert ours(f"params({text})") == counts(module)[0], text
        length, source, batch = rng.randint(1, 5), rng.randint(1, 5), rng.randint(1, 3)
        k_width, v_width = kdim or e, vdim or e
        if rng.random() < 0.25:  # unbatched
            q, k, v = (length, e), (source, k_width), (source, v_width)
        elif options["batch_first"]:
            q, k, v = (batch, length, e), (batch, source, k_width), (batch, source, v_width)
        else:
            q, k, v = (length, batch, e), (source, batch, k_width), (source, batch, v_width)
        for need, average in ((True, True), (True, False), (False, True)):
            out, weights = module(
                torch.zeros(q),
                torch.zeros(k),
                torch.zeros(v),
                need_weights=need,
                average_attn_weights=average,
            )
            expected = (tuple(out.shape), None if weights is None else tuple(weights.shape))
            query = f"output_shape({text}, ({shape_text(q)}, {shape_text(k)}, {shape_text(v)}), "
            query += f"need_weights={need}, average_attn_weights={average})"
            assert ours(query) == expected, query
        flops = flops_of(module, torch.zeros(q), torch.zeros(k), torch.zeros(v))
        assert ours(f"flops({text}, ({shape_text(q)}, {shape_text(k)}, {shape_text(v)}))") == flops, text


def test_attention_flops_is_torch_self_attention():
    for length, d, heads in ((7, 16, 4), (3, 12, 3), (10, 8, 1)):
        module = nn.MultiheadAttention(d, heads)
        x = torch.zeros(length, 1, d)
        assert ours(f"attention_flops({length}, {d}, {heads})") == flops_of(module, x, x, x)


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_layers_and_stacks_against_torch(norm_first: bool):
    rng = random.Random(int(norm_first))
    for _ in range(12):
        heads = rng.choice([1, 2, 4])
        d, ff = heads * rng.randint(1, 4), rng.randint(1, 20)
        bias, batch_first = rng.random() < 0.6, rng.random() < 0.5
        activation = rng.choice(["relu", "gelu"])
        args = (
            f"{d}, {heads}, dim_feedforward={ff}, activation='{activation}', batch_first={batch_first}, "
            f"norm_first={norm_first}, bias={bias}"
        )
        kw = dict(
            dim_feedforward=ff,
            activation=activation,
            batch_first=batch_first,
            norm_first=norm_first,
            bias=bias,
        )
        encoder_layer = nn.TransformerEncoderLayer(d, heads, **kw)
        decoder_layer = nn.TransformerDecoderLayer(d, heads, **kw)
        assert ours(f"params(TransformerEncoderLayer({args}))") == counts(encoder_layer)[0]
        assert ours(f"params(TransformerDecoderLayer({args}))") == counts(decoder_layer)[0]
        layers = rng.randint(1, 3)
        encoder = nn.TransformerEncoder(encoder_layer, layers, norm=nn.LayerNorm(d))
        decoder = nn.TransformerDecoder(decoder_layer, layers)
        assert (
            ours(
                f"params(TransformerEncoder(TransformerEncoderLayer({args}), {layers}, norm=LayerNorm({d})))"
            )
            == counts(encoder)[0]
        )
        assert (
            ours(f"params(TransformerDecoder(TransformerDecoderLayer({args}), {layers}))")
            == counts(decoder)[0]
        )
        src = (2, 5, d) if batch_first else (5, 2, d)
        tgt = (2, 3, d) if batch_first else (3, 2, d)
        out = decoder_layer(torch.zeros(tgt), torch.zeros(src))
        shapes = f"({shape_text(tgt)}, {shape_text(src)})"
        assert ours(f"output_shape(TransformerDecoderLayer({args}), {shapes})") == tuple(out.shape)
        assert ours(f"output_shape(TransformerEncoderLayer({args}), {shape_text(src)})") == tuple(
            encoder_layer(torch.zeros(src)).shape
        )
        assert ours(f"flops(TransformerEncoderLayer({args}), {shape_text(src)})") == flops_of(
            encoder_layer, torch.zeros(src)
        )
        assert ours(f"flops(TransformerDecoderLayer({args}), {shapes})") == flops_of(
            decoder_layer, torch.zeros(tgt), torch.zeros(src)
        )
        model = nn.Transformer(
            d,
            heads,
            layers,
            layers,
            ff,
            activation=activation,
            batch_first=batch_first,
            norm_first=norm_first,
            bias=bias,
        )
        text = (
            f"Transformer({d}, {heads}, {layers}, {layers}, {ff}, activation='{activation}', "
            f"batch_first={batch_first}, norm_first={norm_first}, bias={bias})"
        )
        assert ours(f"params({text})") == counts(model)[0]
        assert ours(f"output_shape({text}, ({shape_text(src)}, {shape_text(tgt)}))") == tuple(
            model(torch.zeros(src), torch.zeros(tgt)).shape
        )


def test_attention_refusals_match_torch():
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(10, 3)
    assert "embed_dim must be divisible by num_heads" in refused_by_us("MultiheadAttention(10, 3)")
    with pytest.raises(RuntimeError, match="activation should be relu/gelu"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")
    assert "activation should be relu/gelu" in refused_by_us(
        "TransformerEncoderLayer(8, 2, activation='tanh')"
    )
    module = nn.MultiheadAttention(8, 2)
    with pytest.raises(AssertionError, match="was expecting embedding dimension of 8"):
        module(torch.zeros(3, 1, 6), torch.zeros(3, 1, 6), torch.zeros(3, 1, 6))
    assert "embed_dim = 8" in refused_by_us("output_shape(MultiheadAttention(8, 2), (3, 1, 6))")


# --------------------------------------------------------------------------- norms and reshaping


def test_norm_layers_against_torch():
    rng = random.Random(7)
    for _ in range(60):
        c = rng.randint(1, 12)
        affine, bias, track = rng.random() < 0.7, rng.random() < 0.6, rng.random() < 0.6
        cases = [
            (
                nn.BatchNorm1d(c, affine=affine, track_running_stats=track, bias=bias),
                f"BatchNorm1d({c}, affine={affine}, track_running_stats={track}, bias={bias})",
            ),
            (nn.BatchNorm2d(c, affine=affine, bias=bias), f"BatchNorm2d({c}, affine={affine}, bias={bias})"),
            (
                nn.InstanceNorm2d(c, affine=affine, bias=bias),
                f"InstanceNorm2d({c}, affine={affine}, bias={bias})",
            ),
            (
                nn.LayerNorm((c, 3), elementwise_affine=affine, bias=bias),
                f"LayerNorm(({c}, 3), elementwise_affine={affine}, bias={bias})",
            ),
            (nn.RMSNorm(c, elementwise_affine=affine), f"RMSNorm({c}, elementwise_affine={affine})"),
        ]
        groups = rng.choice([g for g in range(1, c + 1) if c % g == 0])
        cases.append(
            (
                nn.GroupNorm(groups, c, affine=affine, bias=bias),
                f"GroupNorm({groups}, {c}, affine={affine}, bias={bias})",
            )
        )
        for module, text in cases:
            params, buffers = counts(module)
            assert (ours(f"params({text})"), ours(f"buffers({text})")) == (params, buffers), text
    with pytest.raises(ValueError, match="must be divisible by num_groups"):
        nn.GroupNorm(3, 8)
    assert "num_channels (8) must be divisible by num_groups (3)" in refused_by_us("GroupNorm(3, 8)")
    with pytest.raises(TypeError, match="positional"):
        nn.GroupNorm(2, 8, 1e-5, True, None, None, False)
    assert "unexpected keyword argument 'bias'" in refused_by_us("RMSNorm(8, bias=False)")
    with pytest.raises(TypeError, match="unexpected keyword argument 'bias'"):
        nn.RMSNorm(8, bias=False)


def _torch_error(function: object) -> str | None:
    try:
        function()
    except Exception as error:  # noqa: BLE001 - any torch refusal counts
        return str(error)
    return None


def test_shape_layers_against_torch():
    rng = random.Random(21)
    refusals = 0
    for _ in range(150):
        kind = rng.choice(["shuffle", "unshuffle", "upsample", "flatten"])
        if kind == "shuffle":
            r = rng.randint(1, 3)
            shape = (rng.randint(1, 2), rng.randint(1, 4) * rng.choice([1, r * r]), rng.randint(1, 4), 3)
            module, text = nn.PixelShuffle(r), f"PixelShuffle({r})"
        elif kind == "unshuffle":
            r = rng.randint(1, 3)
            shape = (1, rng.randint(1, 3), rng.randint(1, 7), rng.randint(1, 7))
            module, text = nn.PixelUnshuffle(r), f"PixelUnshuffle({r})"
        elif kind == "upsample":
            dims = rng.randint(1, 3)
            shape = (1, 2, *(rng.randint(1, 9) for _ in range(dims)))
            mode = rng.choice(
                ["nearest", "nearest-exact", "area", {1: "linear", 2: "bilinear", 3: "trilinear"}[dims]]
            )
            if rng.random() < 0.5:
                scale = rng.choice(["2", "1.5", "0.5", "0.3", "1.7", "3", "0.25"])
                module, text = (
                    nn.Upsample(scale_factor=float(scale), mode=mode),
                    f"Upsample(scale_factor={scale}, mode='{mode}')",
                )
            else:
                size = rng.randint(1, 9)
                module, text = nn.Upsample(size=size, mode=mode), f"Upsample(size={size}, mode='{mode}')"
        else:
            shape = tuple(rng.randint(1, 4) for _ in range(rng.randint(0, 4)))
            start, end = rng.randint(-4, 3), rng.randint(-4, 3)
            module, text = nn.Flatten(start, end), f"Flatten({start}, {end})"
        problem = _torch_error(lambda module=module, shape=shape: module(torch.zeros(shape)))
        query = f"output_shape({text}, {shape_text(shape)})"
        if problem is None and 0 in module(torch.zeros(shape)).shape:
            # mode='area' pools to an empty tensor where the other modes raise: refused here alike
            assert "greater than 0" in refused_by_us(query), query
            continue
        if problem is None:
            assert ours(query) == tuple(module(torch.zeros(shape)).shape), query
        else:
            refused_by_us(query)
            refusals += 1
    assert refusals > 15


def test_conv_padding_modes_and_embedding_refusals_match_torch():
    rng = random.Random(3)
    for _ in range(80):
        mode = rng.choice(["reflect", "circular", "replicate", "zeros"])
        k, p, n = rng.randint(1, 5), rng.randint(0, 5), rng.randint(1, 6)
        same = rng.random() < 0.2
        padding = "'same'" if same else str(p)
        module = nn.Conv1d(1, 2, k, padding="same" if same else p, padding_mode=mode)
        text = f"output_shape(Conv1d(1, 2, {k}, padding={padding}, padding_mode='{mode}'), (1, 1, {n}))"
        problem = _torch_error(lambda module=module, n=n: module(torch.zeros(1, 1, n)))
        if problem is None:
            assert ours(text) == tuple(module(torch.zeros(1, 1, n)).shape), text
        else:
            refused_by_us(text)
    for index in range(-12, 12):
        problem = _torch_error(lambda index=index: nn.Embedding(10, 3, padding_idx=index))
        if problem is None:
            assert ours(f"params(Embedding(10, 3, padding_idx={index}))") == 30
        else:
            assert "Padding_idx must be within num_embeddings" in problem
            assert "Padding_idx must be within num_embeddings" in refused_by_us(
                f"Embedding(10, 3, padding_idx={index})"
            )
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions"):
        nn.Conv2d(1, 1, 3, stride=2, padding="same")
    assert "padding='same' is not supported for strided convolutions" in refused_by_us(
        "Conv2d(1, 1, 3, stride=2, padding='same')"
    )


# --------------------------------------------------------------------------- flops and dtypes


def test_conv_and_linear_flops_match_torchs_flop_counter():
    rng = random.Random(5)
    for _ in range(40):
        dims, groups = rng.randint(1, 3), rng.choice([1, 2])
        cin, cout = groups * rng.randint(1, 3), groups * rng.randint(1, 3)
        k, s, p = rng.randint(1, 3), rng.randint(1, 2), rng.randint(0, 1)
        sizes = tuple(rng.randint(3, 6) for _ in range(dims))
        bias = rng.random() < 0.5
        conv = getattr(nn, f"Conv{dims}d")(cin, cout, k, stride=s, padding=p, groups=groups, bias=bias)
        text = f"Conv{dims}d({cin}, {cout}, {k}, stride={s}, padding={p}, groups={groups}, bias={bias})"
        shape = (2, cin, *sizes)
        assert ours(f"flops({text}, {shape_text(shape)})") == flops_of(conv, torch.zeros(shape)), text
        transposed = getattr(nn, f"ConvTranspose{dims}d")(cin, cout, k, stride=s, groups=groups, bias=bias)
        text = f"ConvTranspose{dims}d({cin}, {cout}, {k}, stride={s}, groups={groups}, bias={bias})"
        assert ours(f"flops({text}, {shape_text(shape)})") == flops_of(transposed, torch.zeros(shape)), text
        linear = nn.Linear(cin, cout, bias=bias)
        shape = (3, 2, cin)
        text = f"Linear({cin}, {cout}, bias={bias})"
        assert ours(f"flops({text}, {shape_text(shape)})") == flops_of(linear, torch.zeros(shape))
        assert ours(f"macs({text}, {shape_text(shape)})") * 2 == flops_of(linear, torch.zeros(shape))


DTYPES = {
    "fp16": "float16",
    "bf16": "bfloat16",
    "fp32": "float32",
    "fp64": "float64",
    "fp8_e4m3": "float8_e4m3fn",
    "fp8_e5m2": "float8_e5m2",
}


@pytest.mark.parametrize("name", sorted(DTYPES))
def test_dtype_limits_are_torch_finfo(name: str):
    info = torch.finfo(getattr(torch, DTYPES[name]))
    exact = {
        "dtype_max": info.max,
        "dtype_eps": info.eps,
        "dtype_min_normal": info.smallest_normal,
        "dtype_min": info.min,
    }
    for function, expected in exact.items():
        value = evaluate_expression(f"{function}('{name}')", Scope(), SPAN)
        assert float(value) == expected, (function, name)
    assert evaluate_expression(f"bytes_per('{name}')", Scope(), SPAN) * 8 == info.bits
    smallest = torch.nextafter(torch.zeros(1, dtype=torch.float64), torch.ones(1, dtype=torch.float64))
    if name == "fp64":
        assert float(evaluate_expression("dtype_min_subnormal('fp64')", Scope(), SPAN)) == float(smallest)
    if name in ("fp16", "fp32"):  # the smallest positive value the format stores
        tiny = torch.tensor(
            float(evaluate_expression(f"dtype_min_subnormal('{name}')", Scope(), SPAN)),
            dtype=getattr(torch, DTYPES[name]),
        )
        assert tiny.item() > 0 and (tiny / 2).item() in (0.0, tiny.item())


def test_integer_dtype_limits_are_torch_iinfo():
    for name in ("int8", "uint8", "int32"):
        info = torch.iinfo(getattr(torch, name))
        assert evaluate_expression(f"dtype_max('{name}')", Scope(), SPAN) == info.max
        assert evaluate_expression(f"dtype_min('{name}')", Scope(), SPAN) == info.min
        assert evaluate_expression(f"bytes_per('{name}')", Scope(), SPAN) * 8 == info.bits
