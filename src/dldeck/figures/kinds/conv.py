"""One 2-D convolution: padded input, kernel footprint (with dilation) at a few window
positions, and the output grid those positions produce."""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.figure import Figure

from dldeck.figures import style
from dldeck.figures.drawing import Cell, draw_cells, grid_axes, lighten, outline
from dldeck.figures.kind import FigureKind, Params
from dldeck.figures.params import Int, SpecError

KEYS = {
    "input": Int(1, 16, default=5),
    "kernel": Int(1, 9, default=3),
    "stride": Int(1, 5, default=1),
    "padding": Int(0, 4, default=0),
    "dilation": Int(1, 4, default=1),
}


def output_size(n: int, k: int, s: int, p: int, d: int) -> int:
    """PyTorch's Conv2d size rule (floor mode)."""
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


@dataclass(frozen=True)
class ConvData:
    input_size: int
    kernel: int
    stride: int
    padding: int
    dilation: int
    padded_size: int
    footprint: int  # d(k-1)+1: the side of the window the kernel spans
    output_size: int
    positions: tuple[Cell, ...]  # output pixels whose windows are drawn
    taps: tuple[tuple[Cell, ...], ...]  # for each position, the padded-input cells it reads


def window_taps(position: Cell, kernel: int, stride: int, dilation: int) -> tuple[Cell, ...]:
    i, j = position
    return tuple(
        (i * stride + dilation * a, j * stride + dilation * b) for a in range(kernel) for b in range(kernel)
    )


def compute(params: Params) -> ConvData:
    n, k, s = params["input"], params["kernel"], params["stride"]
    p, d = params["padding"], params["dilation"]
    footprint = d * (k - 1) + 1
    o = output_size(n, k, s, p, d)
    if o < 1:
        raise SpecError(
            f"the kernel spans {footprint}×{footprint} cells (d·(k−1)+1) but the padded input is only "
            f"{n + 2 * p}×{n + 2 * p}: no output",
            key="kernel",
        )
    if p >= footprint:
        raise SpecError(
            f"padding {p} ≥ kernel footprint {footprint}: windows would read only zeros", key="padding"
        )
    candidates = [(0, 0), (0, 1), (o - 1, o - 1)]
    positions = tuple(dict.fromkeys(c for c in candidates if c[0] < o and c[1] < o))
    taps = tuple(window_taps(pos, k, s, d) for pos in positions)
    return ConvData(n, k, s, p, d, n + 2 * p, footprint, o, positions, taps)


def draw(data: ConvData, fig: Figure) -> None:
    panels = len(data.positions) + 1
    size = data.padded_size
    ratios = [size] * len(data.positions) + [max(data.output_size, size * 0.55)]
    axes = fig.subplots(1, panels, gridspec_kw={"width_ratios": ratios})
    pad_cells = {
        (r, c)
        for r in range(size)
        for c in range(size)
        if min(r, c) < data.padding or max(r, c) >= data.padding + data.input_size
    }
    for index, (ax, position, taps) in enumerate(zip(axes, data.positions, data.taps, strict=False)):
        color = style.PALETTE[index]
        fills = {cell: style.PAD_FILL for cell in pad_cells}
        fills.update({cell: lighten(color, 0.45) for cell in taps})
        texts = {cell: "0" for cell in pad_cells}
        grid_axes(ax, size, size)
        draw_cells(ax, size, size, fills, texts, dashed=pad_cells, fontsize=6)
        top, left = taps[0]
        outline(ax, top, left, data.footprint, data.footprint, color)
        ax.set_title(f"输出 ({position[0]}, {position[1]})", color=color)
    out_ax = axes[-1]
    o = data.output_size
    grid_axes(out_ax, o, o)
    out_fills = {pos: lighten(style.PALETTE[i], 0.45) for i, pos in enumerate(data.positions)}
    draw_cells(out_ax, o, o, out_fills)
    out_ax.set_title(f"输出 {o}×{o}")
    fig.suptitle(
        f"输入 {data.input_size}×{data.input_size}, k={data.kernel}, s={data.stride}, "
        f"p={data.padding}, d={data.dilation}:  "
        r"$\lfloor (n+2p-d(k-1)-1)/s \rfloor + 1 = $" + f"{o}",
        fontsize=9,
    )


def describe(params: Params) -> str:
    data = compute(params)
    return (
        f"卷积示意：输入 {data.input_size}×{data.input_size}，卷积核 {data.kernel}，步长 {data.stride}，"
        f"填充 {data.padding}，空洞 {data.dilation}，输出 {data.output_size}×{data.output_size}"
    )


def size(data: ConvData) -> tuple[float, float]:
    return (style.WIDTH_IN, 2.6)


KIND = FigureKind("conv", KEYS, compute, draw, describe, size)
