"""Model → Typst markup for the PDF cheat sheet.

Content is text, never Typst code: every string from a content file goes into a Typst *string
literal* (`#"…"`), where only `\\` and `"` mean anything, instead of being escaped character by
character in markup (where `*`, `_`, `#`, `$`, `@`, `<`, `=` at line start, `//`… all do). Every
emitted element starts with `#` or `$`, so one element can never run into the next.
Formulas go through tex2typst, whose output was checked not to contain code.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from dldeck.emit.markup import caption_inlines
from dldeck.mathengines import MathEngineError, tex_to_typst
from dldeck.model import (
    Block,
    CheckBlock,
    Cloze,
    Code,
    CodeBlock,
    Computed,
    DisplayMath,
    Emph,
    FigureBlock,
    Image,
    Inline,
    LineBreak,
    Link,
    ListBlock,
    Math,
    Paragraph,
    Quote,
    SourceSpan,
    Strong,
    Table,
    Text,
)

SAFE_LINK_SCHEMES = frozenset({"http", "https", "mailto"})

FigureSource = Callable[[FigureBlock], "PlacedFigure | None"]
ImageSource = Callable[[Image], str]
"""Image → its file name inside the Typst root (the writer copies it there)."""
ComputedText = Callable[[Computed], str]
IsVerified = Callable[[Math | DisplayMath], bool]


def _no_computed(node: Computed) -> str:
    raise ValueError(f"computed number `= {node.expression}` has no value: the claims pass did not run")


@dataclass(frozen=True)
class PlacedFigure:
    file_name: str  # relative to the Typst root
    caption: str


def typst_string(text: str) -> str:
    """A Typst string literal: the only safe way to put a stranger's text into a Typst document."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f'"{escaped}"'


def text_markup(text: str) -> str:
    """Text as markup; a newline left in a Text node is a space, or nothing between CJK characters."""
    if not text:
        return ""
    return "#" + typst_string(_join_lines(text))


def _join_lines(text: str) -> str:
    if "\n" not in text:
        return text
    pieces = text.split("\n")
    out = pieces[0]
    for piece in pieces[1:]:
        before, after = out.rstrip()[-1:], piece.lstrip()[:1]
        joiner = "" if _is_cjk(before) and _is_cjk(after) else " "
        out = out.rstrip() + joiner + piece.lstrip()
    return out


def _is_cjk(char: str) -> bool:
    if not char:
        return False
    name = unicodedata.name(char, "")
    return name.startswith(("CJK", "FULLWIDTH", "IDEOGRAPHIC", "HIRAGANA", "KATAKANA")) or (
        "\u3000" <= char <= "\u303f"
    )


@dataclass
class MissingGlyph:
    char: str
    span: SourceSpan


@dataclass
class BadFormula:
    tex: str
    message: str
    span: SourceSpan


