"""Each card's part of an output (its Anki fields, its Typst markup), rendered once and reused
through the one Executor while nothing it shows changed, so an edit renders the cards it touched
instead of the whole deck.

A fragment is keyed by the card's digest (`dldeck.source.codec.digest`: everything the card says),
what the claims pass proved about it (which of its formulas are verified, its computed numbers),
its figures' files and captions, the output's settings and the code that renders it. A card that
shows a content image, or whose rendering found a problem, is never kept: it is rendered every
time, so its image is read and checked again and its diagnostics are fresh.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dldeck.buildcache import sha256_bytes
from dldeck.model import Card, Collection, FigureKey, RenderedFigure, Verified
from dldeck.pipeline.executor import Executor
from dldeck.pipeline.outcome import Work


class Fragments:
    """One output's per-card fragments: `get` the kept one or None, `put` a freshly rendered one."""

    def __init__(self, build_dir: Path | None, name: str, code: Sequence[str], cards: Mapping[str, str],
                 work: Work) -> None:
        """`cards`: `card_keys` of the collection, computed once for every output."""
        from dldeck.mathengines.formulas import engine_versions

        self.executor = Executor(build_dir, name, code=(*code, "pipeline/fragments.py", "mathengines"),
                                 version=engine_versions(), work=work, sharded=True)
        self.name = name
        self.work = work
        self.cards = cards

    def key(self, card: Card, setting: Any) -> str:
        # a plain join of a hash and a literal: this runs for every card of every output
        return sha256_bytes(f"{self.cards[card.slug]}\0{setting!r}".encode())

    def get(self, card: Card, setting: Any = "") -> Any:
        """The card's kept fragment (a JSON value) rendered with `setting` (what of the output's
        settings it depends on), or None: then render it and `put` it."""
        if self.executor.cache is None:
            return None
        return self.executor.get(self.key(card, setting))

    def put(self, card: Card, fragment: Any, setting: Any = "", *, keep: bool = True) -> None:
        """Note a card rendered afresh; keep its fragment unless it showed an image or had a problem."""
        self.work.rendered.append(f"{self.name}: {card.slug}")
        if keep and self.executor.cache is not None:
            self.executor.put(self.key(card, setting), fragment)

    def save(self) -> None:
        self.executor.save()

    def close(self) -> None:
        """The output is written: its fragments are saved and let go of (`Executor.close`)."""
        self.executor.close()


def card_keys(collection: Collection, verified: Verified, figures: Mapping[FigureKey, RenderedFigure]
              ) -> dict[str, str]:
    """Per card, what every output's fragment of it depends on, made once for all outputs: the card's
    digest, its marks (`card_marks`) hashed, and its figures' files and captions hashed."""
    from dldeck.source.codec import digest

    keys = {}
    for card in collection.cards:
        shown = []
        for block in card.figures:
            figure = figures.get(FigureKey(card.slug, block.index))
            shown.append(None if figure is None else [block.index, Path(figure.svg_path).name,
                                                      Path(figure.png_path).name, figure.caption, figure.alt,
                                                      figure.figure_id])
        keys[card.slug] = f"{digest(card)}\0{Executor.key(shown) if shown else ''}"
    for slug, marks in card_marks(collection, verified).items():
        keys[slug] += f"\0{Executor.key(marks)}"
    return keys


def card_marks(collection: Collection, verified: Verified) -> dict[str, list[Any]]:
    """Per card: its verified formulas (path, line, TeX: those between its heading and the next
    card's) and its computed numbers' text. Found by position, without walking any card."""
    by_path: dict[str, list[tuple[int, str]]] = {}
    for path, line, tex in verified.formulas:
        by_path.setdefault(path, []).append((line, tex))
    for entries in by_path.values():
        entries.sort()
    values: dict[str, list[list[Any]]] = {}
    for key, text in verified.values.items():
        values.setdefault(key.slug, []).append([key.index, text])
    marks: dict[str, list[Any]] = {}
    cards = collection.cards
    for number, card in enumerate(cards):
        entries = by_path.get(card.span.path, [])
        following = cards[number + 1] if number + 1 < len(cards) else None
        end = following.span.line if following is not None and following.span.path == card.span.path else None
        low = bisect_left(entries, (card.span.line, ""))
        high = bisect_left(entries, (end, "")) if end is not None else len(entries)
        marks[card.slug] = [[list(entry) for entry in entries[low:high]], sorted(values.get(card.slug, []))]
    return marks
