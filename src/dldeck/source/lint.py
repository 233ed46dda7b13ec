"""Lint rules that protect Anki: each rule is a plain function `rule(cards) -> diagnostics`.

The reader reports what is wrong in the Markdown itself; these rules judge the cards it made
(identity, emptiness, math that Anki or MathJax would mangle).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from dldeck.errors import Diagnostic, quote
from dldeck.model import Block, Card, CheckBlock, DisplayMath, FigureBlock, Math, Paragraph, Text
from dldeck.source.glossary import Glossary
from dldeck.source.plugins import CLOZE_START
from dldeck.source.reader import walk_inlines
from dldeck.source.texwidth import top_level, width_em

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

Rule = Callable[[Sequence[Card]], Iterable[Diagnostic]]


def _diag(card: Card, message: str, line: int | None = None) -> Diagnostic:
    return Diagnostic(card.span.path, line if line is not None else card.span.line, message)


def unique_slugs(cards: Sequence[Card]) -> Iterable[Diagnostic]:
    first: dict[str, Card] = {}
    for card in cards:
        if card.slug in first:
            other = first[card.slug]
            yield _diag(card, f"duplicate card id {card.slug!r} (first used at {other.span})")
        else:
            first[card.slug] = card


def slug_shape(cards: Sequence[Card]) -> Iterable[Diagnostic]:
    for card in cards:
        if not SLUG.match(card.slug):
            yield _diag(card, f"card id {card.slug!r} is not a slug: use lowercase letters, digits and "
                              "single hyphens, e.g. 'sigmoid-derivative'")
        for covered in card.covers:
            if not SLUG.match(covered):
                yield _diag(card, f"covers names {covered!r}, which is not a slug")


def _visible_text(blocks: Iterable[object]) -> str:
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, DisplayMath):
            parts.append(block.tex)
        for node in walk_inlines(block):
            if isinstance(node, Text):
                parts.append(node.text)
            elif isinstance(node, Math):
                parts.append(node.tex)
            elif not hasattr(node, "children"):
                parts.append("x")
    return "".join(parts).strip()


def not_empty(cards: Sequence[Card]) -> Iterable[Diagnostic]:
    for card in cards:
        if not _visible_text([Paragraph(card.question, card.span)]):
            yield _diag(card, "empty question: the heading has no text")
        shown = [b for b in card.answer if not isinstance(b, (CheckBlock, FigureBlock))]
        if not _visible_text(shown) and not card.figures:
            yield _diag(card, f"empty answer for card {card.slug!r}: write the answer under the heading")


def _all_math(card: Card) -> Iterable[tuple[str, int, bool]]:
    """Every formula of a card: (tex, line, display?)."""
    blocks: list[Block] = [Paragraph(card.question, card.span), *card.answer, *card.extra, *card.sources]
    for block in blocks:
        if isinstance(block, DisplayMath):
            yield block.tex, block.span.line, True
        for node in walk_inlines(block):
            if isinstance(node, Math):
                yield node.tex, node.span.line, False


def balanced_math(cards: Sequence[Card]) -> Iterable[Diagnostic]:
    """Braces and \\left/\\right must pair up, or MathJax shows the raw source."""
    for card in cards:
        for tex, line, _display in _all_math(card):
            depth = 0
            escaped = False
            for char in tex:
                if escaped:
                    escaped = False
                elif char == "\\":
                    escaped = True
                elif char == "{":
                    depth += 1
                elif char == "}":
                    depth -= 1
                    if depth < 0:
                        break
            if depth != 0:
                yield _diag(card, f"unbalanced braces in math {quote(tex)}", line)
            if len(re.findall(r"\\left\b", tex)) != len(re.findall(r"\\right\b", tex)):
                yield _diag(card, f"\\left without matching \\right in math {quote(tex)}", line)
            if "$" in tex:
                yield _diag(card, f"'$' inside math {quote(tex)}: a math delimiter is unbalanced", line)


def cloze_math_braces(cards: Sequence[Card]) -> Iterable[Diagnostic]:
    """In Anki a cloze ends at the first `}}`: TeX like `\\frac{a}{b}}` inside one cuts it short."""
    for card in cards:
        for tex, line, _display in _all_math(card):
            for match in CLOZE_START.finditer(tex):
                depth = 2
                position = match.end()
                intended_end = -1
                while position < len(tex):
                    char = tex[position]
                    if char == "\\":
                        position += 2
                        continue
                    depth += 1 if char == "{" else -1 if char == "}" else 0
                    if depth == 0:
                        intended_end = position - 1
                        break
                    position += 1
                first_close = tex.find("}}", match.end())
                if intended_end >= 0 and first_close < intended_end:
                    yield _diag(card, f"'}}}}' inside a cloze in math {quote(tex)}: Anki would end the cloze "
                                      "there; write '} }' instead", line)


def language(cards: Sequence[Card], glossary: Glossary) -> Iterable[Diagnostic]:
    """The glossary's terms and quotes, in what a learner reads: question, answer and extra text,
    never math, code, check or figure blocks, or sources (titles are quoted as published)."""
    for card in cards:
        for block in (Paragraph(card.question, card.span), *card.answer, *card.extra):
            for node in walk_inlines(block):
                if isinstance(node, Text):
                    for offset, message in glossary.problems(node.text):
                        yield _diag(card, message, node.line_at(offset, block.span.line))


# ----------------------------------------------------------------- layout on a 360 px phone
# Anki's MathJax 3 never breaks a formula across lines, so a formula wider than the phone's column
# scrolls sideways (display) or pushes the whole card sideways (inline). The widths are estimates
# (texwidth.py) in em of the card text; 14 em is about 295 px at Anki's 17 px phone text, under
# the 325 px column of a 360 px window even for the widest glyph mix measured.
PHONE_LIMIT_EM = 14.0
PX_PER_EM = 21.0  # median of MathJax's width over the estimate, 17 px text (for the message only)
_SAFE_PX = round(PHONE_LIMIT_EM * PX_PER_EM)
_TOP_LEVEL_QUAD = re.compile(r"\\q?quad\b")
# TeX typed as plain text: a learner sees `d_k`, `x^2`, `√d` instead of typeset math.
_PSEUDO_TEX = re.compile(
    r"√"  # a root sign typed as text
    r"|(?<![\w/.-])[A-Za-z]{1,3}_(?:\{|[A-Za-z0-9]{1,3}\b)"  # d_k, p_t, x_{i} (not snake_case_names)
    r"|(?<![\w/.-])[A-Za-z]\^[0-9A-Za-z{(-]"  # x^2, e^x
)
_CAPTION_LINE = re.compile(r"^\s*caption\s*:(.*)$")
_INLINE_DOLLARS = re.compile(r"\$[^$\n]*\$")


def phone_width(cards: Sequence[Card]) -> Iterable[Diagnostic]:
    """Formulas that do not fit a 360 px phone, and displays that join separate formulas."""
    for card in cards:
        for tex, line, display in _all_math(card):
            estimate = width_em(tex, display)
            wide = f"about {estimate * PX_PER_EM:.0f} px, over the {_SAFE_PX} px that fit a 360 px window"
            if display and _TOP_LEVEL_QUAD.search(top_level(tex)):
                message = (f"display formula joins separate formulas with \\quad/\\qquad {quote(tex)}: on a "
                           "phone it scrolls sideways; write one formula per $$…$$")
            elif display and estimate > PHONE_LIMIT_EM:
                message = (f"display formula too wide for a phone {quote(tex)}: {wide} (MathJax does not "
                           "break lines); split it into several $$…$$ (one relation each) or an aligned "
                           "block with one relation per row")
            elif not display and estimate > PHONE_LIMIT_EM:
                message = (f"inline formula too wide for a phone {quote(tex)}: {wide}, so it pushes the card "
                           "sideways; make it a $$…$$ display or split it")
            else:
                continue
            yield _diag(card, message, line)


_TEXT_ESCAPE = re.compile(r"\\(?:text|textrm|textbf|textit|mbox)\{[^{}]*\\[_%&#${}]")


def text_escapes(cards: Sequence[Card]) -> Iterable[Diagnostic]:
    """Anki's MathJax runs without its text-macros package: `\\text{a\\_b}` shows the backslash."""
    for card in cards:
        for tex, line, _display in _all_math(card):
            match = _TEXT_ESCAPE.search(tex)
            if match:
                yield _diag(card, f"escape inside \\text in {quote(tex)}: Anki shows it with its backslash; "
                                  "close the text around it, e.g. \\text{output}\\_\\text{padding}", line)


