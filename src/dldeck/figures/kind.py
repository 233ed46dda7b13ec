"""What a figure kind is: a key table, a pure data function and a draw function.

The data function computes every number the picture shows (grids, tap counts, trajectories) so
tests can check the mathematics without looking at pixels; the draw function only lays it out.
Data must be picklable: it is drawn in worker processes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from matplotlib.figure import Figure

from dldeck.figures.params import Key

Params = Mapping[str, Any]


def _default_size() -> tuple[float, float]:
    from dldeck.figures import style

    return (style.WIDTH_IN, style.HEIGHT_IN)


@dataclass(frozen=True)
class FigureKind:
    name: str
    keys: Mapping[str, Key]
    compute: Callable[[Params], Any]
    draw: Callable[[Any, Figure], None]
    describe: Callable[[Params], str]
    size: Callable[[Any], tuple[float, float]] = lambda data: _default_size()
    uses_expressions: bool = False
