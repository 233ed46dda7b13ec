"""Every figure kind: it renders, identical inputs give identical bytes, and its data is right."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from dldeck.figures import KINDS, render_figures
from dldeck.figures.examples import EXAMPLES
from dldeck.figures.render import prepare
from test_figures_support import card, collection

CASES = [
    pytest.param(kind, source, checks, id=f"{kind}-{number}")
    for kind, examples in EXAMPLES.items()
    for number, (_, source, checks) in enumerate(examples[:1])
]


def data_of(source: str, checks: str = ""):
    (job,) = prepare(collection(card(source, checks=checks)))
    return job.data


def test_every_registered_kind_has_an_example() -> None:
    assert set(EXAMPLES) == set(KINDS)


@pytest.mark.parametrize(("kind", "source", "checks"), CASES)
def test_kind_renders_identical_bytes_twice(kind: str, source: str, checks: str, tmp_path: Path) -> None:
    figures = collection(card(source, checks=checks))
    first = render_figures(figures, tmp_path / "a", jobs=1)
    second = render_figures(figures, tmp_path / "b", jobs=1)
    (one,) = first.values()
    (two,) = second.values()
    assert Path(one.svg_path).name == Path(two.svg_path).name
    assert Path(one.svg_path).name.startswith("fig-")
    svg = Path(one.svg_path).read_bytes()
    png = Path(one.png_path).read_bytes()
    assert svg == Path(two.svg_path).read_bytes()
    assert png == Path(two.png_path).read_bytes()
    assert svg.lstrip().startswith(b"<?xml") and b"<text" not in svg  # glyphs are paths: no font needed
    assert png.startswith(b"\x89PNG")
    assert b"Date" not in svg and b"Matplotlib v" not in png
    assert one.alt


# --------------------------------------------------------------------------- conv


@pytest.mark.parametrize(
    ("n", "k", "s", "p", "d"), [(5, 3, 1, 0, 1), (5, 3, 2, 1, 1), (7, 3, 1, 0, 2), (8, 4, 3, 2, 1)]
)
def test_conv_output_grid_matches_pytorch_rule(n: int, k: int, s: int, p: int, d: int) -> None:
    data = data_of(f"kind: conv\ninput: {n}\nkernel: {k}\nstride: {s}\npadding: {p}\ndilation: {d}\n")
    assert data.output_size == math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1
    slides = sum(1 for start in range(0, n + 2 * p, s) if start + d * (k - 1) <= n + 2 * p - 1)
    assert data.output_size == slides
    for taps in data.taps:
        assert len(taps) == k * k
        assert all(0 <= r < n + 2 * p and 0 <= c < n + 2 * p for r, c in taps)
    last = data.taps[-1]
    assert max(r for r, _ in last) == (data.output_size - 1) * s + d * (k - 1)


# --------------------------------------------------------------------------- transposed conv


def test_transposed_conv_zero_insertion_equals_scatter_definition() -> None:
    n, k, s, p, op = 3, 3, 2, 1, 1
    data = data_of(
        f"kind: transposed-conv\ninput: {n}\nkernel: {k}\nstride: {s}\npadding: {p}\noutput_padding: {op}\n"
    )
    assert data.output_size == (n - 1) * s - 2 * p + k + op
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, n))
    w = rng.normal(size=(k, k))
    # Scatter definition (PyTorch): each input pixel adds x·w at offset (i·s, j·s), then crop p.
    full = np.zeros(((n - 1) * s + k + op, (n - 1) * s + k + op))
    for i in range(n):
        for j in range(n):
            full[i * s : i * s + k, j * s : j * s + k] += x[i, j] * w
    scatter = full[p : p + data.output_size, p : p + data.output_size]
    # Zero-insertion view from the figure's data: stride-1 correlation with the flipped kernel.
    grid = np.zeros((data.expanded_size, data.expanded_size))
    for (r, c), (i, j) in data.sources.items():
        grid[r, c] = x[i, j]
    flipped = w[::-1, ::-1]
    gathered = np.array(
        [
            [np.sum(grid[r : r + k, c : c + k] * flipped) for c in range(data.output_size)]
            for r in range(data.output_size)
        ]
    )
    np.testing.assert_allclose(gathered, scatter, atol=1e-12)
    assert len(data.sources) == n * n


# --------------------------------------------------------------------------- overlap


def analytic_taps(n: int, k: int, s: int) -> np.ndarray:
    size = (n - 1) * s + k
    one_d = np.array([max(0, min(n - 1, y // s) - max(0, -(-(y - k + 1) // s)) + 1) for y in range(size)])
    return np.outer(one_d, one_d)


def test_overlap_counts_equal_analytic_tap_counts() -> None:
    data = data_of("kind: overlap\nkernel: [3, 4]\nstride: 2\ninput: 6\n")
    for k, counts in zip(data.kernels, data.counts, strict=True):
        np.testing.assert_array_equal(counts, analytic_taps(6, k, 2))
    interior3 = data.counts[0][2:-2, 2:-2]
    interior4 = data.counts[1][2:-2, 2:-2]
    assert set(np.unique(interior3)) == {1, 2, 4}  # the checkerboard
    assert set(np.unique(interior4)) == {4}  # even coverage when s divides k
    assert data.counts[0].sum() == 6 * 6 * 3 * 3  # every tap lands somewhere


# --------------------------------------------------------------------------- receptive field


def test_receptive_field_of_stacks() -> None:
    data = data_of("kind: receptive-field\nstacks: [[3, 3, 3], [7]]\n")
    three, seven = data.stacks
    assert three.receptive_field == 7 and seven.receptive_field == 7
    assert (three.weights_per_channel_pair, seven.weights_per_channel_pair) == (27, 49)
    assert [len(row) for row in three.rows] == [7, 5, 3, 1]


def test_dilated_stack_receptive_field_and_gridding_holes() -> None:
    data = data_of(
        "kind: receptive-field\nstacks: [[3, 3, 3], [3, 3, 3]]\ndilations: [[1, 2, 4], [2, 2, 2]]\n"
    )
    growing, constant = data.stacks
    assert growing.receptive_field == 1 + 2 * (1 + 2 + 4) == 15
    assert len(growing.rows[0]) == 15  # dense: no holes
    assert constant.receptive_field == 13
    assert all(position % 2 == 0 for position in constant.rows[0])  # gridding: odd inputs never read


def test_strided_stack_receptive_field() -> None:
    data = data_of("kind: receptive-field\nstacks: [[3, 3]]\nstrides: [[2, 1]]\n")
    assert data.stacks[0].receptive_field == 1 + 2 * 1 + 2 * 2  # r = 1 + Σ (k−1)·jump


# --------------------------------------------------------------------------- normalization axes


def test_norm_sets_match_numpy_reductions() -> None:
    data = data_of("kind: norm-axes\nnorms: [batch, layer, instance, group]\ngroups: 3\nshape: [2, 6, 4]\n")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 6, 4))
    expected = {
        "batch": x.mean(axis=(0, 2), keepdims=True) + 0 * x,
        "layer": x.mean(axis=(1, 2), keepdims=True) + 0 * x,
        "instance": x.mean(axis=2, keepdims=True) + 0 * x,
        "group": (x.reshape(2, 3, 2, 4).mean(axis=(2, 3), keepdims=True) + 0 * x.reshape(2, 3, 2, 4)).reshape(
            2, 6, 4
        ),
    }
    for norm, sets in zip(data.norms, data.sets, strict=True):
        means = np.bincount(sets.ravel(), weights=x.ravel()) / np.bincount(sets.ravel())
        np.testing.assert_allclose(means[sets], expected[norm], err_msg=norm)


# --------------------------------------------------------------------------- optimizers


def test_optimizer_paths_follow_their_update_rules() -> None:
    data = data_of("kind: optimizers\noptimizers: [sgd, adam]\nsteps: 60\nsurface: ellipse\n")
    sgd, adam = data.paths
    start = sgd[0]
    gradient = np.array([0.1 * start[0], 2.0 * start[1]])  # ∇(0.05x² + y²)
    np.testing.assert_allclose(sgd[1], start - data.learning_rates[0] * gradient)
    # Adam's bias-corrected first step moves each coordinate by lr against the gradient's sign.
    np.testing.assert_allclose(np.abs(adam[1] - adam[0]), data.learning_rates[1], rtol=1e-6)
    assert np.linalg.norm(adam[-1] - np.array(data.minimum)) < 0.1
    assert len(adam) == 61


def test_rosenbrock_paths_descend() -> None:
    data = data_of("kind: optimizers\noptimizers: [adam, rmsprop]\nsteps: 300\nsurface: rosenbrock\n")

    def loss(p: np.ndarray) -> float:
        return float((1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2)

    for path in data.paths:
        assert loss(path[-1]) < loss(path[0]) / 10


# --------------------------------------------------------------------------- ema


def test_ema_bias_correction_starts_at_first_sample() -> None:
    data = data_of("kind: ema\nbeta: 0.9\nn: 50\nseed: 3\n")
    assert data.corrected[0] == pytest.approx(data.series[0])
    assert data.ema[0] == pytest.approx(0.1 * data.series[0])
    value = 0.0
    for t, sample in enumerate(data.series, start=1):
        value = 0.9 * value + 0.1 * sample
        assert data.ema[t - 1] == pytest.approx(value)
        assert data.corrected[t - 1] == pytest.approx(value / (1 - 0.9**t))
    assert abs(data.corrected[-1] - data.ema[-1]) < 0.01 * abs(data.ema[-1])


def test_ema_series_depends_on_seed_only() -> None:
    assert np.array_equal(data_of("kind: ema\nseed: 5\n").series, data_of("kind: ema\nseed: 5\n").series)
    assert not np.array_equal(data_of("kind: ema\nseed: 5\n").series, data_of("kind: ema\nseed: 6\n").series)


# --------------------------------------------------------------------------- lr schedules


def test_lr_schedules_hit_their_landmarks() -> None:
    data = data_of(
        "kind: lr-schedule\nschedules: [step, cosine, warmup-cosine]\nepochs: 100\nwarmup: 5\n"
        "lr: 0.1\nmin_lr: 0.001\nstep_size: 30\ngamma: 0.5\n"
    )
    step, cosine, warm = data.rates
    assert step[0] == pytest.approx(0.1) and step[29] == pytest.approx(0.1)
    assert step[30] == pytest.approx(0.05) and step[60] == pytest.approx(0.025)
    assert cosine[0] == pytest.approx(0.1) and cosine[-1] == pytest.approx(0.001)
    assert cosine[50] == pytest.approx((0.1 + 0.001) / 2)
    assert np.all(np.diff(cosine) <= 0)
    assert (
        warm[0] == pytest.approx(0.0) and warm[5] == pytest.approx(0.1) and warm[-1] == pytest.approx(0.001)
    )
    assert np.all(np.diff(warm[:6]) > 0)


# --------------------------------------------------------------------------- grouped conv


def test_group_conv_connectivity_counts() -> None:
    data = data_of("kind: group-conv\nin_channels: 8\nout_channels: 16\ngroups: [1, 2, 8]\n")
    for g, links in zip(data.groups, data.connections, strict=True):
        assert links.shape == (16, 8)
        assert links.sum() == 16 * 8 // g  # weights per k²: C_out · C_in / G
        assert np.all(links.sum(axis=1) == 8 // g)
    depthwise = data.connections[2]
    assert np.all(depthwise.sum(axis=1) == 1)


# --------------------------------------------------------------------------- function


def test_function_plot_values_come_from_card_definitions() -> None:
    title, source, checks = EXAMPLES["function"][0]
    data = data_of(source, checks)
    sigma = 1 / (1 + np.exp(-data.x))
    np.testing.assert_allclose(data.curves[0].y, sigma, rtol=1e-12)
    np.testing.assert_allclose(data.curves[1].y, sigma * (1 - sigma), rtol=1e-9)
    (mark,) = data.marks
    assert mark[:2] == (0.0, 0.25)
    assert data.x[0] == -6 and data.x[-1] == 6
    assert data.curves[1].y.max() == pytest.approx(0.25, abs=1e-6)


def test_function_default_labels_and_functions_numpy_lacks() -> None:
    data = data_of("plot: [erf(x), Heaviside(x)]\nx: [-2, 2]\n")
    assert data.curves[0].y[-1] == pytest.approx(math.erf(2))
    assert data.curves[1].y[0] == 0 and data.curves[1].y[-1] == 1
    assert data.curves[0].label.startswith("$")


def test_function_range_accepts_constant_expressions() -> None:
    data = data_of("plot: [sin(x)]\nx: [-pi, pi]\n")
    assert data.x[-1] == pytest.approx(math.pi)


def test_function_plots_a_bare_variable_but_not_a_relation() -> None:
    data = data_of("plot: [x, relu(x)]\nx: [-2, 2]\n", "relu(x) := Max(0, x)\n")
    np.testing.assert_allclose(data.curves[0].y, data.x)
    with pytest.raises(Exception, match="is not a function to plot"):
        data_of("plot: [x > 0]\nx: [-2, 2]\n")


# --------------------------------------------------------------------------- heatmap


def test_heatmap_causal_softmax_rows_are_attention_weights() -> None:
    data = data_of("kind: heatmap\nvalue: -abs(i - j)/2\nrows: 6\nmask: j > i\nsoftmax: true\n")
    assert data.values.shape == (6, 6)
    np.testing.assert_array_equal(data.masked, np.triu(np.ones((6, 6), dtype=bool), k=1))
    np.testing.assert_allclose(data.values.sum(axis=1), 1.0)
    assert np.all(data.values[data.masked] == 0)
    assert data.values[0, 0] == pytest.approx(1.0)  # the first query sees only itself
    row = np.exp(-np.abs(3 - np.arange(4)) / 2)
    np.testing.assert_allclose(data.values[3, :4], row / row.sum())


def test_heatmap_uses_card_definitions_and_plain_values() -> None:
    data = data_of("kind: heatmap\nvalue: score(i, j)\nrows: 3\ncols: 5\n", checks="score(a, b) := a*b + 1\n")
    assert not data.softmax and not data.masked.any()
    np.testing.assert_array_equal(data.values, np.outer(np.arange(3), np.arange(5)) + 1)


def test_heatmap_refuses_other_names_and_fully_masked_rows() -> None:
    with pytest.raises(Exception, match="only i \\(row\\) and j \\(column\\) vary"):
        data_of("kind: heatmap\nvalue: i + k\n")
    with pytest.raises(Exception, match="row i = 0 is masked entirely"):
        data_of("kind: heatmap\nvalue: i\nmask: j >= i\nsoftmax: true\n")
    with pytest.raises(Exception, match="expected true or false"):
        data_of("kind: heatmap\nvalue: i\nsoftmax: yes please\n")


# --------------------------------------------------------------------------- bars


def test_bars_values_are_evaluated_expressions() -> None:
    data = data_of(
        "kind: bars\nlabels: [weights, grads, master, m, v]\n"
        "values: [bytes_per('fp16'), bytes_per('bf16'), bytes_per('fp32'), 2*k, sqrt(16)]\n"
        "total: true\n",
        checks="k := 2\n",
    )
    assert data.labels == ("weights", "grads", "master", "m", "v")
    assert data.values == (2.0, 2.0, 4.0, 4.0, 4.0)
    assert data.total == 16.0


def test_bars_total_only_when_asked() -> None:
    assert data_of("kind: bars\nlabels: [a, b]\nvalues: [1, 1/4]\n").total is None

