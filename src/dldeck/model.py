"""The one document model every pass and backend reads.

Readers build it, passes (verify, figures) annotate it by key, writers only read it.
Everything is frozen so a pass cannot quietly change what another pass already saw.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

# --------------------------------------------------------------------------- positions


@dataclass(frozen=True, order=True)
class SourceSpan:
    """Where an element came from, so every message can say `path:line:`."""

    path: str
    line: int  # 1-based

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


# --------------------------------------------------------------------------- inline nodes


@dataclass(frozen=True)
class Text:
    """Plain text. `lines` maps offsets to source lines ((offset where a line's text starts, line),
    ascending) so a rule can name the exact line of a word in a wrapped paragraph; it takes no part
    in equality."""

    text: str
    lines: tuple[tuple[int, int], ...] = field(default=(), compare=False, repr=False)

    def line_at(self, offset: int, default: int) -> int:
        """The source line of the character at `offset` (`default` when positions are unknown)."""
        line = default
        for start, number in self.lines:
            if start > offset:
                break
            line = number
        return line


@dataclass(frozen=True)
class Code:
    text: str


ClaimMark = Literal["auto", "exempt", "wrong"]
"""How a shown formula counts as a claim: `auto` (its relations are verified), `exempt` (a trailing
`% exempt: reason`: notation, a quoted result, an example) or `wrong` (`% wrong: reason`: shown as a
misconception, so it must fail verification)."""


@dataclass(frozen=True)
class Math:
    """Inline TeX; `tex` is the formula without delimiters (and without its marker comment)."""

    tex: str
    span: SourceSpan
    claim: ClaimMark = "auto"
    reason: str = ""


@dataclass(frozen=True)
class Computed:
    """A number in prose computed by the check language (`` `= expr | format` ``), never typed.

    `index` is its position among the card's computed numbers: (slug, index) keys its value."""

    expression: str
    format: str
    span: SourceSpan
    index: int


@dataclass(frozen=True)
class Strong:
    children: tuple[Inline, ...]


@dataclass(frozen=True)
class Emph:
    children: tuple[Inline, ...]


@dataclass(frozen=True)
class Link:
    url: str
    children: tuple[Inline, ...]


@dataclass(frozen=True)
class Image:
    """A content image; `src` is resolved relative to the content file."""

    src: str
    alt: str
    span: SourceSpan


@dataclass(frozen=True)
class Cloze:
    """An Anki cloze deletion `{{cN::text::hint}}`."""

    number: int
    children: tuple[Inline, ...]
    hint: str = ""


@dataclass(frozen=True)
class LineBreak:
    pass


Inline = Text | Code | Math | Computed | Strong | Emph | Link | Image | Cloze | LineBreak

# --------------------------------------------------------------------------- block nodes


@dataclass(frozen=True)
class Paragraph:
    children: tuple[Inline, ...]
    span: SourceSpan


@dataclass(frozen=True)
class DisplayMath:
    tex: str
    span: SourceSpan
    claim: ClaimMark = "auto"
    reason: str = ""


@dataclass(frozen=True)
class CodeBlock:
    language: str
    text: str
    span: SourceSpan


@dataclass(frozen=True)
class ListBlock:
    ordered: bool
    items: tuple[tuple[Block, ...], ...]
    span: SourceSpan
    start: int = 1


@dataclass(frozen=True)
class Quote:
    children: tuple[Block, ...]
    span: SourceSpan


@dataclass(frozen=True)
class Table:
    header: tuple[tuple[Inline, ...], ...]
    rows: tuple[tuple[tuple[Inline, ...], ...], ...]
    span: SourceSpan


@dataclass(frozen=True)
class CheckBlock:
    """A fenced ```check block: claims in the safe check language (see verify/)."""

    source: str
    span: SourceSpan  # line of the opening fence; source line i is span.line + 1 + i

    def line_of(self, index: int) -> int:
        return self.span.line + 1 + index


@dataclass(frozen=True)
class FigureBlock:
    """A fenced ```figure block: a declarative figure spec (see figures/)."""

    source: str
    span: SourceSpan
    index: int  # position among the card's figures, part of the figure's key

    def line_of(self, index: int) -> int:
        return self.span.line + 1 + index


Block = Paragraph | DisplayMath | CodeBlock | ListBlock | Quote | Table | CheckBlock | FigureBlock

# --------------------------------------------------------------------------- cards

CardKind = Literal["basic", "cloze"]


@dataclass(frozen=True)
class Card:
    """One note: a level-2 heading (question) and the blocks under it (answer)."""

    slug: str
    question: tuple[Inline, ...]
    answer: tuple[Block, ...]
    extra: tuple[Block, ...]
    sources: tuple[Block, ...]
    deck: str
    section: str
    tags: tuple[str, ...]
    covers: tuple[str, ...]  # inventory slugs this card answers
    kind: CardKind
    span: SourceSpan
    order: int  # position in the whole collection (file order, then card order)
    # TeX snippet → check-language name, from the file's `notation:` and the card's ```notation block
    notation: tuple[tuple[str, str], ...] = ()

    def __getattr__(self, name: str) -> object:
        # Only for a field not yet in the card: a card restored from the read cache holds its body
        # still encoded (`codec.unshelve`), decoded here the first time any part of it is read.
        state = self.__dict__
        if name in BODY_FIELDS:
            unread = state.get(UNREAD_BODY)
            if unread is not None and name not in state:
                decode, text = unread
                state.update(zip(BODY_FIELDS, decode(text), strict=True))
                state.pop(UNREAD_BODY, None)
            if name in state:  # (another thread may have decoded it meanwhile)
                return state[name]
        raise AttributeError(name)

    @property
    def checks(self) -> tuple[CheckBlock, ...]:
        known = self.__dict__.get(SHELVED_CHECKS)  # a restored card's, found without its body
        if known is not None:
            return known
        return tuple(b for b in self.answer + self.extra if isinstance(b, CheckBlock))

    @property
    def figures(self) -> tuple[FigureBlock, ...]:
        known = self.__dict__.get(SHELVED_FIGURES)
        if known is not None:
            return known
        return tuple(b for b in self.answer + self.extra if isinstance(b, FigureBlock))


BODY_FIELDS = ("question", "answer", "extra", "sources")  # what a restored card may hold undecoded
UNREAD_BODY = "_unread_body"  # where it holds them: (decode, JSON text)
SHELVED_CHECKS, SHELVED_FIGURES = "_checks", "_figures"  # and its check and figure blocks


@dataclass(frozen=True)
class Collection:
    """All cards of a content tree, in reading order."""

    cards: tuple[Card, ...]
    root: str
    files: tuple[str, ...] = field(default=())

    def decks(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for card in self.cards:
            seen.setdefault(card.deck, None)
        return tuple(seen)


# --------------------------------------------------------------------------- pass results


@dataclass(frozen=True)
class FigureKey:
    slug: str
    index: int


@dataclass(frozen=True)
class RenderedFigure:
    """A figure on disk: content-hashed flat file names, ready to be copied as media."""

    key: FigureKey
    svg_path: str
    png_path: str
    caption: str
    alt: str
    figure_id: str = ""


@dataclass(frozen=True)
class ComputedKey:
    slug: str
    index: int


@dataclass(frozen=True)
class Verified:
    """What the claims pass proved about the text a learner reads, for writers to mark.

    `formulas` holds (path, line, tex) of every shown formula whose relations were all verified;
    `values` the formatted text of every computed number."""

    formulas: frozenset[tuple[str, int, str]] = frozenset()
    values: Mapping[ComputedKey, str] = field(default_factory=dict)

    def formula(self, node: Math | DisplayMath) -> bool:
        return (node.span.path, node.span.line, node.tex) in self.formulas

    def value(self, slug: str, node: Computed) -> str | None:
        return self.values.get(ComputedKey(slug, node.index))
