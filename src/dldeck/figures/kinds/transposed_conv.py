"""Transposed convolution as an ordinary stride-1 convolution over a zero-inserted, padded input.

Between input pixels go s−1 zeros, around them k−1−p zeros (plus output_padding on the bottom
and right); a stride-1 k×k convolution over that grid gives (n−1)s − 2p + k + output_padding.
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.figure import Figure

from dldeck.figures import style
from dldeck.figures.drawing import Cell, draw_cells, grid_axes, lighten, outline
from dldeck.figures.kind import FigureKind, Params
from dldeck.figures.params import Int, SpecError

KEYS = {
    "input": Int(1, 8, default=3),
    "kernel": Int(1, 7, default=3),
    "stride": Int(1, 4, default=2),
    "padding": Int(0, 6, default=0),
    "output_padding": Int(0, 3, default=0),
}


@dataclass(frozen=True)
class TransposedConvData:
    input_size: int
    kernel: int
    stride: int
    padding: int
    output_padding: int
    expanded_size: int  # side of the zero-inserted, padded grid
    border: int  # k − 1 − p zeros before the first input pixel
    sources: dict[Cell, Cell]  # expanded-grid cell → input pixel it holds (others are zeros)
    output_size: int


def output_size(n: int, k: int, s: int, p: int, output_padding: int) -> int:
    """PyTorch's ConvTranspose2d size rule (dilation 1)."""
    return (n - 1) * s - 2 * p + k + output_padding


def compute(params: Params) -> TransposedConvData:
    n, k, s = params["input"], params["kernel"], params["stride"]
    p, op = params["padding"], params["output_padding"]
    if op >= s:
        raise SpecError(
            f"output_padding {op} must be smaller than stride {s} (PyTorch refuses it)", key="output_padding"
        )
    border = k - 1 - p
    if border < 0:
        raise SpecError(
            f"padding {p} > kernel−1 = {k - 1}: the zero-insertion view would crop the input", key="padding"
        )
    inserted = (n - 1) * s + 1
    expanded = inserted + 2 * border + op
    out = output_size(n, k, s, p, op)
    if out < 1:
        raise SpecError(f"output size (n−1)s − 2p + k + output_padding = {out} < 1", key="padding")
    sources = {(border + i * s, border + j * s): (i, j) for i in range(n) for j in range(n)}
    return TransposedConvData(n, k, s, p, op, expanded, border, sources, out)


def draw(data: TransposedConvData, fig: Figure) -> None:
    n, e, o = data.input_size, data.expanded_size, data.output_size
    axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": [max(n, e * 0.45), e, max(o, e * 0.45)]})
    input_color = style.PALETTE[0]
    window_color = style.PALETTE[1]

    ax = axes[0]
    grid_axes(ax, n, n)
    draw_cells(
        ax,
        n,
        n,
        {(i, j): lighten(input_color, 0.5) for i in range(n) for j in range(n)},
        {(i, j): f"x{i}{j}" if n <= 4 else "" for i in range(n) for j in range(n)},
        fontsize=6,
    )
    ax.set_title(f"输入 {n}×{n}")

    ax = axes[1]
    grid_axes(ax, e, e)
    inner = range(data.border, data.border + (n - 1) * data.stride + 1)
    fills = {(r, c): style.PAD_FILL for r in range(e) for c in range(e) if r not in inner or c not in inner}
    fills.update({cell: lighten(input_color, 0.5) for cell in data.sources})
    texts = {
        (r, c): (f"x{data.sources[(r, c)][0]}{data.sources[(r, c)][1]}" if (r, c) in data.sources else "0")
        for r in range(e)
        for c in range(e)
    }
    zeros = {(r, c) for r in range(e) for c in range(e) if (r, c) not in data.sources}
    draw_cells(ax, e, e, fills, texts if e <= 11 else None, dashed=zeros, fontsize=5)
    outline(ax, 0, 0, data.kernel, data.kernel, window_color)
    ax.set_title(f"插零 (s−1={data.stride - 1}) + 补零 (k−1−p={data.border})：{e}×{e}")

    ax = axes[2]
    grid_axes(ax, o, o)
    draw_cells(ax, o, o, {(0, 0): lighten(window_color, 0.45)})
    ax.set_title(f"输出 {o}×{o}")
    fig.suptitle(
        f"转置卷积 k={data.kernel}, s={data.stride}, p={data.padding}, output_padding={data.output_padding}："
        f"(n−1)s − 2p + k + op = {o}",
        fontsize=9,
    )


def describe(params: Params) -> str:
    data = compute(params)
    return (
        f"转置卷积的插零视角：输入 {data.input_size}×{data.input_size}，步长 {data.stride}，"
        f"插零并补零后 {data.expanded_size}×{data.expanded_size}，输出 {data.output_size}×{data.output_size}"
    )


def size(data: TransposedConvData) -> tuple[float, float]:
    return (style.WIDTH_IN, 2.9)


KIND = FigureKind("transposed-conv", KEYS, compute, draw, describe, size)
