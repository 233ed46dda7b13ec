"""Learning-rate schedules over training, per epoch.

step: multiply by `gamma` every `step_size` epochs (PyTorch StepLR); cosine: η_min + (η_max −
η_min)(1 + cos(πt/T))/2 (Loshchilov & Hutter, SGDR, 2017, without restarts; PyTorch
CosineAnnealingLR); warmup-cosine: linear warm-up to η_max over `warmup` epochs, then cosine
over the rest (Goyal et al. 2017 for the warm-up).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from dldeck.figures.kind import FigureKind, Params
from dldeck.figures.params import Choice, Int, ListOf, Num, SpecError

SCHEDULES = ("step", "cosine", "warmup-cosine")
LABELS = {"step": "Step", "cosine": "Cosine", "warmup-cosine": "Warmup + Cosine"}
KEYS = {
    "schedules": ListOf(Choice(SCHEDULES), min_len=1, max_len=3, unique=True, default=SCHEDULES),
    "epochs": Int(2, 10_000, default=100),
    "warmup": Int(0, 10_000, default=5),
    "lr": Num(0.0, 10.0, lo_open=True, default=0.1),
    "min_lr": Num(0.0, 10.0, default=0.0),
    "step_size": Int(1, 10_000),
    "gamma": Num(0.0, 1.0, lo_open=True, hi_open=True, default=0.1),
}


@dataclass(frozen=True)
class ScheduleData:
    epochs: np.ndarray  # 0 … T
    names: tuple[str, ...]
    rates: tuple[np.ndarray, ...]
    peak: float
    floor: float


def cosine(t: np.ndarray, total: int, peak: float, floor: float) -> np.ndarray:
    return floor + (peak - floor) * (1 + np.cos(np.pi * t / total)) / 2


def schedule(name: str, t: np.ndarray, params: Params) -> np.ndarray:
    total, peak, floor = params["epochs"], params["lr"], params["min_lr"]
    if name == "step":
        step_size = params.get("step_size") or max(1, round(total * 0.3))
        return peak * params["gamma"] ** (t // step_size)
    if name == "cosine":
        return cosine(t, total, peak, floor)
    warmup = params["warmup"]
    rates = cosine(t - warmup, total - warmup, peak, floor)
    if warmup > 0:
        rates = np.where(t < warmup, peak * t / warmup, rates)
    return rates


def compute(params: Params) -> ScheduleData:
    if params["min_lr"] >= params["lr"]:
        raise SpecError(f"min_lr {params['min_lr']:g} must be below lr {params['lr']:g}", key="min_lr")
    if "warmup-cosine" in params["schedules"] and params["warmup"] >= params["epochs"]:
        raise SpecError(
            f"warmup {params['warmup']} must be shorter than epochs {params['epochs']}", key="warmup"
        )
    t = np.arange(params["epochs"] + 1)
    names = tuple(params["schedules"])
    rates = tuple(schedule(name, t, params).astype(float) for name in names)
    return ScheduleData(t, names, rates, params["lr"], params["min_lr"])


def draw(data: ScheduleData, fig: Figure) -> None:
    ax = fig.subplots()
    for name, rates in zip(data.names, data.rates, strict=True):
        if name == "step":
            ax.step(data.epochs, rates, where="post", label=LABELS[name])
        else:
            ax.plot(data.epochs, rates, label=LABELS[name])
    ax.set_xlabel("epoch")
    ax.set_ylabel("学习率")
    ax.set_xlim(0, data.epochs[-1])
    ax.set_ylim(0, data.peak * 1.08)
    ax.set_title("学习率调度")
    ax.legend(loc="upper right")


def describe(params: Params) -> str:
    return (
        "学习率调度："
        + "、".join(LABELS[n] for n in params["schedules"])
        + f"，共 {params['epochs']} 个 epoch"
    )


KIND = FigureKind("lr-schedule", KEYS, compute, draw, describe)
