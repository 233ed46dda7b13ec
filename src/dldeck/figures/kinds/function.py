"""Plots of functions of one variable, written in the check language with the card's definitions.

Expressions arrive as sympy objects (evaluated by dldeck.verify.language, never as Python
source); they are sampled with `sympy.lambdify` of the sympy object. A curve that is complex,
infinite or undefined anywhere in the range, or has a pole inside it, is refused rather than
drawn misleadingly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy
from matplotlib.figure import Figure
from yaml.nodes import Node, SequenceNode

from dldeck.figures import style
from dldeck.figures.kind import FigureKind, Params
from dldeck.figures.params import Context, Expr, Key, ListOf, SpecError, TexText, show

SAMPLES = 801
MAX_TERMS = 2_000  # expression-tree nodes; sympy's code printer recurses once per node
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


def check_mathtext(text: str, node: Node) -> str:
    """Refuse TeX that matplotlib's mathtext cannot typeset, at the line it was written on."""
    if text.count("$") % 2:
        raise SpecError(f"unbalanced $ in {show(text)}", node=node)
    if "$" in text:
        try:
            style.parse_mathtext(text)  # the figure's fonts, so Chinese beside math has glyphs
        except ValueError as error:
            first = str(error).strip().splitlines()[-1] if str(error).strip() else "parse error"
            raise SpecError(
                f"{show(text)} is not valid matplotlib mathtext ({first}); "
                r"\tfrac, \bigl, \operatorname… are not supported, use \frac, (, \mathrm",
                node=node,
            ) from None
    return text


@dataclass(frozen=True)
class Label(Key):
    """A legend/axis label: text with optional `$mathtext$`."""

    default: Any = None
    required: bool = False
    describe: str = "a label (text, `$math$` allowed)"

    def parse(self, value: Any, node: Node, ctx: Context) -> str:
        return check_mathtext(TexText(max_len=120).parse(value, node, ctx), node)


def real_number(value: Any, node: Node, what: str) -> float:
    """A sympy value that must be one finite real number (mark coordinates, range ends)."""
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, sympy.Expr) or value.free_symbols:
        raise SpecError(f"{what} must be a number, got {show(str(value))}", node=node)
    number = complex(sympy.N(value))
    if abs(number.imag) > 1e-12 or not np.isfinite(number.real):
        raise SpecError(f"{what} must be a finite real number, got {show(str(value))}", node=node)
    return float(number.real)


@dataclass(frozen=True)
class RealRange(Key):
    """`[lo, hi]`: numbers or constant expressions (`[-pi, pi]`), lo < hi."""

    default: Any = None
    required: bool = False
    describe: str = "a range [lo, hi]"

    def parse(self, value: Any, node: Node, ctx: Context) -> tuple[float, float]:
        if not isinstance(value, list) or len(value) != 2 or not isinstance(node, SequenceNode):
            raise SpecError(f"expected {self.describe} of two numbers, got {show(value)}", node=node)
        ends = [
            real_number(Expr().parse(v, n, ctx), n, "a range end")
            for v, n in zip(value, node.value, strict=True)
        ]
        if not ends[0] < ends[1]:
            raise SpecError(f"empty range {show(value)}: the first end must be smaller", node=node)
        if max(abs(ends[0]), abs(ends[1])) > 1e6:
            raise SpecError(f"range {show(value)} is too wide", node=node)
        return (ends[0], ends[1])


@dataclass(frozen=True)
class Mark(Key):
    """`[x, y]` or `[x, y, 'label']`: a marked point; coordinates may be expressions."""

    default: Any = None
    required: bool = False
    describe: str = "[x, y] or [x, y, 'label']"

    def parse(self, value: Any, node: Node, ctx: Context) -> tuple[float, float, str]:
        if not isinstance(value, list) or len(value) not in (2, 3) or not isinstance(node, SequenceNode):
            raise SpecError(f"a mark is {self.describe}, got {show(value)}", node=node)
        x = real_number(Expr().parse(value[0], node.value[0], ctx), node.value[0], "a mark's x")
        y = real_number(Expr().parse(value[1], node.value[1], ctx), node.value[1], "a mark's y")
        label = Label().parse(value[2], node.value[2], ctx) if len(value) == 3 else ""
        return (x, y, label)


@dataclass(frozen=True)
class VariableName(Key):
    default: Any = "x"
    required: bool = False
    describe: str = "a variable name"

    def parse(self, value: Any, node: Node, ctx: Context) -> str:
        if not isinstance(value, str) or not _IDENTIFIER.match(value):
            raise SpecError(f"`var` must be a plain name like x, got {show(value)}", node=node)
        return value


