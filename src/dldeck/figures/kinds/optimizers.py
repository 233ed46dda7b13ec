"""Optimizer paths on a 2-D loss surface, from actually running each update rule.

Update rules as usually taught (Goodfellow et al. §8.3–8.5; Kingma & Ba 2015 for Adam):
momentum v ← μv − η∇f(θ), θ ← θ + v; Nesterov evaluates the gradient at the look-ahead θ + μv;
AdaGrad divides by the root of the summed squared gradients; RMSProp by the root of their moving
average; Adam uses bias-corrected moving averages of the gradient and its square.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from yaml.nodes import MappingNode, Node

from dldeck.figures import style
from dldeck.figures.kind import FigureKind, Params
from dldeck.figures.params import Choice, Context, Int, Key, ListOf, Num, SpecError, show, suggest

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
NAMES = {
    "sgd": "SGD",
    "momentum": "Momentum",
    "nesterov": "Nesterov",
    "adagrad": "AdaGrad",
    "rmsprop": "RMSProp",
    "adam": "Adam",
}
SURFACES = ("ellipse", "rosenbrock")


@dataclass(frozen=True)
class Surface:
    name: str
    loss: Callable[[np.ndarray, np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray], np.ndarray]
    minimum: tuple[float, float]
    start: tuple[float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    learning_rates: dict[str, float]
    title: str


def _ellipse_loss(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return 0.05 * x**2 + y**2


def _ellipse_grad(p: np.ndarray) -> np.ndarray:
    return np.array([0.1 * p[0], 2.0 * p[1]])


def _rosenbrock_loss(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def _rosenbrock_grad(p: np.ndarray) -> np.ndarray:
    x, y = p
    return np.array([-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)])


SURFACE_TABLE = {
    "ellipse": Surface(
        "ellipse",
        _ellipse_loss,
        _ellipse_grad,
        (0.0, 0.0),
        (-4.5, 1.5),
        (-5.0, 1.5),
        (-2.0, 2.0),
        {"sgd": 0.9, "momentum": 0.12, "nesterov": 0.12, "adagrad": 1.0, "rmsprop": 0.1, "adam": 0.2},
        r"$f = 0.05x^2 + y^2$",
    ),
    "rosenbrock": Surface(
        "rosenbrock",
        _rosenbrock_loss,
        _rosenbrock_grad,
        (1.0, 1.0),
        (-1.2, 1.0),
        (-1.6, 1.6),
        (-0.6, 1.6),
        {"sgd": 0.0015, "momentum": 0.0008, "nesterov": 0.0008, "adagrad": 0.4, "rmsprop": 0.02, "adam": 0.1},
        r"Rosenbrock $f = (1-x)^2 + 100(y-x^2)^2$",
    ),
}
MOMENTUM = 0.9
RMS_DECAY = 0.9
BETA1, BETA2 = 0.9, 0.999
EPS = 1e-8
ESCAPE = 1e6  # a path that leaves this box has diverged


class LearningRates(Key):
    """`lr: {adam: 0.05, sgd: 0.1}`: override the tuned default step sizes."""

    describe = "a mapping optimizer → learning rate"
    default: Any = None
    required = False
    RATE = Num(0.0, 10.0, lo_open=True)

    def parse(self, value: Any, node: Node, ctx: Context) -> dict[str, float]:
        if not isinstance(value, dict) or not isinstance(node, MappingNode):
            raise SpecError(f"expected {self.describe}, e.g. {{adam: 0.05}}, got {show(value)}", node=node)
        rates: dict[str, float] = {}
        for key_node, value_node in node.value:
            name = key_node.value
            if name not in OPTIMIZERS:
                raise SpecError(f"unknown optimizer {show(name)}{suggest(name, OPTIMIZERS)}", node=key_node)
            rates[name] = self.RATE.parse(value[name], value_node, ctx)
        return rates


KEYS = {
    "optimizers": ListOf(Choice(OPTIMIZERS), min_len=1, max_len=6, unique=True, default=OPTIMIZERS),
    "steps": Int(1, 2000, default=60),
    "surface": Choice(SURFACES, default="ellipse"),
    "lr": LearningRates(),
    "start": ListOf(Num(-10.0, 10.0), min_len=2, max_len=2),
}


@dataclass(frozen=True)
class OptimizersData:
    surface: str
    names: tuple[str, ...]
    learning_rates: tuple[float, ...]
    paths: tuple[np.ndarray, ...]  # (steps + 1, 2) each, starting at the start point
    minimum: tuple[float, float]


def run(
    name: str, grad: Callable[[np.ndarray], np.ndarray], start: np.ndarray, lr: float, steps: int
) -> np.ndarray:
    """Iterate one update rule; returns every point visited, the start included."""
    theta = start.astype(float).copy()
    velocity = np.zeros(2)
    square = np.zeros(2)
    path = [theta.copy()]
    for t in range(1, steps + 1):
        if name == "nesterov":
            g = grad(theta + MOMENTUM * velocity)
        else:
            g = grad(theta)
        if name == "sgd":
            theta = theta - lr * g
        elif name in ("momentum", "nesterov"):
            velocity = MOMENTUM * velocity - lr * g
            theta = theta + velocity
        elif name == "adagrad":
            square = square + g * g
            theta = theta - lr * g / (np.sqrt(square) + EPS)
        elif name == "rmsprop":
            square = RMS_DECAY * square + (1 - RMS_DECAY) * g * g
            theta = theta - lr * g / (np.sqrt(square) + EPS)
        else:  # adam
            velocity = BETA1 * velocity + (1 - BETA1) * g
            square = BETA2 * square + (1 - BETA2) * g * g
            m_hat = velocity / (1 - BETA1**t)
            v_hat = square / (1 - BETA2**t)
            theta = theta - lr * m_hat / (np.sqrt(v_hat) + EPS)
        path.append(theta.copy())
        if not np.all(np.isfinite(theta)) or np.abs(theta).max() > ESCAPE:
            break
    return np.array(path)


def compute(params: Params) -> OptimizersData:
    surface = SURFACE_TABLE[params["surface"]]
    start = np.array(params["start"] if params.get("start") is not None else surface.start, dtype=float)
    overrides = params.get("lr") or {}
    names = tuple(params["optimizers"])
    rates = tuple(overrides.get(name, surface.learning_rates[name]) for name in names)
    paths = []
    for name, lr in zip(names, rates, strict=True):
        path = run(name, surface.grad, start, lr, params["steps"])
        if len(path) < params["steps"] + 1:
            raise SpecError(f"{NAMES[name]} diverges with learning rate {lr:g} on this surface", key="lr")
        paths.append(path)
    return OptimizersData(surface.name, names, rates, tuple(paths), surface.minimum)


def draw(data: OptimizersData, fig: Figure) -> None:
    surface = SURFACE_TABLE[data.surface]
    ax = fig.subplots()
    xs = np.linspace(*surface.xlim, 300)
    ys = np.linspace(*surface.ylim, 300)
    grid_x, grid_y = np.meshgrid(xs, ys)
    loss = surface.loss(grid_x, grid_y)
    levels = np.geomspace(max(loss.min(), 1e-3), loss.max(), 14)
    ax.contour(grid_x, grid_y, loss, levels=levels, colors="#BBBBBB", linewidths=0.6)
    for index, (name, lr, path) in enumerate(zip(data.names, data.learning_rates, data.paths, strict=True)):
        color = style.PALETTE[index]
        ax.plot(path[:, 0], path[:, 1], "-", color=color, linewidth=1.3, label=f"{NAMES[name]} (η={lr:g})")
        ax.plot(path[:, 0], path[:, 1], "o", color=color, markersize=1.8)
    ax.plot(*data.paths[0][0], "o", color="black", markersize=4)
    ax.plot(*data.minimum, "*", color="black", markersize=10)
    ax.set_xlim(*surface.xlim)
    ax.set_ylim(*surface.ylim)
    ax.set_xlabel("$x$")
    ax.set_ylabel("$y$")
    steps = f"{len(data.paths[0]) - 1} 步"
    # A long surface formula and the step count do not fit one 3.6 in line.
    ax.set_title(f"{surface.title}\n{steps}" if len(surface.title) > 24 else f"{surface.title}，{steps}")
    style.legend_below(fig, ax, ncols=2 if len(data.names) > 1 else 1)


def size(data: OptimizersData) -> tuple[float, float]:
    return (style.WIDTH_IN, style.HEIGHT_IN + 0.25 * ((len(data.names) + 1) // 2) + 0.1)


def describe(params: Params) -> str:
    names = "、".join(NAMES[n] for n in params["optimizers"])
    return f"优化器在 {params['surface']} 损失面上的轨迹：{names}"


KIND = FigureKind("optimizers", KEYS, compute, draw, describe, size)
