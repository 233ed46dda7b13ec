"""Layer arithmetic against PyTorch's documented formulas, on generated configurations.

Expected values are written here independently of dldeck.verify.layers: output sizes by
enumerating window positions over the padded input (not by the closed-form floor/ceil formula),
parameter counts by listing each weight tensor's shape as torch's `named_parameters` would.
"""

from __future__ import annotations

import math
import random

import pytest
import sympy

from dldeck.errors import BuildError
from dldeck.model import SourceSpan
from dldeck.verify.language import Scope, evaluate_expression

SPAN = SourceSpan("layers.md", 7)


def value(text: str, scope: Scope | None = None) -> object:
    result = evaluate_expression(text, scope or Scope(), SPAN)
    if isinstance(result, sympy.Tuple):
        return tuple(int(v) for v in result)
    return int(result)


def refused(text: str) -> str:
    with pytest.raises(BuildError) as caught:
        evaluate_expression(text, Scope(), SPAN)
    message = str(caught.value)
    assert message.startswith("layers.md:7: ")
    return message


# --------------------------------------------------------------------------- independent models


def windows_that_fit(length: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Count window starts 0, s, 2s, … whose dilated footprint lies inside the padded input."""
    padded = length + 2 * padding
    footprint = dilation * (kernel - 1) + 1
    count = 0
    while count * stride + footprint <= padded:
        count += 1
    return count


def pool_windows(length: int, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool) -> int:
    """Floor mode: full windows only. Ceil mode: one extra partial window when the last full one
    leaves elements uncovered (with no full window, "the last one" is the virtual one at -stride),
    unless that window would start in the right padding."""
    count = windows_that_fit(length, kernel, stride, padding, dilation)
    if ceil_mode:
        padded = length + 2 * padding
        footprint = dilation * (kernel - 1) + 1
        last_covered = (count - 1) * stride + footprint
        next_start = count * stride
        if last_covered < padded and next_start < length + padding:
            count += 1
    return count


def rnn_parameter_shapes(
    gates: int, input_size: int, hidden: int, layers: int, bias: bool, bidirectional: bool, proj: int
) -> list[tuple[int, ...]]:
    """The shapes torch lists as weight_ih_l{k}, weight_hh_l{k}, bias_*, weight_hr_l{k} (+ _reverse)."""
    shapes: list[tuple[int, ...]] = []
    directions = 2 if bidirectional else 1
    out = proj if proj else hidden
    for layer in range(layers):
        layer_input = input_size if layer == 0 else out * directions
        for _ in range(directions):
            shapes.append((gates * hidden, layer_input))
            shapes.append((gates * hidden, out))
            if bias:
                shapes += [(gates * hidden,), (gates * hidden,)]
            if proj:
                shapes.append((proj, hidden))
    return shapes


# --------------------------------------------------------------------------- convolutions


def test_conv2d_generated_configurations_match_window_counting():
    rng = random.Random(2024)
    checked = 0
    for _ in range(200):
        groups = rng.choice([1, 1, 2, 3, 4])
        cin, cout = groups * rng.randint(1, 4), groups * rng.randint(1, 4)
        k = (rng.randint(1, 5), rng.randint(1, 5))
        s = (rng.randint(1, 3), rng.randint(1, 3))
        p = (rng.randint(0, 3), rng.randint(0, 3))
        d = (rng.randint(1, 3), rng.randint(1, 3))
        h, w = rng.randint(1, 30), rng.randint(1, 30)
        bias = rng.random() < 0.5
        layer = (
            f"Conv2d({cin}, {cout}, {k}, stride={s}, padding={p}, dilation={d}, groups={groups}, bias={bias})"
        )
        expected_params = cout * (cin // groups) * k[0] * k[1] + (cout if bias else 0)
        assert value(f"params({layer})") == expected_params, layer
        out = (windows_that_fit(h, k[0], s[0], p[0], d[0]), windows_that_fit(w, k[1], s[1], p[1], d[1]))
        if min(out) < 1:
            assert "too small" in refused(f"output_shape({layer}, (2, {cin}, {h}, {w}))")
        else:
            assert value(f"output_shape({layer}, (2, {cin}, {h}, {w}))") == (2, cout, *out), layer
            assert value(f"output_shape({layer}, ({cin}, {h}, {w}))") == (cout, *out), layer
            checked += 1
    assert checked > 100


@pytest.mark.parametrize("dims", [1, 3])
def test_conv1d_and_conv3d_generated(dims: int):
    rng = random.Random(dims)
    for _ in range(60):
        k, s, p, d = rng.randint(1, 4), rng.randint(1, 3), rng.randint(0, 2), rng.randint(1, 2)
        sizes = [rng.randint(8, 20) for _ in range(dims)]
        layer = f"Conv{dims}d(4, 6, {k}, {s}, {p}, {d})"
        expected = tuple(windows_that_fit(n, k, s, p, d) for n in sizes)
        assert value(f"output_shape({layer}, (1, 4, {', '.join(map(str, sizes))}))") == (1, 6, *expected)
        assert value(f"params({layer})") == 6 * 4 * k**dims + 6


def test_same_padding_keeps_size_and_is_refused_with_stride():
    rng = random.Random(5)
    for _ in range(40):
        k, d, n = rng.randint(1, 6), rng.randint(1, 3), rng.randint(1, 25)
        layer = f"Conv2d(3, 5, {k}, padding='same', dilation={d})"
        assert value(f"output_shape({layer}, (1, 3, {n}, {n + 1}))") == (1, 5, n, n + 1)
    assert value("output_shape(Conv2d(3, 5, 3, padding='valid'), (1, 3, 10, 10))") == (1, 5, 8, 8)
    assert "not supported for strided convolutions" in refused("Conv2d(3, 5, 3, stride=2, padding='same')")
    assert "invalid padding string" in refused("Conv2d(3, 5, 3, padding='full')")


def test_groups_must_divide_both_channel_counts():
    assert "in_channels must be divisible by groups" in refused("Conv2d(6, 8, 3, groups=4)")
    assert "out_channels must be divisible by groups" in refused("Conv2d(8, 6, 3, groups=4)")
    assert value("params(Conv2d(8, 8, 3, groups=8, bias=False))") == 8 * 9  # depthwise


def test_group_conv_is_one_over_g_of_dense_symbolically():
    scope = Scope()
    scope.assume(("C", "N", "K", "G"), ("positive", "integer"))
    grouped = evaluate_expression("params(Conv2d(C, N, K, groups=G, bias=False))", scope, SPAN)
    dense = evaluate_expression("params(Conv2d(C, N, K, bias=False))", scope, SPAN)
    assert sympy.simplify(grouped * scope.symbol("G") - dense) == 0
    C, N, K = (scope.symbol(n) for n in "CNK")
    assert sympy.simplify(dense - C * N * K**2) == 0


def test_conv_transpose_generated_configurations():
    rng = random.Random(77)
    refusals = 0
    for _ in range(200):
        k, s, p, d = rng.randint(1, 5), rng.randint(1, 4), rng.randint(0, 2), rng.randint(1, 3)
        op = rng.randint(0, 3)
        n = rng.randint(1, 12)
        layer = f"ConvTranspose2d(4, 2, {k}, stride={s}, padding={p}, output_padding={op}, dilation={d})"
        if op >= s and op >= d:
            assert "output padding must be smaller than either stride or dilation" in refused(layer)
            refusals += 1
            continue
        expected = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
        if expected < 1:
            assert "too small" in refused(f"output_shape({layer}, (1, 4, {n}, {n}))")
            continue
        assert value(f"output_shape({layer}, (1, 4, {n}, {n}))") == (1, 2, expected, expected)
        # conv with the same settings maps the transposed output back to the input size
        if op == 0 or op < s:
            assert windows_that_fit(expected, k, s, p, d) == n
        assert value(f"params({layer})") == 4 * 2 * k * k + 2
    assert refusals > 10


def test_conv_transpose_symbolic_doubling():
    scope = Scope()
    scope.assume(("H",), ("positive", "integer"))
    shape = evaluate_expression(
        "output_shape(ConvTranspose2d(16, 8, 4, stride=2, padding=1), (1, 16, H, H))", scope, SPAN
    )
    assert tuple(shape) == (1, 8, 2 * scope.symbol("H"), 2 * scope.symbol("H"))


# --------------------------------------------------------------------------- pooling


def test_pooling_generated_including_ceil_mode():
    rng = random.Random(11)
    ceil_changed = 0
    for _ in range(300):
        k, s, d = rng.randint(1, 5), rng.randint(1, 4), rng.randint(1, 2)
        p = rng.randint(0, k // 2)
        n = rng.randint(1, 25)
        ceil_mode = rng.random() < 0.6
        layer = f"MaxPool2d({k}, {s}, {p}, {d}, ceil_mode={ceil_mode})"
        expected = pool_windows(n, k, s, p, d, ceil_mode)
        if expected < 1:
            assert "too small" in refused(f"output_shape({layer}, (1, 2, {n}, {n}))")
            continue
        assert value(f"output_shape({layer}, (1, 2, {n}, {n}))") == (1, 2, expected, expected), (layer, n)
        if ceil_mode and expected != pool_windows(n, k, s, p, d, False):
            ceil_changed += 1
    assert ceil_changed > 20


@pytest.mark.parametrize(
    ("length", "kernel", "stride", "padding", "expected"),
    [
        (5, 2, 2, 0, 3),  # partial last window inside the input: kept
        (5, 2, 2, 1, 3),  # ceil formula says 4, but that window would start in the right padding
        (6, 3, 2, 1, 4),  # partial window starts on the last real element: kept
        (4, 2, 2, 1, 3),  # floor already 3; ceil would start a 4th window in the padding
        (7, 3, 3, 1, 3),  # exact fit: ceil_mode changes nothing
        (1, 2, 2, 1, 1),
    ],
)
def test_ceil_mode_edge_cases(length: int, kernel: int, stride: int, padding: int, expected: int):
    assert pool_windows(length, kernel, stride, padding, 1, True) == expected
    layer = f"MaxPool1d({kernel}, {stride}, {padding}, ceil_mode=True)"
    assert value(f"output_shape({layer}, (1, 1, {length}))") == (1, 1, expected)
    avg = f"AvgPool1d({kernel}, {stride}, {padding}, True)"  # AvgPool's 4th positional is ceil_mode
    assert value(f"output_shape({avg}, (1, {length}))") == (1, expected)


def test_pool_padding_limit_and_default_stride():
    assert "pad should be at most half of kernel size" in refused("MaxPool2d(3, padding=2)")
    assert "pad should be at most half of kernel size" in refused("AvgPool2d(2, padding=2)")
    assert value("output_shape(MaxPool2d(2), (1, 3, 9, 9))") == (1, 3, 4, 4)  # stride defaults to kernel
    assert value("params(MaxPool2d(2))") == 0
    assert "unexpected keyword argument 'dilation'" in refused("AvgPool2d(2, dilation=2)")
    assert value("output_shape(AdaptiveAvgPool2d((7, None)), (2, 5, 13, 11))") == (2, 5, 7, 11)


# --------------------------------------------------------------------------- other layers


def test_norm_layers_count_parameters_not_buffers():
    assert value("params(BatchNorm2d(64))") == 128
    assert value("buffers(BatchNorm2d(64))") == 129  # running mean, var, num_batches_tracked
    assert value("params(BatchNorm1d(10, affine=False))") == 0
    assert value("params(InstanceNorm2d(10))") == 0
    assert value("params(InstanceNorm2d(10, affine=True))") == 20
    assert value("params(LayerNorm(512))") == 1024
    assert value("params(LayerNorm((4, 8)))") == 64
    assert value("params(LayerNorm(512, bias=False))") == 512
    assert value("params(LayerNorm(512, elementwise_affine=False))") == 0
    assert value("params(GroupNorm(8, 64))") == 128
    assert "divisible by num_groups" in refused("GroupNorm(5, 64)")
    assert value("output_shape(InstanceNorm2d(3), (3, 8, 8))") == (3, 8, 8)
    assert "expects num_features = 4" in refused("output_shape(BatchNorm2d(4), (1, 3, 8, 8))")


def test_linear_embedding_sequential():
    assert value("params(Linear(512, 10))") == 5130
    assert value("params(Linear(512, 10, bias=False))") == 5120
    assert value("output_shape(Linear(512, 10), (7, 3, 512))") == (7, 3, 10)
    assert value("params(Embedding(30000, 768))") == 30000 * 768
    assert value("output_shape(Embedding(100, 16), (4, 9))") == (4, 9, 16)
    net = "Sequential(Conv2d(3, 8, 3, padding=1), BatchNorm2d(8), ReLU(), MaxPool2d(2), Flatten(), "
    net += "Linear(8*4*4, 10))"
    assert value(f"params({net})") == (8 * 3 * 9 + 8) + 16 + (128 * 10 + 10)
    assert value(f"output_shape({net}, (5, 3, 8, 8))") == (5, 10)
    assert "expects in_features = 100" in refused("output_shape(Linear(100, 2), (1, 99))")


def test_recurrent_parameter_counts_generated():
    rng = random.Random(3)
    for _ in range(120):
        name, gates = rng.choice([("RNN", 1), ("LSTM", 4), ("GRU", 3)])
        input_size, hidden = rng.randint(1, 40), rng.randint(2, 40)
        layers, bias, bidirectional = rng.randint(1, 3), rng.random() < 0.7, rng.random() < 0.5
        proj = rng.randint(1, hidden - 1) if name == "LSTM" and rng.random() < 0.5 else 0
        args = f"{input_size}, {hidden}, num_layers={layers}, bias={bias}, bidirectional={bidirectional}"
        if proj:
            args += f", proj_size={proj}"
        shapes = rnn_parameter_shapes(gates, input_size, hidden, layers, bias, bidirectional, proj)
        assert value(f"params({name}({args}))") == sum(math.prod(s) for s in shapes), (name, args)
        out = (2 if bidirectional else 1) * (proj or hidden)
        assert value(f"output_shape({name}({args}), (9, 2, {input_size}))") == (9, 2, out)
    assert value("params(LSTM(10, 20))") == 2560  # the number torch prints for this module
    assert "only supported for LSTM" in refused("GRU(10, 20, proj_size=5)")
    assert "smaller than hidden_size" in refused("LSTM(10, 20, proj_size=20)")


# --------------------------------------------------------------------------- receptive field


def test_receptive_field_and_jump():
    assert value("receptive_field([Conv2d(1, 1, 3), Conv2d(1, 1, 3), Conv2d(1, 1, 3)])") == 7
    assert value("receptive_field([Conv2d(1, 1, 3, dilation=2)])") == 5  # not 7
    assert value("receptive_field([Conv2d(1, 1, 7, stride=2), MaxPool2d(3, 2), Conv2d(1, 1, 3)])") == 19
    assert value("jump([Conv2d(1, 1, 7, stride=2), MaxPool2d(3, 2), Conv2d(1, 1, 3)])") == 4
    assert value("receptive_field(Sequential(Conv2d(1, 1, 3), ReLU(), Conv2d(1, 1, (3, 5))))") == (5, 7)
    assert "no fixed window" in refused("receptive_field([Conv2d(1, 1, 3), Linear(4, 4)])")


def test_receptive_field_generated_against_pixel_tracing():
    """Trace which input pixels reach output pixel 0 through a 1-D stack, and count them."""
    rng = random.Random(8)
    for _ in range(60):
        layers = [(rng.randint(1, 5), rng.randint(1, 3), rng.randint(1, 2)) for _ in range(rng.randint(1, 4))]
        reach = {0}
        for kernel, stride, dilation in reversed(layers):
            reach = {o * stride + dilation * t for o in reach for t in range(kernel)}
        expected = max(reach) - min(reach) + 1
        text = ", ".join(f"Conv1d(1, 1, {k}, stride={s}, dilation={d})" for k, s, d in layers)
        assert value(f"receptive_field([{text}])") == expected, layers