def _caption_lines(block: FigureBlock) -> Iterable[tuple[str, int]]:
    for offset, text in enumerate(block.source.splitlines()):
        match = _CAPTION_LINE.match(text)
        if match:
            yield match.group(1), block.line_of(offset)


def pseudo_tex(cards: Sequence[Card]) -> Iterable[Diagnostic]:
    """`d_k`, `x^2`, `√d` in plain text (question, answer, extra, figure captions) belong in $…$."""
    message = ("TeX written as plain text {}: put it in math ($d_k$, $\\sqrt{{d_k}}$) or, for a "
               "program name, in `code`")
    for card in cards:
        for block in (Paragraph(card.question, card.span), *card.answer, *card.extra):
            for node in walk_inlines(block):
                if isinstance(node, Text):
                    for match in _PSEUDO_TEX.finditer(node.text):
                        yield _diag(card, message.format(quote(match.group())),
                                    node.line_at(match.start(), block.span.line))
        for figure in card.figures:
            for caption, line in _caption_lines(figure):
                for match in _PSEUDO_TEX.finditer(_INLINE_DOLLARS.sub("", caption)):
                    yield _diag(card, message.format(quote(match.group())), line)


# Every rule judges one card at a time, except unique_slugs, which compares them all.
CARD_RULES: tuple[Rule, ...] = (slug_shape, not_empty, balanced_math, cloze_math_braces, phone_width,
                                pseudo_tex, text_escapes)
RULES: tuple[Rule, ...] = (unique_slugs, *CARD_RULES)


def lint_cards(cards: Sequence[Card], glossary: Glossary | None = None) -> list[Diagnostic]:
    """The findings of every rule that judges cards one by one (so a file's cards can be judged alone)."""
    found = [diagnostic for rule in CARD_RULES for diagnostic in rule(cards)]
    if glossary is not None:
        found.extend(language(cards, glossary))
    return found


def lint(cards: Sequence[Card], glossary: Glossary | None = None) -> list[Diagnostic]:
    """Every rule's findings; the language rule runs when the collection has a glossary."""
    return [*unique_slugs(cards), *lint_cards(cards, glossary)]
