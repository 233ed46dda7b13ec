"""The printable cheat sheet: the model → Typst source → PDF, typeset by Typst in short-lived child
processes (dldeck.emit.typeset), so the memory Typst holds is returned when each compile is done.
A large sheet is typeset in parts, joined under one more Typst document (`sheet_source`, `join_source`):
that document holds the title, outline, headers and page numbers, and each part's page is laid under
one of its pages as it is (dldeck.emit.underlay).

Typst compiles in a private temporary root holding only the generated source, the style file and
copies of the figures, so a document cannot read anything else. Every Typst warning is an error:
Typst only *warns* about a missing font, and a printed sheet full of boxes is a failed build.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from dldeck.atomicfile import write_atomically
from dldeck.buildcache import file_stamp
from dldeck.config import SheetConfig, SheetSection, deck_titles, group_sections
from dldeck.contain import load_image
from dldeck.emit.markup import LEGEND, computed_value
from dldeck.emit.typeset import Problem, TypesetError, lay_pages_under, typeset
from dldeck.emit.typst_markup import PlacedFigure, TypstWriter, font_coverage, typst_string
from dldeck.errors import BuildError, Diagnostic, quote
from dldeck.fonts import find_cjk_font
from dldeck.mathengines.engines import typst_font_paths, typst_version
from dldeck.model import (
    Card,
    Collection,
    Computed,
    FigureBlock,
    FigureKey,
    Image,
    RenderedFigure,
    SourceSpan,
    Verified,
)

TEMPLATE_DIR = Path(__file__).parent / "templates"
STYLE_FILE = "sheet.typ"
MAIN_FILE = "main.typ"

PAPER_MM = {"a4": (210.0, 297.0), "letter": (215.9, 279.4)}
MARGIN_X_MM = 9.0
MARGIN_TOP_MM = 12.0
GUTTER_MM = 5.0
# Below 7.5 pt CJK strokes fill in on an office printer (A4 landscape, 3 columns gave 7.47 pt).
MIN_BODY_PT = 7.5
MAX_BODY_PT = 9.0
# Cards per typeset part: an edit re-typesets about this many cards (about 0.3 s in a fresh Typst
# process) plus the join; each part starts on a new page, so smaller parts waste more paper.
PART_CARDS = 120


@dataclass
class _Assets:
    """Files the document refers to, copied flat into the Typst root under content-hashed names, and
    where each content image is used (Typst reports a bad image at the style file, not the card)."""

    figures: Mapping[FigureKey, RenderedFigure]
    root: str
    copies: dict[str, Path | bytes] = field(default_factory=dict)  # a figure's path, an image's checked bytes
    image_users: dict[str, list[tuple[SourceSpan, Card]]] = field(default_factory=dict)
    verified: Verified = field(default_factory=Verified)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    card: Card | None = None
    images: int = 0  # content images shown so far

    def computed(self, node: Computed) -> str:
        return computed_value(self.verified, self.card, node, self.diagnostics)

    def figure(self, block: FigureBlock) -> PlacedFigure | None:
        assert self.card is not None
        rendered = self.figures.get(FigureKey(self.card.slug, block.index))
        if rendered is None:
            self.diagnostics.append(Diagnostic(block.span.path, block.span.line,
                                               f"figure of card {self.card.slug} was not rendered"))
            return None
        source = Path(rendered.svg_path)
        self.copies[source.name] = source
        return PlacedFigure(source.name, rendered.caption)

    def image(self, image: Image) -> str:
        assert self.card is not None
        self.images += 1
        data = load_image(image, self.root, self.diagnostics)
        if data is None:
            return ""
        name = f"img-{hashlib.sha256(data).hexdigest()[:16]}{Path(image.src).suffix.lower()}"
        self.copies[name] = data
        self.image_users.setdefault(name, []).append((image.span, self.card))
        return name


def base_font_size(sheet: SheetConfig) -> float:
    """Text size in pt from the column width: dense, but never below what prints legibly."""
    short, long = PAPER_MM[sheet.paper]
    width = long if sheet.orientation == "landscape" else short
    column_mm = (width - 2 * MARGIN_X_MM - (sheet.columns - 1) * GUTTER_MM) / sheet.columns
    return round(min(MAX_BODY_PT, max(MIN_BODY_PT, column_mm / 12.0)), 2)


def _typst_date(build_date: str) -> str:
    """A fixed document date from the build date (reproducible), or none when it is not a date."""
    match = re.match(r"(\d{4})-(\d{2})-(\d{2})", build_date)
    if not match:
        return "none"
    try:
        day = date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return "none"
    return f"datetime(year: {day.year}, month: {day.month}, day: {day.day})"


@dataclass(frozen=True)
class TypstDocument:
    """A Typst file, the files it needs, which card each line belongs to, where each content image is
    used, and the problems found while writing it."""

    source: str
    copies: dict[str, Path | bytes]
    line_cards: list[tuple[int, Card]]
    image_users: dict[str, list[tuple[SourceSpan, Card]]]
    diagnostics: list[Diagnostic]
    underlays: tuple[tuple[str, int], ...] = ()  # (copied PDF, page) laid under each of the last pages
    # Copies that are files in the parts' cache already, with the hash the cache checked them by: the
    # join's child reads them there, and the document's inputs do not hash them again (about 0.15 s
    # of a 5,000-card edit).
    on_disk: dict[str, tuple[Path, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class SheetPart:
    """Some sections of the sheet as a document of its own: typeset alone, so an edit re-typesets
    only the part it is in. `headings` are its outline entries (level, text) in order."""

    name: str
    document: TypstDocument
    headings: tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class Sheet:
    """A small sheet as one document (`whole`), or a large one as parts plus the front matter
    (title, outline) that the joining document adds."""

    front: str
    parts: tuple[SheetPart, ...]
    diagnostics: list[Diagnostic]
    whole: TypstDocument | None = None


@dataclass(frozen=True)
class TypesetPart:
    """A typeset part: its PDF, its page count and where each of its headings landed (page, x, y in pt)."""

    pdf: bytes
    pages: int
    headings: tuple[tuple[int, float, float], ...]
    path: Path | None = None  # a file holding `pdf`, when it is kept in one (the parts' cache)
    digest: str = ""  # the SHA-256 of `pdf`, checked by the parts' cache (set with `path`)


# Every part reports its page count and where its headings are, for the joining document's outline.
LAYOUT_LABEL = "dldeck-layout"
_LAYOUT_PROBE = ("#context [#metadata((pages: counter(page).final().first(), headings: query(heading).map("
                 "h => { let p = h.location().position(); (p.page, p.x.pt(), p.y.pt()) })))"
                 f" <{LAYOUT_LABEL}>]")


def _preamble(sheet: SheetConfig, shown_title: str, build_date: str, *, furniture: bool) -> list[str]:
    """The page, text and style settings every part and the joining document share: a part's pages
    have the same size and body area, and only the joining document draws headers and page numbers."""
    family = typst_string(find_cjk_font().family)
    size = base_font_size(sheet)
    return [
        f'#import "{STYLE_FILE}": *',
        f"#set document(title: {typst_string(shown_title)}, date: {_typst_date(build_date)})",
        f'#set page(paper: "{"us-letter" if sheet.paper == "letter" else "a4"}", '
        f"flipped: {'true' if sheet.orientation == 'landscape' else 'false'}, columns: {sheet.columns}, "
        f"margin: (x: {MARGIN_X_MM}mm, top: {MARGIN_TOP_MM}mm, bottom: 11mm))",
        f"#set columns(gutter: {GUTTER_MM}mm)",
        f'#set text(font: ({family},), size: {size}pt, lang: "zh", region: "cn")',
        f'#show math.equation: set text(font: ("New Computer Modern Math", {family}))',
        f'#show raw: set text(font: ("DejaVu Sans Mono", {family}))',
        f"#show: sheet-style.with({typst_string(shown_title)}, {typst_string(build_date)}, "
        f"furniture: {'true' if furniture else 'false'})",
    ]


def sheet_source(collection: Collection, figures: Mapping[FigureKey, RenderedFigure], sheet: SheetConfig,
                 title: str, build_date: str, verified: Verified | None = None,
                 fragments: Any = None, coverage: Callable[[Path], frozenset[int]] = font_coverage) -> Sheet:
    """The sheet as Typst sources, with everything needed to compile them and to point errors at cards.

    A sheet of up to PART_CARDS cards is one document (`whole`). A larger one is cut into parts of
    whole sections, each of at least PART_CARDS cards (the last may be smaller), typeset alone so an
    edit re-typesets only its part; each part starts on a new page, and the joining document
    (`join_source`) writes the title and the outline on the first page and numbers the pages.
    `fragments`: cards' markup kept from earlier builds (dldeck.pipeline.fragments.Fragments);
    `coverage`: the code points a font has, asked only when a card is written afresh."""
    cards = sheet.select(collection)
    font = find_cjk_font()
    covered: list[frozenset[int]] = []

    def is_covered(char: str) -> bool:
        if not covered:
            covered.append(coverage(Path(font.path)))
        return ord(char) in covered[0]

    assets = _Assets(figures, collection.root, verified=verified or Verified())
    writer = TypstWriter(assets.figure, assets.image, covered=is_covered,
                         computed=assets.computed, verified=assets.verified.formula)
    shown_title = title if sheet.name == "cheatsheet" else f"{title} · {sheet.name}"
    front = [
        *_preamble(sheet, shown_title, build_date, furniture=True),
        f"#place(top, scope: \"parent\", float: true, "
        f"sheet-title({typst_string(shown_title)}, {typst_string(build_date)}, {len(cards)}, "
        f"legend: {typst_string(LEGEND)}))",
        '#outline(title: "目录", depth: 2)',
    ]
    sections = group_sections(cards)
    titles = deck_titles(list(dict.fromkeys(s.deck for s in sections)))
    groups = _part_sections(sections) if len(cards) > PART_CARDS else [list(sections)]
    whole: TypstDocument | None = None
    parts: list[SheetPart] = []
    previous_deck: str | None = None
    for group in groups:
        assets.copies, assets.image_users = {}, {}
        lines = front if len(groups) == 1 else _preamble(sheet, shown_title, build_date, furniture=False)
        headings: list[tuple[int, str]] = []
        card_at: dict[int, Card] = {}  # index in `lines` → card, for pointing Typst errors at cards
        for section in group:
            if section.deck != previous_deck:
                lines.append(f"#heading(level: 1, {typst_string(titles[section.deck])})")
                headings.append((1, titles[section.deck]))
                previous_deck = section.deck
            if section.section:
                lines.append(f"#heading(level: 2, {typst_string(section.section)})")
                headings.append((2, section.section))
            for card in section.cards:
                assets.card = card
                card_at[len(lines)] = card
                lines.append(_kept_markup(card, writer, assets, sheet.include_extra, fragments,
                                          [sheet.include_extra, str(font.path)]))
        if not cards:
            lines.append('#text(fill: muted)["（这张速查表没有卡片）"]')
        if len(groups) > 1:
            lines.append(_LAYOUT_PROBE)
        document = TypstDocument("\n".join(lines) + "\n", dict(assets.copies), _line_cards(lines, card_at),
                                 dict(assets.image_users), [])
        if len(groups) == 1:
            whole = document
        else:
            first = group[0]
            name = f"{titles[first.deck]} › {first.section}" if first.section else titles[first.deck]
            parts.append(SheetPart(name, document, tuple(headings)))
    diagnostics = list(assets.diagnostics)
    for missing in writer.missing:
        diagnostics.append(Diagnostic(
            missing.span.path, missing.span.line,
            f"character {quote(missing.char)} (U+{ord(missing.char):04X}) has no glyph in the PDF font "
            f"{font.family}: it would print as a box (write it as math or a common character)",
        ))
    for bad in writer.bad_formulas:
        diagnostics.append(Diagnostic(bad.span.path, bad.span.line,
                                      f"formula cannot go into the PDF: {quote(bad.tex)} — {bad.message}"))
    return Sheet("\n".join(front) + "\n", tuple(parts), sorted(set(diagnostics)), whole)


def _part_sections(sections: Sequence[SheetSection]) -> list[list[SheetSection]]:
    """Consecutive sections gathered until a part has PART_CARDS cards. Cut at section boundaries
    only, so editing a card never moves a cut; adding or removing cards may move later cuts."""
    groups: list[list[SheetSection]] = [[]]
    count = 0
    for section in sections:
        if count >= PART_CARDS:
            groups.append([])
            count = 0
        groups[-1].append(section)
        count += len(section.cards)
    return groups


def _line_cards(lines: Sequence[str], card_at: Mapping[int, Card]) -> list[tuple[int, Card]]:
    """The first line of the generated file each card's markup starts on."""
    line_cards: list[tuple[int, Card]] = []
    line_number = 1
    for index, text in enumerate(lines):
        if index in card_at:
            line_cards.append((line_number, card_at[index]))
        line_number += text.count("\n") + 1
    return line_cards