@dataclass(frozen=True)
class Source(Key):
    """The expression as evaluated, plus the text it was written as (for default labels)."""

    default: Any = None
    required: bool = False
    describe: str = "an expression"

    def parse(self, value: Any, node: Node, ctx: Context) -> tuple[Any, str]:
        return (Expr().parse(value, node, ctx), str(value))


KEYS = {
    "plot": ListOf(Source(), min_len=1, max_len=6, required=True),
    "x": RealRange(default=(-5.0, 5.0)),
    "var": VariableName(),
    "labels": ListOf(Label(), min_len=1, max_len=6),
    "y": RealRange(),
    "mark": ListOf(Mark(), min_len=1, max_len=8),
    "xlabel": Label(),
    "ylabel": Label(),
}


@dataclass(frozen=True)
class Curve:
    label: str
    y: np.ndarray


@dataclass(frozen=True)
class FunctionData:
    x: np.ndarray
    curves: tuple[Curve, ...]
    marks: tuple[tuple[float, float, str], ...]
    ylim: tuple[float, float] | None
    xlabel: str
    ylabel: str


def _check_plottable(expr: sympy.Expr, text: str, index: int) -> None:
    """Refuse what sympy could not reduce to a formula, and formulas too big to compile to numpy."""
    for unevaluated in (sympy.Limit, sympy.Derivative):
        if expr.has(unevaluated):
            raise SpecError(f"{show(text)} has no closed form: sympy left a {unevaluated.__name__} "
                            "unevaluated", key="plot", index=index)
    for count, _ in enumerate(sympy.preorder_traversal(expr)):
        if count >= MAX_TERMS:
            raise SpecError(f"{show(text)} is too large to plot (over {MAX_TERMS:,} terms)", key="plot",
                            index=index)


def _variable(expr: sympy.Expr, var: str, index: int) -> sympy.Symbol:
    others = sorted(s.name for s in expr.free_symbols if s.name != var)
    if others:
        raise SpecError(
            f"{', '.join(others)} is not defined: only {var} varies in a plot "
            f"(define constants with := in a check block)",
            key="plot",
            index=index,
        )
    found = [s for s in expr.free_symbols if s.name == var]
    return found[0] if found else sympy.Symbol(var, real=True)


def sample(expr: sympy.Expr, symbol: sympy.Symbol, xs: np.ndarray) -> np.ndarray:
    """Values of expr at xs: vectorised numpy first, mpmath point by point where numpy lacks a function."""
    with np.errstate(all="ignore"):
        try:
            values = sympy.lambdify(symbol, expr, modules="numpy")(xs)
            values = np.broadcast_to(np.asarray(values), xs.shape)
            if values.dtype != object:
                return np.array(values, dtype=complex if np.iscomplexobj(values) else float)
        except (NameError, TypeError, AttributeError, ValueError, ZeroDivisionError):
            pass
        pointwise = sympy.lambdify(symbol, expr, modules="mpmath")
        out = np.empty(xs.shape, dtype=complex)
        for i, x in enumerate(xs):
            try:
                out[i] = complex(pointwise(float(x)))
            except (ZeroDivisionError, ValueError, TypeError, OverflowError):
                out[i] = complex(np.nan, 0.0)
        return out


def _poles_in_range(expr: sympy.Expr, symbol: sympy.Symbol, lo: float, hi: float) -> list[float]:
    """Real zeros of a polynomial denominator inside [lo, hi] (poles the samples may step over)."""
    try:
        denominator = sympy.denom(sympy.together(expr))
        if symbol not in denominator.free_symbols or not denominator.is_polynomial(symbol):
            return []
        roots = sympy.Poly(denominator, symbol).real_roots()
        return [float(r) for r in roots if lo <= float(r) <= hi]
    except (sympy.PolynomialError, NotImplementedError, TypeError, ValueError):
        return []


def _jump_pole(xs: np.ndarray, ys: np.ndarray) -> float | None:
    """A sign change between two huge values: a pole between samples (tan near π/2)."""
    scale = float(np.median(np.abs(ys))) + 1.0
    huge = np.abs(ys) > 50 * scale
    flips = np.sign(ys[:-1]) * np.sign(ys[1:]) < 0
    hits = np.nonzero(flips & huge[:-1] & huge[1:])[0]
    return float((xs[hits[0]] + xs[hits[0] + 1]) / 2) if len(hits) else None


