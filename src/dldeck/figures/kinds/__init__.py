"""The registry of figure kinds: name → FigureKind, like markdown-it's plain-function plugins."""

from __future__ import annotations

from dldeck.figures.kind import FigureKind
from dldeck.figures.kinds import (
    bars,
    conv,
    ema,
    function,
    group_conv,
    heatmap,
    lr_schedule,
    norm_axes,
    optimizers,
    overlap,
    receptive_field,
    transposed_conv,
)

KINDS: dict[str, FigureKind] = {
    module.KIND.name: module.KIND
    for module in (
        function,
        conv,
        transposed_conv,
        overlap,
        receptive_field,
        norm_axes,
        optimizers,
        ema,
        lr_schedule,
        group_conv,
        bars,
        heatmap,
    )
}

DEFAULT_KIND = "function"