def _card_markup(card: Card, writer: TypstWriter, include_extra: bool) -> str:
    question = writer.at(card.span).inlines(card.question)
    answer = writer.blocks(card.answer)
    extra = writer.blocks(card.extra) if include_extra else ""
    extra_arg = f"(extra: [{extra}])" if extra else ""
    return f"#card{extra_arg}[{question}][{answer}]"


def _kept_markup(card: Card, writer: TypstWriter, assets: _Assets, include_extra: bool, fragments: Any,
                 setting: list[Any]) -> str:
    """The card's markup from `fragments` when kept for this `setting` (the font decides which
    characters are problems), its figures registered again as files to copy; otherwise written,
    and kept when it showed no image and found no problem."""
    kept = fragments.get(card, setting) if fragments is not None else None
    if isinstance(kept, str):
        for block in card.figures:
            assets.figure(block)
        return kept
    def state() -> tuple[int, ...]:
        return assets.images, len(assets.diagnostics), len(writer.missing), len(writer.bad_formulas)

    before = state()
    markup = _card_markup(card, writer, include_extra)
    if fragments is not None:
        fragments.put(card, markup, setting, keep=state() == before)
    return markup


def _part_file(index: int) -> str:
    return f"part-{index:03d}.pdf"


def join_source(sheet: Sheet, typeset: Sequence[TypesetPart]) -> TypstDocument:
    """The joining document: the front matter, then one page for every page of every part, with
    this document's header and page number; the part's page is laid under it after typesetting
    (`underlays`). Each part heading is placed again, hidden, where the part put it, so the outline
    and the PDF bookmarks point at it."""
    lines = [sheet.front.rstrip("\n")]
    copies: dict[str, Path | bytes] = {}
    on_disk: dict[str, tuple[Path, str]] = {}
    underlays: list[tuple[str, int]] = []
    for index, (part, done) in enumerate(zip(sheet.parts, typeset, strict=True)):
        copies[_part_file(index)] = done.pdf
        if done.path is not None:
            on_disk[_part_file(index)] = (done.path, done.digest)
        placed: dict[int, list[str]] = {}
        for (level, text), (page, x, y) in zip(part.headings, done.headings, strict=False):
            placed.setdefault(page, []).append(
                f"#place(top + left, dx: {x!r}pt - {MARGIN_X_MM}mm, dy: {y!r}pt - {MARGIN_TOP_MM}mm, "
                f"hide(heading(level: {level}, {typst_string(text)})))")
        for page in range(1, done.pages + 1):
            underlays.append((_part_file(index), page))
            lines.append(f"#page(columns: 1)[{''.join(placed.get(page, []))}]")
    return TypstDocument("\n".join(lines) + "\n", copies, [], {}, [], tuple(underlays), on_disk)


