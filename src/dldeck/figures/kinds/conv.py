"""One 2-D convolution: padded input, kernel footprint (with dilation) at a few window
positions, and the output grid those positions produce."""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

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
    """Two panels, so the cells stay big at 3.6 in: the padded input with every drawn window as a
    coloured outline (inset a little each, so overlapping windows stay apart), and the output grid
    whose cells take the same colours; with dilation, dots mark the cells the kernel reads. Names as
    in the card: i, k, s, p, d."""
    size = data.padded_size
    o = data.output_size
    axes = fig.subplots(1, 2, gridspec_kw={"width_ratios": [size, max(o, size * 0.5)]})
    pad_cells = {
        (r, c)
        for r in range(size)
        for c in range(size)
        if min(r, c) < data.padding or max(r, c) >= data.padding + data.input_size
    }
    ax = axes[0]
    grid_axes(ax, size, size)
    cell_pt = style.WIDTH_IN * 72 * 0.62 / size
    zeros = {cell: "0" for cell in pad_cells} if cell_pt >= 1.6 * style.MIN_FONT_PT else {}
    draw_cells(ax, size, size, {cell: style.PAD_FILL for cell in pad_cells}, zeros, dashed=pad_cells,
               fontsize=style.MIN_FONT_PT)
    for index, taps in enumerate(data.taps):
        top, left = taps[0]
        inset = 0.08 * index
        outline(ax, top + inset, left + inset, data.footprint - 2 * inset, data.footprint - 2 * inset,
                style.PALETTE[index])
        for cell in taps if data.dilation > 1 else ():  # which cells a dilated kernel reads
            ax.add_patch(Rectangle((cell[1] + 0.3, cell[0] + 0.3), 0.4, 0.4, color=style.PALETTE[index],
                                   alpha=0.55, linewidth=0))
    ax.set_title(f"输入 {data.input_size}×{data.input_size}，四周补零 {data.padding}")
    out_ax = axes[1]
    grid_axes(out_ax, o, o)
    out_fills = {pos: lighten(style.PALETTE[i], 0.45) for i, pos in enumerate(data.positions)}
    draw_cells(out_ax, o, o, out_fills)
    out_ax.set_title(f"输出 {o}×{o}")
    fig.suptitle(
        f"i={data.input_size}, k={data.kernel}, s={data.stride}, p={data.padding}, d={data.dilation}\n"
        r"$o=\lfloor (i+2p-d(k-1)-1)/s \rfloor + 1 = $" + f"{o}",
    )


def describe(params: Params) -> str:
    data = compute(params)
    return (
        f"卷积示意：输入 {data.input_size}×{data.input_size}，卷积核 {data.kernel}，步长 {data.stride}，"
        f"填充 {data.padding}，空洞 {data.dilation}，输出 {data.output_size}×{data.output_size}"
    )


def size(data: ConvData) -> tuple[float, float]:
    return (style.WIDTH_IN, 2.9)


KIND = FigureKind("conv", KEYS, compute, draw, describe, size)
