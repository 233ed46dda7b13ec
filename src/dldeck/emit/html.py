"""The HTML cheat sheet: one self-contained file that works offline, on a phone, with or without script.

Math is MathML rendered at build time by KaTeX (browsers draw MathML natively: no stylesheet, font
or script to fetch); figures and images are `data:` URIs (an `<img>` cannot run script, and SVG
ids of different figures cannot collide). The only URLs in the page are links the content makes.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import mimetypes
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from dldeck.atomicfile import write_atomically
from dldeck.config import SheetConfig, deck_titles, group_sections
from dldeck.contain import load_image
from dldeck.emit.markup import (
    LEGEND,
    caption_inlines,
    computed_value,
    plain_text,
    render_blocks,
    render_inlines,
)
from dldeck.errors import BuildError, Diagnostic, quote
from dldeck.mathengines import MathEngineError, tex_to_mathml
from dldeck.model import (
    Block,
    Card,
    Cloze,
    Collection,
    Computed,
    Emph,
    FigureBlock,
    FigureKey,
    Image,
    Inline,
    Link,
    ListBlock,
    Paragraph,
    Quote,
    RenderedFigure,
    SourceSpan,
    Strong,
    Table,
    Verified,
)
from dldeck.source.outline import card_formulas

TEMPLATE_DIR = Path(__file__).parent / "templates"
TEMPLATE_NAME = "cheatsheet.html.j2"
CARD_TEMPLATE_NAME = "card.html.j2"  # one card's article, kept per card
MATHML_NAMESPACE = "http://www.w3.org/1998/Math/MathML"
# Where a figure's data URI goes. Only the slots of the card's own figures are filled: text that
# spelled one out (NUL and the figure's content-hashed name) would at most show that data URI as text.
_FIGURE_SLOT = "\x00figure:{}\x00"
IMAGE_TYPES = {".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".gif": "image/gif", ".webp": "image/webp"}


# --------------------------------------------------------------------------- cloze → revealed


def reveal_inlines(inlines: Sequence[Inline]) -> tuple[Inline, ...]:
    """The sheet shows answers: a cloze deletion becomes its (bold) text, never Anki's `{{c1::…}}`."""
    out: list[Inline] = []
    for node in inlines:
        if isinstance(node, Cloze):
            out.append(Strong(reveal_inlines(node.children)))
        elif isinstance(node, Strong | Emph | Link):
            out.append(dataclasses.replace(node, children=reveal_inlines(node.children)))
        else:
            out.append(node)
    return tuple(out)


def reveal_blocks(blocks: Sequence[Block]) -> tuple[Block, ...]:
    out: list[Block] = []
    for block in blocks:
        if isinstance(block, Paragraph):
            out.append(dataclasses.replace(block, children=reveal_inlines(block.children)))
        elif isinstance(block, ListBlock):
            items = tuple(reveal_blocks(item) for item in block.items)
            out.append(dataclasses.replace(block, items=items))
        elif isinstance(block, Quote):
            out.append(dataclasses.replace(block, children=reveal_blocks(block.children)))
        elif isinstance(block, Table):
            header = tuple(reveal_inlines(cell) for cell in block.header)
            rows = tuple(tuple(reveal_inlines(cell) for cell in row) for row in block.rows)
            out.append(dataclasses.replace(block, header=header, rows=rows))
        else:
            out.append(block)
    return tuple(out)


# --------------------------------------------------------------------------- rendering


def data_uri(name: str, data: bytes) -> str:
    mime = IMAGE_TYPES.get(Path(name).suffix.lower()) or mimetypes.guess_type(name)[0]
    mime = mime or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


@dataclass(frozen=True)
class CardView:
    slug: str
    question: Markup
    answer: Markup
    extra: Markup
    sources: Markup
    search_text: str  # the question, slug and tags, which the page's search box matches


@dataclass(frozen=True)
class _Embedded:
    """An article whose figure slots are filled only when the page template writes it (`__html__`)."""

    article: str
    slots: tuple[tuple[str, str], ...]  # (slot, SVG file)
    data_uri: Callable[[str], str]

    def __html__(self) -> str:
        article = self.article
        for slot, svg_path in self.slots:
            article = article.replace(slot, self.data_uri(svg_path))
        return article


@dataclass(frozen=True)
class SectionView:
    anchor: str
    deck_title: str
    section: str
    starts_deck: bool
    cards: tuple[Markup | _Embedded, ...]  # each card's article