def write_pdf(collection: Collection, figures: Mapping[FigureKey, RenderedFigure], sheet: SheetConfig,
              title: str, out_path: Path, build_date: str, verified: Verified | None = None) -> None:
    """Compile the sheet's cards to a PDF at out_path (atomically); BuildError names what went wrong."""
    parts = sheet_parts(collection, figures, sheet, title, build_date, verified)
    if parts.whole is not None:
        pdf = typeset_document(parts.whole)
    else:
        pdf = typeset_document(join_source(parts, [typeset_part(part) for part in parts.parts]))
    write_atomically(out_path, pdf)


def sheet_parts(collection: Collection, figures: Mapping[FigureKey, RenderedFigure], sheet: SheetConfig,
                title: str, build_date: str, verified: Verified | None = None,
                fragments: Any = None, coverage: Callable[[Path], frozenset[int]] = font_coverage) -> Sheet:
    """The sheet's parts, ready to typeset; BuildError lists every problem found writing them."""
    parts = sheet_source(collection, figures, sheet, title, build_date, verified, fragments, coverage)
    if parts.diagnostics:
        raise BuildError(parts.diagnostics)
    return parts


def typeset_part(part: SheetPart) -> TypesetPart:
    """Typeset one part alone; a Typst problem in it is named at its card's path:line."""
    document = part.document
    pdf, layout = _compile(document.source, document.copies, document.line_cards, document.image_users,
                           query=f"<{LAYOUT_LABEL}>")
    try:
        pages = int(layout["pages"])
        headings = tuple((int(page), float(x), float(y)) for page, x, y in layout["headings"])
    except (TypeError, KeyError, ValueError):
        raise BuildError([Diagnostic("<cheat sheet>", 0, f"cannot typeset the PDF: part {part.name} "
                                                         "reported no layout")]) from None
    return TypesetPart(pdf, pages, headings)


