"""Where each shown formula sits in the prose: its sentence and paragraph, and whether the words around
it make it a condition (`当 $x>0$ 时`, `$\\eta=2/L$ 的时候`, `若 $b_f=0$`, `when $n=4$`). Kept free of
sympy: the claims cache keys a card by it without loading the checker (see dldeck.pipeline.claims)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from dldeck.model import Card, Computed, DisplayMath, Math, Paragraph, Table, Text
from dldeck.source.reader import leaf_blocks, walk_inlines

# A word right before a formula that makes it a condition, or right after it (时 also covers 时候).
BEFORE = re.compile(r"(?:当|若|如果|假设|设|\b[Ww]hen|\b[Ii]f)\s*\Z")
AFTER = re.compile(r"\A\s*(?:[（(][^（()）]*[）)]\s*)?(?:的时候|时)")  # `$\lambda=1$（两类相同）时`
# Where a sentence ends: Chinese and English end marks (a `.` only before a space or the end, so `0.5`
# does not end one). A paragraph, list item, table cell or displayed formula is a sentence of its own.
SENTENCE_END = re.compile(r"[。！？；!?;]|\.(?=\s|\Z)")


@dataclass(frozen=True)
class Place:
    sentence: int  # formulas with the same number are in one sentence
    condition: bool  # the prose makes this formula a condition for the rest of its sentence
    run: int = 0  # formulas with the same number are in one paragraph, table cell or display


def places(card: Card) -> dict[int, Place]:
    """Each inline and displayed formula of the card (by `id`) → its sentence, its paragraph and whether
    it is a condition, from the text right before and after it."""
    found: dict[int, Place] = {}
    sentence = 0
    unfinished: tuple[int, int] | None = None  # (sentence, paragraph) a displayed formula continues
    for number, (run, kind) in enumerate(_runs(card), start=1):
        if kind == "display" and unfinished is not None:
            # `$n=1024$ 时 FLOPs 都是` + `$$F(n,d)=…$$`: the display ends the paragraph's sentence
            [display] = run
            found[id(display)] = Place(unfinished[0], False, unfinished[1])
            continue
        sentence += 1
        items = list(_flatten(run))
        last = items[-1] if items else ""
        unfinished = (sentence + len(SENTENCE_END.findall("".join(i for i in items if isinstance(i, str)))),
                      number) if kind == "paragraph" and _open(last) else None
        for position, item in enumerate(items):
            if isinstance(item, str):
                sentence += len(SENTENCE_END.findall(item))
            elif isinstance(item, Math):
                before = _text(items[position - 1::-1] if position else [], reverse=True)
                after = _text(items[position + 1:])
                found[id(item)] = Place(sentence, bool(BEFORE.search(before) or AFTER.match(after)), number)
            elif isinstance(item, DisplayMath):
                found[id(item)] = Place(sentence, False, number)
    return found


def _open(last: object) -> bool:
    """A paragraph whose last words end no sentence (`…都是`, `…为：`) goes on in the display below it."""
    words = last.rstrip() if isinstance(last, str) else ""
    return bool(words) and not SENTENCE_END.search(words[-1])


def _text(items: Sequence[object], reverse: bool = False) -> str:
    """The prose next to a formula, up to the next formula or computed number."""
    parts: list[str] = []
    for item in items:
        if not isinstance(item, str):
            break
        parts.append(item)
    return "".join(reversed(parts) if reverse else parts)


def _runs(card: Card) -> Iterator[tuple[Sequence[object], str]]:
    """Runs of running text, in reading order, with their kind: the question, each paragraph and table
    cell; a displayed formula is a run of its own."""
    yield card.question, "question"
    for block in (*card.answer, *card.extra):
        for leaf in leaf_blocks(block):
            if isinstance(leaf, Paragraph):
                yield leaf.children, "paragraph"
            elif isinstance(leaf, DisplayMath):
                yield (leaf,), "display"
            elif isinstance(leaf, Table):
                yield from ((cell, "cell") for cell in (*leaf.header, *(c for row in leaf.rows for c in row)))


def _flatten(run: Iterable[object]) -> Iterator[object]:
    """Text as strings, formulas and computed numbers as nodes, through emphasis, links and clozes."""
    for node in run:
        for inline in walk_inlines(node) if not isinstance(node, DisplayMath) else (node,):
            if isinstance(inline, Text):
                yield inline.text
            elif isinstance(inline, Math | DisplayMath | Computed):
                yield inline