@dataclass
class TocEntry:
    title: str
    anchor: str
    count: int
    children: list[TocEntry]


def table_of_contents(sections: Sequence[SectionView]) -> list[TocEntry]:
    """Decks, each with its named sections; counts are cards."""
    decks: list[TocEntry] = []
    for section in sections:
        if section.starts_deck or not decks:
            decks.append(TocEntry(section.deck_title, section.anchor, 0, []))
        decks[-1].count += len(section.cards)
        if section.section:
            entry = TocEntry(section.section, f"{section.anchor}-s", len(section.cards), [])
            decks[-1].children.append(entry)
    return decks


class _CardRenderer:
    """Renders cards, collecting every problem (as diagnostics) instead of stopping at the first."""

    def __init__(self, figures: Mapping[FigureKey, RenderedFigure], root: Path, verified: Verified,
                 article_template: jinja2.Template) -> None:
        self.figures = figures
        self.article_template = article_template
        self.figure_sources: dict[str, str] = {}  # a figure's SVG file → its data URI
        self.root = root
        self.verified = verified
        self.diagnostics: list[Diagnostic] = []
        self.card: Card | None = None
        self.formula_spans: dict[str, SourceSpan] = {}
        self.images = 0  # content images the current card embedded (read from disk)

    def problem(self, line: int | None, message: str) -> None:
        assert self.card is not None
        self.diagnostics.append(Diagnostic(self.card.span.path, line or self.card.span.line, message))

    def math(self, tex: str, display: bool) -> str:
        try:
            # The HTML parser puts <math> in the MathML namespace itself; the page names no URLs.
            return tex_to_mathml(tex, display).replace(f' xmlns="{MATHML_NAMESPACE}"', "")
        except MathEngineError as exc:
            where = self.formula_spans.get(tex)
            self.problem(where.line if where else None,
                         f"formula does not compile in KaTeX: {quote(tex)} — {exc.engine_message} "
                         f"[card {self.card.slug if self.card else '?'}]")
            return f"<code>{html.escape(tex)}</code>"

    def figure(self, block: FigureBlock) -> str:
        assert self.card is not None
        rendered = self.figures.get(FigureKey(self.card.slug, block.index))
        if rendered is None:
            self.problem(block.span.line, f"figure of card {self.card.slug} was not rendered")
            return ""
        caption_html = render_inlines(caption_inlines(rendered.caption, block.span), math=self.math)
        caption = f"<figcaption>{caption_html}</figcaption>" if rendered.caption else ""
        alt = html.escape(rendered.alt or rendered.caption, quote=True)
        # a slot for the SVG's data URI, filled by `_embed`: a kept view holds the slot, not the picture
        slot = _FIGURE_SLOT.format(Path(rendered.svg_path).name)
        return f'<figure><img src="{slot}" alt="{alt}">{caption}</figure>'

    def computed(self, node: Computed) -> str:
        return computed_value(self.verified, self.card, node, self.diagnostics)

    def image(self, image: Image) -> str:
        self.images += 1
        data = load_image(image, self.root, self.diagnostics)
        return "" if data is None else data_uri(image.src, data)

    def _embed(self, card: Card, article: str) -> Markup | _Embedded:
        """The article with the slots of the card's figures to fill with their SVGs as data URIs: filled
        when the page is written, card by card (held filled for the whole page, a 20,000-card sheet's
        articles took about 100 MB more)."""
        slots = []
        for block in card.figures:
            rendered = self.figures.get(FigureKey(card.slug, block.index))
            if rendered is None:
                continue
            slot = _FIGURE_SLOT.format(Path(rendered.svg_path).name)
            if slot in article:
                slots.append((slot, rendered.svg_path))
        return _Embedded(article, tuple(slots), self._data_uri) if slots else Markup(article)

    def _data_uri(self, svg_path: str) -> str:
        """A figure file as a data URI, read once per page however many cards show it."""
        source = self.figure_sources.get(svg_path)
        if source is None:
            source = self.figure_sources[svg_path] = data_uri(svg_path, Path(svg_path).read_bytes())
        return source

    def _render(self, card: Card, include_extra: bool) -> CardView:
        self.card = card
        self.formula_spans = {use.tex: use.span for use in reversed(list(card_formulas(card)))}
        shown = {"computed": self.computed, "verified": self.verified.formula}
        question = render_inlines(reveal_inlines(card.question), math=self.math, image_source=self.image,
                                  **shown)
        answer = render_blocks(reveal_blocks(card.answer), math=self.math, figure=self.figure,
                               image_source=self.image, **shown)
        extra = ""
        if include_extra and card.extra:
            extra = render_blocks(reveal_blocks(card.extra), math=self.math, figure=self.figure,
                                  image_source=self.image, **shown)
        sources = render_blocks(card.sources, math=self.math, figure=self.figure, image_source=self.image,
                                **shown)
        search_text = " ".join([plain_text(card.question), card.slug, *card.tags]).lower()
        return CardView(card.slug, Markup(question), Markup(answer), Markup(extra), Markup(sources),
                        search_text)

    def kept(self, card: Card, include_extra: bool, fragments: Any) -> Markup | _Embedded:
        """The card's article from `fragments` (dldeck.pipeline.fragments.Fragments) when kept;
        otherwise rendered, and kept (with its figures' slots, not their pictures) unless it embeds a
        content image (read and checked afresh every time) or had a problem. The whole article is
        kept, not its parts: putting 20,000 cards' parts through the page template took about 0.6 s
        of every build."""
        kept = fragments.get(card, include_extra) if fragments is not None else None
        if isinstance(kept, str):
            return self._embed(card, kept)
        before = (self.images, len(self.diagnostics))
        article = self.article_template.render(card=self._render(card, include_extra))
        if fragments is not None:
            fragments.put(card, article, include_extra, keep=before == (self.images, len(self.diagnostics)))
        return self._embed(card, article)


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(collection: Collection, figures: Mapping[FigureKey, RenderedFigure], sheet: SheetConfig,
                title: str, build_date: str, verified: Verified | None = None, fragments: Any = None) -> str:
    """The whole page as text; BuildError (every problem, path:line) when a card cannot be rendered.
    `fragments`: cards' views kept from earlier builds (dldeck.pipeline.fragments.Fragments)."""
    return "".join(html_pieces(collection, figures, sheet, title, build_date, verified, fragments))