def typeset_document(document: TypstDocument) -> bytes:
    """The document's PDF; a joining document is typeset as its skeleton, then its parts' pages are
    laid under it (`lay_pages`)."""
    if document.underlays:
        return lay_pages(typeset_document(skeleton(document)), document)
    return compile_sheet(document.source, document.copies, document.line_cards, document.image_users)


def skeleton(document: TypstDocument) -> TypstDocument:
    """A joining document without its parts' pages: what Typst typesets of it. It depends only on the
    parts' page counts and heading positions, so an edit that moves neither can reuse it."""
    return TypstDocument(document.source, {}, document.line_cards, {}, [])


def lay_pages(skeleton_pdf: bytes, document: TypstDocument) -> bytes:
    """The typeset skeleton of a joining document with its parts' pages laid under its last pages.
    Parts already in files are read there by the child, not copied: in a build's typesetting thread,
    copying 35 files while the build wrote the deck took 0.1–0.15 s, each write waiting for the
    interpreter lock."""
    with tempfile.TemporaryDirectory(prefix="dldeck-join-") as temporary:
        root = Path(temporary)
        _copy_into(root, {name: file for name, file in document.copies.items()
                          if name not in document.on_disk})
        files = {name: document.on_disk[name][0] if name in document.on_disk else root / name
                 for name in document.copies}
        (root / "skeleton.pdf").write_bytes(skeleton_pdf)
        try:
            lay_pages_under(root / "skeleton.pdf", files, root / "out.pdf", document.underlays)
        except TypesetError as error:
            failed = Diagnostic("<cheat sheet>", 0, f"cannot typeset the PDF: {error.why}")
            raise BuildError([failed]) from None
        return (root / "out.pdf").read_bytes()


