"""A bar chart of a few named quantities, each value an expression in the check language.

Values go through the same evaluator as the card's checks (`bytes_per('fp32')`, `7*16`), so a
picture of a memory budget shows the numbers the card verifies rather than typed copies of them.
Each bar is labelled with its value, and the total is in the title line when asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from yaml.nodes import Node

from dldeck.figures import style
from dldeck.figures.kind import FigureKind, Params
from dldeck.figures.kinds.function import Label, real_number
from dldeck.figures.params import Bool, Context, Expr, Key, ListOf, SpecError

MAX_BARS = 12


@dataclass(frozen=True)
class Value(Key):
    """One bar's height: a constant expression with a finite real value."""

    default: Any = None
    required: bool = False
    describe: str = "a constant expression"

    def parse(self, value: Any, node: Node, ctx: Context) -> float:
        return real_number(Expr().parse(value, node, ctx), node, "a bar's value")


KEYS = {
    "labels": ListOf(Label(), min_len=1, max_len=MAX_BARS, required=True),
    "values": ListOf(Value(), min_len=1, max_len=MAX_BARS, required=True),
    "ylabel": Label(),
    "total": Bool(),
}


@dataclass(frozen=True)
class BarsData:
    labels: tuple[str, ...]
    values: tuple[float, ...]
    ylabel: str
    total: float | None  # shown in the title when asked for


def compute(params: Params) -> BarsData:
    labels, values = params["labels"], params["values"]
    if len(labels) != len(values):
        raise SpecError(
            f"{len(values)} values for {len(labels)} labels: give one value per label", key="values"
        )
    total = float(sum(values)) if params["total"] else None
    return BarsData(tuple(labels), tuple(values), params.get("ylabel") or "", total)


def value_text(value: float) -> str:
    """Whole numbers without a decimal point (16, not 16.0); others with up to 4 significant digits."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.4g}"


def draw(data: BarsData, fig: Figure) -> None:
    ax = fig.subplots()
    x = np.arange(len(data.values))
    colors = [style.PALETTE[i % len(style.PALETTE)] for i in range(len(data.values))]
    bars = ax.bar(x, data.values, color=colors, width=0.6)
    ax.bar_label(bars, labels=[value_text(v) for v in data.values], padding=2)
    ax.set_xticks(x, data.labels)
    ax.axhline(0, color=style.GRID_EDGE, linewidth=0.8)
    low, high = min(0.0, *data.values), max(0.0, *data.values)
    span = (high - low) or 1.0
    ax.set_ylim(low - (0.12 * span if low < 0 else 0), high + 0.12 * span)
    if data.ylabel:
        ax.set_ylabel(data.ylabel)
    if data.total is not None:
        ax.set_title(f"合计 {value_text(data.total)}")


def describe(params: Params) -> str:
    pairs = zip(params["labels"], params["values"], strict=False)
    return "柱状图：" + "、".join(f"{label} {value_text(value)}" for label, value in pairs)


KIND = FigureKind("bars", KEYS, compute, draw, describe, uses_expressions=True)
