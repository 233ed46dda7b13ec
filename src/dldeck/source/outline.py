"""What the passes ask of every card before they choose which cards to work on: whether it has
anything to verify, and which formulas it shows. A card restored from the read cache carries its
outline (`codec.unshelve`), so an edit of a large deck answers both without decoding the bodies of
the cards it did not touch."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from dldeck.model import (
    Block,
    Card,
    Cloze,
    DisplayMath,
    Emph,
    Inline,
    Link,
    ListBlock,
    Math,
    Paragraph,
    Quote,
    SourceSpan,
    Strong,
    Table,
)
from dldeck.source.reader import shown_nodes


@dataclass(frozen=True)
class FormulaUse:
    """One formula where it occurs: the same TeX in two cards is checked once, reported twice."""

    tex: str
    display: bool
    span: SourceSpan
    slug: str


@dataclass(frozen=True)
class Outline:
    claims: bool  # a check block, a formula or a computed number to verify
    formulas: tuple[tuple[str, bool], ...]  # (TeX, display) of every formula shown, in reading order


def outline(card: Card) -> Outline:
    """The card's outline: the one it was restored with, else found by walking it. Not kept on a card
    it was found for: at 20,000 cards a cold build's process was about 20 MB larger, and each forked
    claim worker mapped it again."""
    known = card.__dict__.get(OUTLINE)
    if known is None:
        known = Outline(next(shown_nodes(card), None) is not None,
                        tuple((use.tex, use.display) for use in card_formulas(card)))
    return known


OUTLINE = "_outline"  # where a card keeps its outline


def card_formulas(card: Card) -> Iterator[FormulaUse]:
    """Inline and display math in question, answer, extra and sources, cloze text included."""
    for node in _inline_nodes(card.question):
        if isinstance(node, Math):
            yield FormulaUse(node.tex, False, node.span, card.slug)
    for block in card.answer + card.extra + card.sources:
        yield from _block_formulas(block, card.slug)


def _block_formulas(block: Block, slug: str) -> Iterator[FormulaUse]:
    if isinstance(block, DisplayMath):
        yield FormulaUse(block.tex, True, block.span, slug)
        return
    for inlines in _block_inline_runs(block):
        for node in _inline_nodes(inlines):
            if isinstance(node, Math):
                yield FormulaUse(node.tex, False, node.span, slug)
    if isinstance(block, ListBlock):
        for item in block.items:
            for child in item:
                yield from _block_formulas(child, slug)
    elif isinstance(block, Quote):
        for child in block.children:
            yield from _block_formulas(child, slug)


def _block_inline_runs(block: Block) -> Iterator[tuple[Inline, ...]]:
    if isinstance(block, Paragraph):
        yield block.children
    elif isinstance(block, Table):
        yield from block.header
        for row in block.rows:
            yield from row


def _inline_nodes(inlines: Iterable[Inline]) -> Iterator[Inline]:
    for node in inlines:
        yield node
        if isinstance(node, Strong | Emph | Link | Cloze):
            yield from _inline_nodes(node.children)