def _copy_into(root: Path, copies: Mapping[str, Path | bytes]) -> None:
    for name, file in sorted(copies.items()):
        if isinstance(file, bytes):
            (root / name).write_bytes(file)
        else:
            shutil.copyfile(file, root / name)


def document_inputs(document: TypstDocument) -> dict[str, object]:
    """Everything a typeset document depends on — the source, every file it uses, the style, the font
    and Typst itself — so one whose inputs are unchanged can be reused instead of typeset again."""
    copies = {name: document.on_disk[name][1] if name in document.on_disk else
              hashlib.sha256(file if isinstance(file, bytes) else Path(file).read_bytes()).hexdigest()
              for name, file in sorted(document.copies.items())}
    font = find_cjk_font().path
    return {"source": document.source, "copies": copies, "underlays": [list(u) for u in document.underlays],
            "typst": typst_version(),
            "style": hashlib.sha256((TEMPLATE_DIR / STYLE_FILE).read_bytes()).hexdigest(),
            "fonts": [list(typst_font_paths()), str(font), file_stamp(Path(font))]}


def compile_sheet(source: str, copies: Mapping[str, Path | bytes], line_cards: Sequence[tuple[int, Card]],
                  image_users: Mapping[str, Sequence[tuple[SourceSpan, Card]]] | None = None) -> bytes:
    return _compile(source, copies, line_cards, image_users)[0]


