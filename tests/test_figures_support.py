"""Builders for figure tests: Cards made directly from dldeck.model, no Markdown reader."""

from __future__ import annotations

from pathlib import Path

from dldeck.model import Card, CheckBlock, Collection, FigureBlock, SourceSpan, Text

PATH = "content/test/figures.md"


def figure_block(source: str, line: int = 10, index: int = 0) -> FigureBlock:
    return FigureBlock(source=source, span=SourceSpan(PATH, line), index=index)


def card(*figures: str, checks: str = "", slug: str = "figure-card", first_line: int = 10) -> Card:
    """A card whose answer is an optional check block followed by the given figure blocks."""
    blocks: list[CheckBlock | FigureBlock] = []
    line = first_line
    if checks:
        blocks.append(CheckBlock(source=checks, span=SourceSpan(PATH, line)))
        line += checks.count("\n") + 3
    for index, source in enumerate(figures):
        blocks.append(figure_block(source, line, index))
        line += source.count("\n") + 3
    return Card(
        slug=slug,
        question=(Text("question"),),
        answer=tuple(blocks),
        extra=(),
        sources=(),
        deck="Test",
        section="",
        tags=(),
        covers=(slug,),
        kind="basic",
        span=SourceSpan(PATH, first_line - 2),
        order=0,
    )


def collection(*cards: Card) -> Collection:
    return Collection(cards=tuple(cards), root="content", files=(PATH,))


def read_pair(rendered_svg: str, rendered_png: str) -> tuple[bytes, bytes]:
    return Path(rendered_svg).read_bytes(), Path(rendered_png).read_bytes()
