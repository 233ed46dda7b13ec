"""Exponential moving average of a noisy series, with and without bias correction.

v_t = β v_{t−1} + (1−β) x_t from v_0 = 0 starts far too low; dividing by 1 − β^t (Adam's bias
correction, Kingma & Ba 2015 §3) removes that start-up bias, so the corrected average begins at x_1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from dldeck.figures import style
from dldeck.figures.kind import FigureKind, Params
from dldeck.figures.params import Int, Num

KEYS = {
    "beta": Num(0.0, 1.0, lo_open=True, hi_open=True, default=0.9),
    "n": Int(2, 1000, default=50),
    "seed": Int(0, 2**31 - 1, default=0),
}


@dataclass(frozen=True)
class EmaData:
    beta: float
    t: np.ndarray  # 1 … n
    series: np.ndarray
    ema: np.ndarray  # without bias correction
    corrected: np.ndarray


def noisy_series(n: int, seed: int) -> np.ndarray:
    """A slow wave plus Gaussian noise, away from zero so the start-up bias is visible."""
    rng = np.random.default_rng(seed)
    t = np.arange(1, n + 1)
    return 10 + 3 * np.sin(2 * np.pi * t / max(n, 2)) + rng.normal(0.0, 1.5, n)


def compute(params: Params) -> EmaData:
    beta, n = params["beta"], params["n"]
    series = noisy_series(n, params["seed"])
    ema = np.empty(n)
    value = 0.0
    for index, sample in enumerate(series):
        value = beta * value + (1 - beta) * sample
        ema[index] = value
    t = np.arange(1, n + 1)
    corrected = ema / (1 - beta**t)
    return EmaData(beta, t, series, ema, corrected)


def draw(data: EmaData, fig: Figure) -> None:
    ax = fig.subplots()
    ax.plot(data.t, data.series, "o", color="#999999", markersize=2.5, label="数据 $x_t$")
    ax.plot(data.t, data.ema, color=style.PALETTE[1], label=r"EMA $v_t$（无偏差修正）")
    ax.plot(data.t, data.corrected, color=style.PALETTE[0], label=r"$v_t / (1-\beta^t)$（偏差修正）")
    ax.set_xlabel("$t$")
    ax.set_title(rf"指数移动平均，$\beta = {data.beta:g}$")
    ax.set_ylim(bottom=0)
    style.legend_below(fig, ax)


def size(data: EmaData) -> tuple[float, float]:
    return (style.WIDTH_IN, style.HEIGHT_IN + 0.85)


def describe(params: Params) -> str:
    return f"β={params['beta']:g} 的指数移动平均：有无偏差修正的对比"


KIND = FigureKind("ema", KEYS, compute, draw, describe, size)