def compute(params: Params) -> FunctionData:
    lo, hi = params["x"]
    var = params["var"]
    xs = np.linspace(lo, hi, SAMPLES)
    plots = params["plot"]
    labels = params.get("labels")
    if labels is not None and len(labels) != len(plots):
        raise SpecError(
            f"{len(labels)} labels for {len(plots)} curves: give one label per curve", key="labels"
        )
    curves = []
    for index, (expr, text) in enumerate(plots):
        # a bare Symbol is also a Boolean in sympy, but `plot: [x]` is the identity line, not logic
        is_logic = isinstance(expr, sympy.logic.boolalg.Boolean) and not isinstance(expr, sympy.Symbol)
        if not isinstance(expr, sympy.Expr) or is_logic:
            raise SpecError(f"{show(text)} is not a function to plot", key="plot", index=index)
        _check_plottable(expr, text, index)
        symbol = _variable(expr, var, index)
        poles = _poles_in_range(expr, symbol, lo, hi)
        if poles:
            raise SpecError(
                f"{show(text)} has a pole at {var} = {poles[0]:g} inside the range [{lo:g}, {hi:g}]",
                key="plot",
                index=index,
            )
        values = sample(expr, symbol, xs)
        if np.iscomplexobj(values):
            imaginary = np.abs(values.imag) > 1e-9 * (1 + np.abs(values.real))
            if imaginary.any():
                at = xs[np.argmax(imaginary)]
                raise SpecError(
                    f"{show(text)} is complex at {var} = {at:g}: restrict `x` to where it is real",
                    key="plot",
                    index=index,
                )
            values = values.real
        if not np.all(np.isfinite(values)):
            at = xs[np.argmax(~np.isfinite(values))]
            raise SpecError(
                f"{show(text)} is not finite at {var} = {at:g} (a pole or undefined point in the range)",
                key="plot",
                index=index,
            )
        pole = _jump_pole(xs, values)
        if pole is not None:
            raise SpecError(
                f"{show(text)} jumps through ±∞ near {var} = {pole:.3g} (a pole in the range)",
                key="plot",
                index=index,
            )
        label = labels[index] if labels is not None else default_label(expr, text)
        curves.append(Curve(label, values.astype(float)))
    marks = tuple(params.get("mark") or ())
    for index, (x, _, _) in enumerate(marks):
        if not lo <= x <= hi:
            raise SpecError(
                f"mark at x = {x:g} is outside the plotted range [{lo:g}, {hi:g}]", key="mark", index=index
            )
    return FunctionData(
        xs,
        tuple(curves),
        marks,
        params.get("y"),
        params.get("xlabel") or f"${var}$",
        params.get("ylabel") or "",
    )


def default_label(expr: sympy.Expr, text: str) -> str:
    """sympy's LaTeX when mathtext can typeset it, else the expression as written."""
    latex = f"${sympy.latex(expr)}$"
    try:
        style.parse_mathtext(latex)
    except ValueError:
        return text
    return latex if len(latex) <= 80 else text


def draw(data: FunctionData, fig: Figure) -> None:
    ax = fig.subplots()
    for curve in data.curves:
        ax.plot(data.x, curve.y, label=curve.label)
    for x, y, label in data.marks:
        ax.plot([x], [y], "o", color="black", markersize=4.5, zorder=5)
        if label:
            # Labels in the right third of the plot go to the left of their point, inside the figure.
            right = x > data.x[0] + 0.66 * (data.x[-1] - data.x[0])
            ax.annotate(
                label,
                (x, y),
                xytext=(-6, 6) if right else (6, 6),
                ha="right" if right else "left",
                textcoords="offset points",
                fontsize=style.MIN_FONT_PT,
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.85},
            )
    ax.axhline(0, color="#999999", linewidth=0.6, zorder=0)
    ax.axvline(0, color="#999999", linewidth=0.6, zorder=0) if data.x[0] < 0 < data.x[-1] else None
    ax.set_xlim(data.x[0], data.x[-1])
    if data.ylim is not None:
        ax.set_ylim(*data.ylim)
    ax.grid(True, color="#EEEEEE", linewidth=0.6)
    ax.set_xlabel(data.xlabel)
    if data.ylabel:
        ax.set_ylabel(data.ylabel)
    if len(data.curves) > 1 or data.curves[0].label:
        ax.legend(loc="best")


def describe(params: Params) -> str:
    curves = "、".join(text for _, text in params["plot"])
    lo, hi = params["x"]
    return f"函数图像：{curves}，{params['var']} 从 {lo:g} 到 {hi:g}"


KIND = FigureKind("function", KEYS, compute, draw, describe, uses_expressions=True)
