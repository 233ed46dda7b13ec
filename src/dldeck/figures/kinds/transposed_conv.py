"""Transposed convolution as an ordinary stride-1 convolution over a zero-inserted, padded input.

Between input pixels go s−1 zeros, around them k−1−p zeros (plus output_padding on the bottom
and right); a stride-1 k×k convolution over that grid gives s(i−1) − 2p + k + output_padding.
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
        raise SpecError(f"output size s(i−1) − 2p + k + output_padding = {out} < 1", key="padding")
    sources = {(border + i * s, border + j * s): (i, j) for i in range(n) for j in range(n)}
    return TransposedConvData(n, k, s, p, op, expanded, border, sources, out)


def draw(data: TransposedConvData, fig: Figure) -> None:
    """The zero-inserted grid large on the left, input and output stacked on the right. Input pixels
    are numbered 1, 2, … and keep their numbers where they land (no per-cell "0": zeros are the dashed
    grey cells), so every label is 10 pt at 3.6 in. Names as in the card: i, k, s, p, output_padding."""
    n, e, o = data.input_size, data.expanded_size, data.output_size
    grid = fig.add_gridspec(2, 2, width_ratios=[e, max(o, n) * 0.75], height_ratios=[n, o])
    big = fig.add_subplot(grid[:, 0])
    small_in = fig.add_subplot(grid[0, 1])
    small_out = fig.add_subplot(grid[1, 1])
    input_color = style.PALETTE[0]
    window_color = style.PALETTE[1]
    cell_pt = style.WIDTH_IN * 72 * 0.55 / e
    numbered = cell_pt >= 1.1 * style.MIN_FONT_PT * len(str(n * n))
    numbers = {(i, j): str(i * n + j + 1) for i in range(n) for j in range(n)}

    grid_axes(small_in, n, n)
    draw_cells(small_in, n, n, {cell: lighten(input_color, 0.5) for cell in numbers},
               numbers if numbered else None, fontsize=style.MIN_FONT_PT)
    small_in.set_title(f"输入 {n}×{n}")

    grid_axes(big, e, e)
    inner = range(data.border, data.border + (n - 1) * data.stride + 1)
    fills = {(r, c): style.PAD_FILL for r in range(e) for c in range(e) if r not in inner or c not in inner}
    fills.update({cell: lighten(input_color, 0.5) for cell in data.sources})
    texts = {cell: numbers[source] for cell, source in data.sources.items()} if numbered else None
    zeros = {(r, c) for r in range(e) for c in range(e) if (r, c) not in data.sources}
    draw_cells(big, e, e, fills, texts, dashed=zeros, fontsize=style.MIN_FONT_PT)
    outline(big, 0, 0, data.kernel, data.kernel, window_color)
    big.set_title(f"插零 s−1={data.stride - 1}，补零 k−1−p={data.border}\n→ {e}×{e}")

    grid_axes(small_out, o, o)
    draw_cells(small_out, o, o, {(0, 0): lighten(window_color, 0.45)})
    small_out.set_title(f"输出 {o}×{o}")
    fig.suptitle(
        f"i={n}, k={data.kernel}, s={data.stride}, p={data.padding}, output_padding={data.output_padding}\n"
        r"$o=s(i-1)-2p+k+\mathrm{output\_padding}=$" + f"{o}",
    )


def describe(params: Params) -> str:
    data = compute(params)
    return (
        f"转置卷积的插零视角：输入 {data.input_size}×{data.input_size}，步长 {data.stride}，"
        f"插零并补零后 {data.expanded_size}×{data.expanded_size}，输出 {data.output_size}×{data.output_size}"
    )


def size(data: TransposedConvData) -> tuple[float, float]:
    return (style.WIDTH_IN, 3.3)


KIND = FigureKind("transposed-conv", KEYS, compute, draw, describe, size)
