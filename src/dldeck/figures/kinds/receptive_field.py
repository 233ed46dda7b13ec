"""Receptive-field growth through a stack of convolutions, one stack per panel (1-D view).

The dependency cone of one output unit is traced layer by layer (no formula): unit u of a layer
with kernel k, stride s and dilation d reads inputs u·s + d·t, t = 0…k−1. Its span at the input
is the receptive field; holes in it are the gridding effect of dilated stacks.
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from dldeck.figures import style
from dldeck.figures.drawing import lighten
from dldeck.figures.kind import FigureKind, Params
from dldeck.figures.params import Int, ListOf, SpecError

LAYERS = ListOf(Int(1, 11), min_len=1, max_len=6)
KEYS = {
    "stacks": ListOf(LAYERS, min_len=1, max_len=3, default=((3, 3, 3), (7,))),
    "dilations": ListOf(ListOf(Int(1, 8), min_len=1, max_len=6), min_len=1, max_len=3),
    "strides": ListOf(ListOf(Int(1, 4), min_len=1, max_len=6), min_len=1, max_len=3),
}
MAX_FIELD = 64


@dataclass(frozen=True)
class Stack:
    kernels: tuple[int, ...]
    dilations: tuple[int, ...]
    strides: tuple[int, ...]
    rows: tuple[tuple[int, ...], ...]  # rows[0] = input positions used, rows[-1] = (0,) the output unit
    receptive_field: int
    weights_per_channel_pair: int  # Σ k², the parameter count in units of C_in·C_out


@dataclass(frozen=True)
class ReceptiveFieldData:
    stacks: tuple[Stack, ...]


def trace(kernels: tuple[int, ...], dilations: tuple[int, ...], strides: tuple[int, ...]) -> Stack:
    rows: list[tuple[int, ...]] = [(0,)]
    for k, d, s in reversed(list(zip(kernels, dilations, strides, strict=True))):
        below = sorted({u * s + d * t for u in rows[0] for t in range(k)})
        rows.insert(0, tuple(below))
    field = rows[0][-1] - rows[0][0] + 1
    return Stack(kernels, dilations, strides, tuple(rows), field, sum(k * k for k in kernels))


def _per_layer(params: Params, key: str, stacks: tuple[tuple[int, ...], ...]) -> tuple[tuple[int, ...], ...]:
    given = params.get(key)
    if given is None:
        return tuple((1,) * len(stack) for stack in stacks)
    if len(given) != len(stacks):
        raise SpecError(f"{len(given)} lists given for {len(stacks)} stacks: give one per stack", key=key)
    for index, (values, stack) in enumerate(zip(given, stacks, strict=True)):
        if len(values) != len(stack):
            raise SpecError(
                f"stack {index + 1} has {len(stack)} layers but {len(values)} values", key=key, index=index
            )
    return tuple(tuple(v) for v in given)


def compute(params: Params) -> ReceptiveFieldData:
    stacks = tuple(tuple(s) for s in params["stacks"])
    dilations = _per_layer(params, "dilations", stacks)
    strides = _per_layer(params, "strides", stacks)
    traced = []
    for index, (kernels, dils, strs) in enumerate(zip(stacks, dilations, strides, strict=True)):
        stack = trace(kernels, dils, strs)
        if stack.receptive_field > MAX_FIELD:
            raise SpecError(
                f"receptive field {stack.receptive_field} is too wide to draw (limit {MAX_FIELD})",
                key="stacks",
                index=index,
            )
        traced.append(stack)
    return ReceptiveFieldData(tuple(traced))


def _stack_title(stack: Stack) -> str:
    layers = " → ".join(
        f"{k}×{k}" + (f" d={d}" if d > 1 else "") + (f" s={s}" if s > 1 else "")
        for k, d, s in zip(stack.kernels, stack.dilations, stack.strides, strict=True)
    )
    return f"{layers}\n感受野 {stack.receptive_field}，权重 {stack.weights_per_channel_pair}·C²"


def _placement(stack: Stack) -> list[tuple[int, float]]:
    """(jump, centre offset) per level: unit u of level l sits at u·jump + offset in input units."""
    placement = [(1, 0.0)]
    jump, field = 1, 1
    for k, d, s in zip(stack.kernels, stack.dilations, stack.strides, strict=True):
        field += d * (k - 1) * jump
        jump *= s
        placement.append((jump, (field - 1) / 2))
    return placement


_LABEL_UNITS = 3.6  # room left of the grid for the layer names


def draw(data: ReceptiveFieldData, fig: Figure) -> None:
    widest = max(stack.receptive_field for stack in data.stacks)
    # One stack per row, all on one horizontal scale, so their widths compare and a unit stays wide.
    heights = [len(stack.rows) * 1.6 for stack in data.stacks]
    axes = fig.subplots(len(data.stacks), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
    for index, (ax, stack) in enumerate(zip(axes, data.stacks, strict=True)):
        color = style.PALETTE[index]
        placement = _placement(stack)
        shift = (widest - stack.receptive_field) / 2 - stack.rows[0][0]
        depth = len(stack.rows)

        def x_of(level: int, unit: int) -> float:
            jump, centre = placement[level]  # noqa: B023 - used inside this iteration only
            return unit * jump + centre + shift  # noqa: B023

        for level, row in enumerate(stack.rows):
            y = level * 1.6
            used = set(row)
            for position in range(row[0], row[-1] + 1):
                fill = lighten(color, 0.35) if position in used else "white"
                ax.add_patch(
                    Rectangle(
                        (x_of(level, position) + 0.05, y),
                        0.9,
                        0.9,
                        facecolor=fill,
                        edgecolor=style.GRID_EDGE,
                        linewidth=0.6,
                    )
                )
            if level + 1 < depth:
                k, d, s = stack.kernels[level], stack.dilations[level], stack.strides[level]
                for unit in stack.rows[level + 1]:
                    for t in range(k):
                        ax.plot(
                            [x_of(level, unit * s + d * t) + 0.5, x_of(level + 1, unit) + 0.5],
                            [y + 0.9, y + 1.6],
                            color=color,
                            linewidth=0.6,
                            alpha=0.7,
                        )
            name = "输入" if level == 0 else ("输出" if level == depth - 1 else f"第{level}层")
            ax.text(-0.4, y + 0.45, name, ha="right", va="center", fontsize=style.MIN_FONT_PT)
        ax.set_xlim(-_LABEL_UNITS, widest + 0.2)
        ax.set_ylim(-0.2, (depth - 1) * 1.6 + 1.1)
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_title(_stack_title(stack), fontsize=style.MIN_FONT_PT + 0.5)


def describe(params: Params) -> str:
    data = compute(params)
    parts = [
        "→".join(f"{k}×{k}" for k in stack.kernels) + f" 感受野 {stack.receptive_field}"
        for stack in data.stacks
    ]
    return "感受野增长：" + "；".join(parts)


def size(data: ReceptiveFieldData) -> tuple[float, float]:
    widest = max(stack.receptive_field for stack in data.stacks)
    inches_per_unit = style.WIDTH_IN * 0.95 / (widest + _LABEL_UNITS + 0.2)
    grids = sum((len(stack.rows) - 1) * 1.6 + 1.3 for stack in data.stacks) * inches_per_unit
    return (style.WIDTH_IN, grids + 0.45 * len(data.stacks) + 0.1)


KIND = FigureKind("receptive-field", KEYS, compute, draw, describe, size)