def html_pieces(collection: Collection, figures: Mapping[FigureKey, RenderedFigure], sheet: SheetConfig,
                title: str, build_date: str, verified: Verified | None = None,
                fragments: Any = None) -> Iterator[str]:
    """The page in pieces, in order, every card rendered first (so BuildError comes before the first
    piece): a 5,000-card page is 22 MB, and writing it piece by piece never holds it whole twice."""
    cards = sheet.select(collection)
    sections = group_sections(cards)
    titles = deck_titles(list(dict.fromkeys(s.deck for s in sections)))
    environment = _environment()
    renderer = _CardRenderer(figures, Path(collection.root), verified or Verified(),
                             environment.get_template(CARD_TEMPLATE_NAME))
    views: list[SectionView] = []
    previous_deck = None
    for number, section in enumerate(sections, start=1):
        rendered = tuple(renderer.kept(card, sheet.include_extra, fragments) for card in section.cards)
        # `_` never occurs in a card slug, so section anchors cannot collide with card anchors.
        views.append(SectionView(f"section_{number}", titles[section.deck], section.section,
                                 section.deck != previous_deck, rendered))
        previous_deck = section.deck
    if renderer.diagnostics:
        raise BuildError(renderer.diagnostics)
    shown_title = title if sheet.name == "cheatsheet" else f"{title} · {sheet.name}"
    page = "landscape" if sheet.orientation == "landscape" else "portrait"
    return environment.get_template(TEMPLATE_NAME).generate(
        title=shown_title,
        build_date=build_date,
        sections=views,
        toc=table_of_contents(views),
        card_count=len(cards),
        print_page=f"{'A4' if sheet.paper == 'a4' else 'letter'} {page}",
        print_columns=sheet.columns,
        legend=LEGEND,
    )


def write_html(collection: Collection, figures: Mapping[FigureKey, RenderedFigure], sheet: SheetConfig,
               title: str, out_path: Path, build_date: str, verified: Verified | None = None,
               fragments: Any = None) -> None:
    """Write the sheet's self-contained HTML page to out_path (atomically)."""
    pieces = html_pieces(collection, figures, sheet, title, build_date, verified, fragments)
    write_atomically(out_path, (piece.encode("utf-8") for piece in pieces))

