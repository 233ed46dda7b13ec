"""Model → HTML fragments, shared by the Anki backend and the HTML cheat sheet.

Content is text, never markup: every string from a content file is HTML-escaped here, so a
stranger's file cannot inject tags or scripts into a learner's deck or page. How math and figures
look differs per backend, so those are passed in as callables.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from dldeck.errors import Diagnostic, quote
from dldeck.model import (
    Block,
    Card,
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
    Verified,
)

MathRenderer = Callable[[str, bool], str]
"""(tex without delimiters, display?) → HTML."""

FigureRenderer = Callable[[FigureBlock], str]
ImageSource = Callable[[Image], str]
"""Image → the URL to put in `src` (e.g. a content-hashed media name)."""
TextFilter = Callable[[str], str]
"""Escaped text → what a backend shows (Anki defuses its MathJax delimiters here); default: as is."""

ComputedText = Callable[[Computed], str]
"""Computed number → its text, as the claims pass formatted it."""

IsVerified = Callable[[Math | DisplayMath], bool]
"""Formula → whether every relation it states was verified (it then carries the mark)."""

# The mark after a verified formula or computed number; each output explains it in one legend line.
VERIFIED_MARK = '<sup class="vmark">✓</sup>'
LEGEND = "✓ 公式与数值已由 sympy 验证（verified by dldeck）"

SAFE_LINK_SCHEMES = frozenset({"http", "https", "mailto"})
_LANGUAGE_NAME = re.compile(r"[A-Za-z0-9_+#.-]+")
# Punctuation that must not start a line (full-width and ASCII closers). After an inline formula a
# browser may break before it, since the formula is an atomic box: Anki's MathJax and the sheet's
# MathML both did. The formula and the punctuation that follows it go into one no-wrap span.
_CLOSING_PUNCTUATION = re.compile(r"[，。、；：！？）》」』】〉”’…,.;:!?)\]]+")


def escape_text(text: str) -> str:
    """Escape for HTML text content; also defuse `{{`/`}}` so text can never open or close a cloze."""
    escaped = html.escape(text, quote=False)
    return escaped.replace("{{", "{&#123;").replace("}}", "}&#125;")


def _escape_cloze_text(text: str) -> str:
    """Inside a deletion, braces and colons are Anki's syntax (`::` starts the hint, `}}` ends it)."""
    escaped = html.escape(text, quote=False)
    return escaped.replace("{", "&#123;").replace("}", "&#125;").replace(":", "&#58;")


def _defuse_cloze_tex(tex: str) -> str:
    """`}}` or `::` inside math would end the deletion or start its hint; in TeX a space is invisible."""
    while "}}" in tex or "::" in tex:
        tex = tex.replace("}}", "} }").replace("::", ": :")
    return tex


def _escape_attr(text: str) -> str:
    return html.escape(text, quote=True)


def anki_math(tex: str, display: bool) -> str:
    """TeX in the only delimiters Anki's MathJax reads, with `<`, `>`, `&` escaped for the field HTML."""
    body = html.escape(tex, quote=False)
    return f"\\[{body}\\]" if display else f"\\({body}\\)"


def _default_image_source(image: Image) -> str:
    return image.src


def computed_value(verified: Verified, card: Card | None, node: Computed,
                   diagnostics: list[Diagnostic]) -> str:
    """The text of a computed number in `card`; a missing one (no claims pass ran) is a diagnostic."""
    value = verified.value(card.slug, node) if card is not None else None
    if value is None:
        diagnostics.append(Diagnostic(node.span.path, node.span.line,
                                      f"computed number {quote('= ' + node.expression)} has no value"))
        return ""
    return value


def _unverified(_node: Math | DisplayMath) -> bool:
    return False


def _no_computed(node: Computed) -> str:
    raise ValueError(f"computed number `= {node.expression}` has no value: the claims pass did not run")


def _as_is(text: str) -> str:
    return text


class _InlineRenderer:
    def __init__(self, math: MathRenderer, image_source: ImageSource | None,
                 computed: ComputedText | None = None, verified: IsVerified | None = None,
                 text_filter: TextFilter | None = None) -> None:
        self.math = math
        self.image_source = image_source or _default_image_source
        self.computed = computed or _no_computed
        self.verified = verified or _unverified
        self.text = text_filter or _as_is

    def render(self, inlines: Sequence[Inline], in_cloze: bool = False) -> str:
        out: list[str] = []
        glued = ""
        for index, node in enumerate(inlines):
            if isinstance(node, Text) and glued:
                node = dataclasses.replace(node, text=node.text[len(glued) :])
                glued = ""
                if not node.text:
                    continue
            following = inlines[index + 1] if index + 1 < len(inlines) else None
            if isinstance(node, Math) and isinstance(following, Text):
                match = _CLOSING_PUNCTUATION.match(following.text)
                if match:
                    glued = match.group()
                    escape = _escape_cloze_text if in_cloze else escape_text
                    out.append(f'<span class="nobr">{self.render_one(node, in_cloze)}'
                               f'{self.text(escape(glued))}</span>')
                    continue
            out.append(self.render_one(node, in_cloze))
        return "".join(out)

    def render_one(self, node: Inline, in_cloze: bool) -> str:
        if isinstance(node, Text):
            return self.text(_escape_cloze_text(node.text) if in_cloze else escape_text(node.text))
        if isinstance(node, Code):
            code = self.text(_escape_cloze_text(node.text) if in_cloze else escape_text(node.text))
            return f"<code>{code}</code>"
        if isinstance(node, Math):
            mark = VERIFIED_MARK if self.verified(node) else ""
            return self.math(_defuse_cloze_tex(node.tex) if in_cloze else node.tex, False) + mark
        if isinstance(node, Computed):
            text = self.computed(node)
            escaped = self.text(_escape_cloze_text(text)) if in_cloze else self.text(escape_text(text))
            return f'<span class="computed">{escaped}</span>{VERIFIED_MARK}'
        if isinstance(node, Strong):
            return f"<strong>{self.render(node.children, in_cloze)}</strong>"
        if isinstance(node, Emph):
            return f"<em>{self.render(node.children, in_cloze)}</em>"
        if isinstance(node, Link):
            label = self.render(node.children, in_cloze)
            if _is_safe_link(node.url):
                return f'<a href="{_escape_attr(node.url)}">{label}</a>'
            return label
        if isinstance(node, Image):
            src = self.image_source(node)
            return f'<img src="{_escape_attr(src)}" alt="{_escape_attr(node.alt)}">'
        if isinstance(node, Cloze):
            body = self.render(node.children, in_cloze=True)
            hint = ""
            if node.hint:
                hint = "::" + self.text(_escape_cloze_text(node.hint))
            return f"{{{{c{node.number}::{body}{hint}}}}}"
        if isinstance(node, LineBreak):
            return "<br>"
        raise TypeError(f"unknown inline node {type(node).__name__}")


