"""How many kernel taps land on each output pixel of a transposed convolution.

Each input pixel scatters a k×k copy of the kernel at offset (i·s, j·s); when s does not divide
k the copies overlap unevenly and the counts form the checkerboard behind upsampling artefacts
(Odena et al., "Deconvolution and Checkerboard Artifacts", Distill 2016).
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from dldeck.figures import style
from dldeck.figures.kind import FigureKind, Params
from dldeck.figures.params import Int, ListOf

KEYS = {
    "kernel": ListOf(Int(1, 8), min_len=1, max_len=3, default=(3, 4)),
    "stride": Int(1, 4, default=2),
    "input": Int(1, 10, default=6),
}


@dataclass(frozen=True)
class OverlapData:
    stride: int
    input_size: int
    kernels: tuple[int, ...]
    counts: tuple[np.ndarray, ...]  # one (out, out) integer array per kernel


def scatter_counts(n: int, k: int, s: int) -> np.ndarray:
    """Scatter an all-ones k×k kernel from every input pixel and count hits per output pixel."""
    out = (n - 1) * s + k
    counts = np.zeros((out, out), dtype=np.int64)
    for i in range(n):
        for j in range(n):
            counts[i * s : i * s + k, j * s : j * s + k] += 1
    return counts


def compute(params: Params) -> OverlapData:
    n, s = params["input"], params["stride"]
    kernels = tuple(params["kernel"])
    return OverlapData(s, n, kernels, tuple(scatter_counts(n, k, s) for k in kernels))


def draw(data: OverlapData, fig: Figure) -> None:
    """One panel per kernel; the shade of a cell is its tap count, named in a legend below (numbers
    in the cells only when a cell is big enough for 10 pt text)."""
    axes = fig.subplots(1, len(data.kernels), squeeze=False)[0]
    top = max(int(c.max()) for c in data.counts)
    cmap = matplotlib.colormaps["Blues"]
    norm = matplotlib.colors.Normalize(vmin=0, vmax=top * 1.35)
    for ax, k, counts in zip(axes, data.kernels, data.counts, strict=True):
        ax.imshow(counts, cmap=cmap, norm=norm, interpolation="nearest")
        size = counts.shape[0]
        cell_pt = style.WIDTH_IN * 72 * 0.9 / len(data.kernels) / size
        if cell_pt >= 1.3 * style.MIN_FONT_PT:
            for (r, c), value in np.ndenumerate(counts):
                ax.text(c, r, str(value), ha="center", va="center", fontsize=style.MIN_FONT_PT,
                        color="white" if value > 0.6 * top else "black")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(True)
            spine.set_color(style.GRID_EDGE)
        even = "均匀" if k % data.stride == 0 else "棋盘格"
        ax.set_title(f"k={k}, s={data.stride}：{even}")
    values = sorted({int(v) for counts in data.counts for v in np.unique(counts)})
    handles = [Patch(facecolor=cmap(norm(v)), edgecolor=style.GRID_EDGE, label=str(v)) for v in values]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(values), frameon=False,
               title="覆盖次数", title_fontsize=style.MIN_FONT_PT, handlelength=1.0, columnspacing=0.8)
    fig.suptitle(f"转置卷积：每个输出像素被几个核抽头覆盖\n（输入 {data.input_size}×{data.input_size}）")


def describe(params: Params) -> str:
    kernels = "、".join(str(k) for k in params["kernel"])
    return f"转置卷积重叠次数：卷积核 {kernels}，步长 {params['stride']}"


def size(data: OverlapData) -> tuple[float, float]:
    return (style.WIDTH_IN, 1.05 + style.WIDTH_IN / len(data.kernels))


KIND = FigureKind("overlap", KEYS, compute, draw, describe, size)