def _compile(source: str, copies: Mapping[str, Path | bytes], line_cards: Sequence[tuple[int, Card]],
             image_users: Mapping[str, Sequence[tuple[SourceSpan, Card]]] | None = None,
             query: str | None = None) -> tuple[bytes, Any]:
    """The PDF, and the value `query` selects in the typeset document (None without one)."""
    with tempfile.TemporaryDirectory(prefix="dldeck-typst-") as temporary:
        root = Path(temporary)
        shutil.copyfile(TEMPLATE_DIR / STYLE_FILE, root / STYLE_FILE)
        _copy_into(root, copies)
        main = root / MAIN_FILE
        main.write_text(source, encoding="utf-8")
        try:
            done = typeset(main, root, list(typst_font_paths()), root / "out.pdf", query=query)
        except TypesetError as error:
            if error.problem is None:
                failed = Diagnostic("<cheat sheet>", 0, f"cannot typeset the PDF: {error.why}")
                raise BuildError([failed]) from None
            diagnostic = _typst_diagnostic(error.problem, "error", line_cards)
            if diagnostic.line == 0 and image_users:
                raise BuildError(_failing_images(root, image_users) or [diagnostic]) from None
            raise BuildError([diagnostic]) from None
        if done.warnings:
            raise BuildError([_typst_diagnostic(w, "warning", line_cards) for w in done.warnings])
        return (root / "out.pdf").read_bytes(), done.queried


def _failing_images(root: Path,
                    image_users: Mapping[str, Sequence[tuple[SourceSpan, Card]]]) -> list[Diagnostic]:
    """Typst reports an image it cannot decode at the style file that placed it, not at the card: on
    such an error each content image is typeset alone, and the ones that fail are named at their cards."""
    import typst  # only on this error path, for small probes: the sheet itself is typeset in a child

    diagnostics: list[Diagnostic] = []
    probe = root / "probe.typ"
    for name, users in sorted(image_users.items()):
        probe.write_text(f"#image({typst_string(name)})\n", encoding="utf-8")
        try:
            typst.compile(str(probe), root=str(root), font_paths=[], ignore_system_fonts=True)
        except typst.TypstError as exc:
            message = " ".join(str(getattr(exc, "message", "") or exc).split())
            diagnostics.extend(Diagnostic(span.path, span.line, f"Typst cannot use this image in the PDF "
                                                                f"(card {card.slug}): {message}")
                               for span, card in users)
    return sorted(set(diagnostics))


def _typst_diagnostic(problem: BaseException | Problem, kind: str,
                      line_cards: Sequence[tuple[int, Card]]) -> Diagnostic:
    """Point a Typst problem in the generated file at the card it came from."""
    message = " ".join(str(getattr(problem, "message", "") or problem).split())
    hints = getattr(problem, "hints", None) or []
    if hints:
        message += " (hint: " + "; ".join(" ".join(str(h).split()) for h in hints) + ")"
    located = re.search(rf"{re.escape(MAIN_FILE)}:(\d+):\d+", str(getattr(problem, "diagnostic", "")))
    card = None
    if located:
        line = int(located.group(1))
        for start, candidate in line_cards:
            if start <= line:
                card = candidate
    if card is None:
        return Diagnostic("<cheat sheet>", 0, f"Typst {kind} in the generated PDF source: {message}")
    return Diagnostic(card.span.path, card.span.line,
                      f"Typst {kind} while typesetting card {card.slug} for the PDF: {message}")