def _is_safe_link(url: str) -> bool:
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return False
    return scheme in SAFE_LINK_SCHEMES


def render_inlines(
    inlines: Sequence[Inline],
    math: MathRenderer,
    image_source: ImageSource | None = None,
    computed: ComputedText | None = None,
    verified: IsVerified | None = None,
    text_filter: TextFilter | None = None,
) -> str:
    """Inline content as an HTML fragment (no surrounding element)."""
    return _InlineRenderer(math, image_source, computed, verified, text_filter).render(inlines)


def render_blocks(
    blocks: Sequence[Block],
    math: MathRenderer,
    figure: FigureRenderer,
    image_source: ImageSource | None = None,
    computed: ComputedText | None = None,
    verified: IsVerified | None = None,
    text_filter: TextFilter | None = None,
) -> str:
    """Block content as an HTML fragment; check blocks vanish, figures come from `figure`."""
    inline = _InlineRenderer(math, image_source, computed, verified, text_filter)
    return _render_blocks(blocks, inline, figure)


def _render_blocks(blocks: Sequence[Block], inline: _InlineRenderer, figure: FigureRenderer) -> str:
    parts = [_render_block(block, inline, figure) for block in blocks]
    return "\n".join(part for part in parts if part)


def _render_block(block: Block, inline: _InlineRenderer, figure: FigureRenderer) -> str:
    if isinstance(block, Paragraph):
        return f"<p>{inline.render(block.children)}</p>"
    if isinstance(block, DisplayMath):
        if inline.verified(block):
            return f'<div class="math-display verified">{inline.math(block.tex, True)}{VERIFIED_MARK}</div>'
        return f'<div class="math-display">{inline.math(block.tex, True)}</div>'
    if isinstance(block, CodeBlock):
        language = block.language.strip()
        attr = f' class="language-{language}"' if _LANGUAGE_NAME.fullmatch(language) else ""
        return f"<pre><code{attr}>{inline.text(escape_text(block.text))}</code></pre>"
    if isinstance(block, ListBlock):
        items = "".join(f"<li>{_render_list_item(item, inline, figure)}</li>" for item in block.items)
        if block.ordered:
            start = f' start="{block.start}"' if block.start != 1 else ""
            return f"<ol{start}>{items}</ol>"
        return f"<ul>{items}</ul>"
    if isinstance(block, Quote):
        return f"<blockquote>{_render_blocks(block.children, inline, figure)}</blockquote>"
    if isinstance(block, Table):
        head = "".join(f"<th>{inline.render(cell)}</th>" for cell in block.header)
        body = "".join(
            "<tr>" + "".join(f"<td>{inline.render(cell)}</td>" for cell in row) + "</tr>"
            for row in block.rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if isinstance(block, CheckBlock):
        return ""
    if isinstance(block, FigureBlock):
        return figure(block)
    raise TypeError(f"unknown block node {type(block).__name__}")


def _render_list_item(item: Sequence[Block], inline: _InlineRenderer, figure: FigureRenderer) -> str:
    # A one-paragraph item reads as a tight list item; no <p> margins around it.
    if len(item) == 1 and isinstance(item[0], Paragraph):
        return inline.render(item[0].children)
    return _render_blocks(item, inline, figure)


_CAPTION_MATH = re.compile(r"\$([^$\n]+)\$")


def caption_inlines(caption: str, span: SourceSpan) -> tuple[Inline, ...]:
    """A figure caption (plain text with optional `$tex$`) as inlines, so every writer typesets its
    math and keeps a formula together with the punctuation after it, as in the card text."""
    out: list[Inline] = []
    position = 0
    for match in _CAPTION_MATH.finditer(caption):
        if match.start() > position:
            out.append(Text(caption[position : match.start()]))
        out.append(Math(match.group(1), span))
        position = match.end()
    if position < len(caption):
        out.append(Text(caption[position:]))
    return tuple(out)


def plain_text(inlines: Sequence[Inline]) -> str:
    """Inline content as plain text (math as its TeX), for alt texts, titles and sort keys."""
    out: list[str] = []
    for node in inlines:
        if isinstance(node, Text | Code):
            out.append(node.text)
        elif isinstance(node, Computed):
            out.append(f"`= {node.expression}`")
        elif isinstance(node, Math):
            out.append(node.tex)
        elif isinstance(node, Strong | Emph | Link | Cloze):
            out.append(plain_text(node.children))
        elif isinstance(node, Image):
            out.append(node.alt)
        elif isinstance(node, LineBreak):
            out.append(" ")
    return "".join(out)