@dataclass
class TypstWriter:
    """Renders inlines and blocks; records characters the sheet font lacks (they would print as boxes)."""

    figure_source: FigureSource
    image_source: ImageSource
    covered: Callable[[str], bool] = lambda char: True
    computed: ComputedText = _no_computed
    verified: IsVerified = lambda node: False
    missing: list[MissingGlyph] = field(default_factory=list)
    bad_formulas: list[BadFormula] = field(default_factory=list)
    _span: SourceSpan = SourceSpan("", 0)

    # ----------------------------------------------------------------- glyph coverage
    def _check_glyphs(self, text: str) -> None:
        for char in set(text):
            if char.isspace() or unicodedata.category(char) in ("Cc", "Cf"):
                continue
            if not self.covered(char):
                self.missing.append(MissingGlyph(char, self._span))

    def at(self, span: SourceSpan) -> TypstWriter:
        self._span = span
        return self

    def math(self, tex: str) -> str:
        """Converted math; a formula the check pass would have refused becomes a diagnostic, not a crash."""
        try:
            return tex_to_typst(tex)
        except MathEngineError as exc:
            self.bad_formulas.append(BadFormula(tex, str(exc), self._span))
            return '"?"'

    # ----------------------------------------------------------------- inlines
    def inlines(self, inlines: Sequence[Inline]) -> str:
        return "".join(self.inline(node) for node in inlines)

    def inline(self, node: Inline) -> str:
        if isinstance(node, Text):
            self._check_glyphs(node.text)
            return text_markup(node.text)
        if isinstance(node, Code):
            self._check_glyphs(node.text)
            return f"#raw({typst_string(node.text)})"
        if isinstance(node, Math):
            self._span = node.span
            mark = "#vmark" if self.verified(node) else ""
            return f"${self.math(node.tex)}${mark}"
        if isinstance(node, Computed):
            self._span = node.span
            return f"#computed({typst_string(self.computed(node))})"
        if isinstance(node, Strong):
            return f"#strong[{self.inlines(node.children)}]"
        if isinstance(node, Emph):
            return f"#emph[{self.inlines(node.children)}]"
        if isinstance(node, Link):
            label = self.inlines(node.children)
            if _is_safe_link(node.url):
                return f"#link({typst_string(node.url.strip())})[{label}]"
            return label
        if isinstance(node, Image):
            self._span = node.span
            self._check_glyphs(node.alt)
            return f"#inline-image({typst_string(self.image_source(node))})"
        if isinstance(node, Cloze):
            # The sheet shows the answer: the deletion revealed and marked, never the Anki syntax.
            return f"#cloze[{self.inlines(node.children)}]"
        if isinstance(node, LineBreak):
            return "#linebreak()"
        raise TypeError(f"unknown inline node {type(node).__name__}")

    # ----------------------------------------------------------------- blocks
    def blocks(self, blocks: Iterable[Block]) -> str:
        parts = [self.block(block) for block in blocks]
        return "\n\n".join(part for part in parts if part)

    def block(self, block: Block) -> str:
        if isinstance(block, CheckBlock):
            return ""
        self._span = block.span
        if isinstance(block, Paragraph):
            if len(block.children) == 1 and isinstance(block.children[0], Image):
                # An image on its own line is a picture, not a glyph-sized inline image.
                image = block.children[0]
                self._check_glyphs(image.alt)
                return f"#sheet-figure({typst_string(self.image_source(image))}, {typst_string(image.alt)})"
            return self.inlines(block.children)
        if isinstance(block, DisplayMath):
            verified = "(verified: true)" if self.verified(block) else ""
            return f"#display-math{verified}[$ {self.math(block.tex)} $]"
        if isinstance(block, CodeBlock):
            self._check_glyphs(block.text)
            return f"#code-block({typst_string(block.text.rstrip())})"
        if isinstance(block, ListBlock):
            items = ", ".join(f"[{self.blocks(item)}]" for item in block.items)
            if block.ordered:
                return f"#enum(tight: true, start: {int(block.start)}, {items})"
            return f"#list(tight: true, {items})"
        if isinstance(block, Quote):
            return f"#quote-block[{self.blocks(block.children)}]"
        if isinstance(block, Table):
            return self.table(block)
        if isinstance(block, FigureBlock):
            placed = self.figure_source(block)
            if placed is None:
                return ""
            caption = self.inlines(caption_inlines(placed.caption, block.span)) if placed.caption else ""
            return f"#sheet-figure({typst_string(placed.file_name)}, [{caption}])"
        raise TypeError(f"unknown block node {type(block).__name__}")

    def table(self, table: Table) -> str:
        width = max([len(table.header), *(len(row) for row in table.rows)])
        cells: list[str] = []
        cells.extend(f"[{self.inlines(cell)}]" for cell in table.header)
        cells.extend("[]" for _ in range(width - len(table.header)))
        for row in table.rows:
            cells.extend(f"[{self.inlines(cell)}]" for cell in row)
            cells.extend("[]" for _ in range(width - len(row)))
        return f"#sheet-table({width}, {', '.join(cells)})"


def _is_safe_link(url: str) -> bool:
    try:
        return urlsplit(url.strip()).scheme.lower() in SAFE_LINK_SCHEMES
    except ValueError:
        return False


@functools.cache
def font_coverage(font_path: Path) -> frozenset[int]:
    """Code points the font has glyphs for (a .ttc: its first face; CJK collections share one cmap)."""
    from fontTools.ttLib import TTFont

    font = TTFont(str(font_path), fontNumber=0, lazy=True)
    try:
        return frozenset(font.getBestCmap() or {})
    finally:
        font.close()
