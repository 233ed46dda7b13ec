"""Typed figure keys: each kind declares its keys with these, so messages are uniform and exact.

A key validates the YAML value and returns the value the kind computes with. Problems are raised
as SpecError carrying the YAML node, so the message lands on the line of the offending key or
list item.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from yaml.nodes import Node, SequenceNode

from dldeck.errors import quote


class SpecError(Exception):
    """A problem with one key (optionally one item of a list key) of a figure spec."""

    def __init__(
        self, message: str, key: str | None = None, index: int | None = None, node: Node | None = None
    ):
        super().__init__(message)
        self.message = message
        self.key = key
        self.index = index
        self.node = node


def show(value: Any) -> str:
    """Quote a YAML value for a message the way the author wrote it."""
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, list):
        return quote("[" + ", ".join(str(v) for v in value) + "]")
    return quote(str(value))


def suggest(word: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean «{close[0]}»?)" if close else ""


@dataclass(frozen=True)
class Context:
    """What key validators may need beyond the value: expression evaluation for this card."""

    evaluate: Callable[[str, Node], Any] | None = None


class Key:
    """Base of all key types; `default` is used when the key is absent."""

    default: Any = None
    required: bool = False
    describe: str = "a value"

    def parse(self, value: Any, node: Node, ctx: Context) -> Any:
        raise NotImplementedError


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class Int(Key):
    lo: int
    hi: int
    default: Any = None
    required: bool = False

    @property
    def describe(self) -> str:  # type: ignore[override]
        return f"an integer from {self.lo} to {self.hi}"

    def parse(self, value: Any, node: Node, ctx: Context) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise SpecError(f"expected {self.describe}, got {show(value)}", node=node)
        if not self.lo <= value <= self.hi:
            raise SpecError(f"{value} is out of range: expected {self.describe}", node=node)
        return value


@dataclass(frozen=True)
class Num(Key):
    lo: float
    hi: float
    lo_open: bool = False
    hi_open: bool = False
    default: Any = None
    required: bool = False

    @property
    def describe(self) -> str:  # type: ignore[override]
        left = "(" if self.lo_open else "["
        right = ")" if self.hi_open else "]"
        return f"a number in {left}{self.lo:g}, {self.hi:g}{right}"

    def parse(self, value: Any, node: Node, ctx: Context) -> float:
        if not _is_number(value):
            raise SpecError(f"expected {self.describe}, got {show(value)}", node=node)
        number = float(value)
        too_low = number <= self.lo if self.lo_open else number < self.lo
        too_high = number >= self.hi if self.hi_open else number > self.hi
        if too_low or too_high or number != number:
            raise SpecError(f"{value} is out of range: expected {self.describe}", node=node)
        return number


@dataclass(frozen=True)
class Choice(Key):
    options: tuple[str, ...]
    default: Any = None
    required: bool = False

    @property
    def describe(self) -> str:  # type: ignore[override]
        return "one of " + ", ".join(self.options)

    def parse(self, value: Any, node: Node, ctx: Context) -> str:
        if not isinstance(value, str) or value not in self.options:
            hint = suggest(value, self.options) if isinstance(value, str) else ""
            raise SpecError(f"unknown value {show(value)}{hint}: expected {self.describe}", node=node)
        return value


@dataclass(frozen=True)
class Bool(Key):
    default: Any = False
    required: bool = False
    describe: str = "true or false"

    def parse(self, value: Any, node: Node, ctx: Context) -> bool:
        if not isinstance(value, bool):
            raise SpecError(f"expected {self.describe}, got {show(value)}", node=node)
        return value


@dataclass(frozen=True)
class Str(Key):
    max_len: int = 200
    default: Any = None
    required: bool = False
    describe: str = "a string"

    def parse(self, value: Any, node: Node, ctx: Context) -> str:
        if _is_number(value):
            value = str(value)
        if not isinstance(value, str):
            raise SpecError(f"expected a string, got {show(value)}", node=node)
        if len(value) > self.max_len:
            raise SpecError(f"string too long ({len(value)} > {self.max_len} characters)", node=node)
        if any(ord(c) < 32 for c in value):
            raise SpecError(f"control character in {show(value)}", node=node)
        return value


@dataclass(frozen=True)
class ListOf(Key):
    item: Key
    min_len: int = 1
    max_len: int = 8
    unique: bool = False
    default: Any = None
    required: bool = False

    @property
    def describe(self) -> str:  # type: ignore[override]
        return f"a list of {self.min_len} to {self.max_len} items, each {self.item.describe}"

    def parse(self, value: Any, node: Node, ctx: Context) -> tuple[Any, ...]:
        if not isinstance(value, list) or not isinstance(node, SequenceNode):
            raise SpecError(f"expected {self.describe}, got {show(value)}", node=node)
        if not self.min_len <= len(value) <= self.max_len:
            raise SpecError(f"{len(value)} items given: expected {self.min_len} to {self.max_len}", node=node)
        parsed = []
        for index, (item, item_node) in enumerate(zip(value, node.value, strict=True)):
            try:
                parsed.append(self.item.parse(item, item_node, ctx))
            except SpecError as exc:
                exc.index = index if exc.index is None else exc.index
                raise
        if self.unique:
            for index, item in enumerate(parsed):
                if item in parsed[:index]:
                    raise SpecError(f"{show(value[index])} is listed twice", node=node.value[index])
        return tuple(parsed)


@dataclass(frozen=True)
class Range(Key):
    """`[lo, hi]` with lo < hi, both within the given limits."""

    limit: float = 1e6
    default: Any = None
    required: bool = False
    describe: str = "a range [lo, hi] with lo < hi"

    def parse(self, value: Any, node: Node, ctx: Context) -> tuple[float, float]:
        if not isinstance(value, list) or len(value) != 2 or not all(_is_number(v) for v in value):
            raise SpecError(f"expected {self.describe} (two numbers), got {show(value)}", node=node)
        lo, hi = float(value[0]), float(value[1])
        if not lo < hi:
            raise SpecError(f"empty range {show(value)}: the first number must be smaller", node=node)
        if max(abs(lo), abs(hi)) > self.limit:
            raise SpecError(f"range {show(value)} is too wide (limit ±{self.limit:g})", node=node)
        return (lo, hi)


@dataclass(frozen=True)
class Expr(Key):
    """An expression in the check language (or a plain number), evaluated for this card."""

    default: Any = None
    required: bool = False
    describe: str = "an expression"

    def parse(self, value: Any, node: Node, ctx: Context) -> Any:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise SpecError(f"expected an expression, got {show(value)}", node=node)
        if ctx.evaluate is None:  # pragma: no cover - every caller passes an evaluator
            raise SpecError("expressions are not available here", node=node)
        return ctx.evaluate(str(value), node)
