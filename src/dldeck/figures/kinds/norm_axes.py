"""Which elements share one mean and variance, for BatchNorm, LayerNorm, InstanceNorm, GroupNorm.

Drawn as in Wu & He, "Group Normalization" (2018), Fig. 2: an N × C × (H·W) block, the set
normalized together with element (0, 0, ·) shaded. The data is the full partition: every element
gets the id of the set it is normalized with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Polygon

from dldeck.figures import style
from dldeck.figures.kind import FigureKind, Params
from dldeck.figures.params import Choice, Int, ListOf, SpecError

NORMS = ("batch", "layer", "instance", "group")
TITLES = {"batch": "Batch Norm", "layer": "Layer Norm", "instance": "Instance Norm", "group": "Group Norm"}
KEYS = {
    "norms": ListOf(Choice(NORMS), min_len=1, max_len=4, unique=True, default=NORMS),
    "groups": Int(1, 16, default=2),
    "shape": ListOf(Int(1, 12), min_len=3, max_len=3, default=(4, 6, 5)),
}


@dataclass(frozen=True)
class NormAxesData:
    shape: tuple[int, int, int]  # N, C, H·W
    groups: int
    norms: tuple[str, ...]
    sets: tuple[np.ndarray, ...]  # per norm: int array of `shape`, equal ids = normalized together


def partition(norm: str, shape: tuple[int, int, int], groups: int) -> np.ndarray:
    n, c, hw = np.indices(shape)
    if norm == "batch":
        return c
    if norm == "layer":
        return n
    if norm == "instance":
        return n * shape[1] + c
    return n * groups + c // (shape[1] // groups)


def compute(params: Params) -> NormAxesData:
    shape = tuple(params["shape"])
    groups = params["groups"]
    norms = tuple(params["norms"])
    if "group" in norms and shape[1] % groups:
        raise SpecError(f"groups={groups} does not divide C={shape[1]} (GroupNorm needs it to)", key="groups")
    sets = tuple(partition(norm, shape, groups).astype(np.int64) for norm in norms)
    return NormAxesData(shape, groups, norms, sets)  # type: ignore[arg-type]


DEPTH = (0.5, 0.42)  # oblique projection of one step along N


def _face(ax, corners, shaded: bool) -> None:  # type: ignore[no-untyped-def]
    ax.add_patch(
        Polygon(
            corners,
            closed=True,
            facecolor=style.SHADE if shaded else "white",
            edgecolor=style.GRID_EDGE,
            linewidth=0.5,
        )
    )


def _draw_block(ax, mask: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    """Visible faces of the N×C×HW block: front (n=0), top (last HW row), right (last C)."""
    n_size, c_size, hw_size = mask.shape
    dx, dy = DEPTH

    def at(c: float, h: float, n: float) -> tuple[float, float]:
        return (c + n * dx, h + n * dy)

    for c in range(c_size):
        for h in range(hw_size):
            _face(
                ax, [at(c, h, 0), at(c + 1, h, 0), at(c + 1, h + 1, 0), at(c, h + 1, 0)], bool(mask[0, c, h])
            )
    for c in range(c_size):
        for n in range(n_size):
            top = hw_size
            corners = [at(c, top, n), at(c + 1, top, n), at(c + 1, top, n + 1), at(c, top, n + 1)]
            _face(ax, corners, bool(mask[n, c, hw_size - 1]))
    for n in range(n_size):
        for h in range(hw_size):
            right = c_size
            corners = [at(right, h, n), at(right, h, n + 1), at(right, h + 1, n + 1), at(right, h + 1, n)]
            _face(ax, corners, bool(mask[n, c_size - 1, h]))
    ax.annotate(
        "",
        xy=at(c_size, -0.7, 0),
        xytext=at(0, -0.7, 0),
        arrowprops={"arrowstyle": "->", "linewidth": 0.8},
    )
    ax.text(*at(c_size / 2, -1.5, 0), "C", ha="center", va="center", fontsize=style.MIN_FONT_PT)
    ax.annotate(
        "",
        xy=at(-0.5, hw_size, 0),
        xytext=at(-0.5, 0, 0),
        arrowprops={"arrowstyle": "->", "linewidth": 0.8},
    )
    ax.text(*at(-1.3, hw_size / 2, 0), "H,W", ha="center", va="center", rotation=90,
            fontsize=style.MIN_FONT_PT)
    ax.annotate(
        "",
        xy=at(c_size + 0.5, 0, n_size),
        xytext=at(c_size + 0.5, 0, 0),
        arrowprops={"arrowstyle": "->", "linewidth": 0.8},
    )
    ax.text(*at(c_size + 1.1, -0.2, n_size / 2), "N", ha="center", va="center", fontsize=style.MIN_FONT_PT)
    ax.set_xlim(-2.0, c_size + n_size * dx + 1.8)
    ax.set_ylim(-2.0, hw_size + n_size * dy + 0.3)
    ax.set_aspect("equal")
    ax.axis("off")


def draw(data: NormAxesData, fig: Figure) -> None:
    count = len(data.norms)
    columns = min(count, 2)  # two blocks per row at most: at 3.6 in, four in a row were 9 px labels
    rows = (count + columns - 1) // columns
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes[count:]:
        ax.axis("off")
    for ax, norm, sets in zip(axes, data.norms, data.sets, strict=False):
        mask = sets == sets[0, 0, 0]
        _draw_block(ax, mask)
        title = TITLES[norm] + (f" (G={data.groups})" if norm == "group" else "")
        ax.set_title(title)


def describe(params: Params) -> str:
    return "归一化的统计范围：" + "、".join(TITLES[n] for n in params["norms"])


def size(data: NormAxesData) -> tuple[float, float]:
    rows = (len(data.norms) + 1) // 2
    return (style.WIDTH_IN, 2.8 if len(data.norms) == 1 else 1.8 * rows)


KIND = FigureKind("norm-axes", KEYS, compute, draw, describe, size)
