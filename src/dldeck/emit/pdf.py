"""The printable cheat sheet: the model → Typst source → PDF, typeset by Typst in a short-lived child
process (dldeck.emit.typeset), so the memory Typst holds is returned when the sheet is done.

Typst compiles in a private temporary root holding only the generated source, the style file and
copies of the figures, so a document cannot read anything else. Every Typst warning is an error:
Typst only *warns* about a missing font, and a printed sheet full of boxes is a failed build.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from dldeck.atomicfile import write_atomically
from dldeck.config import SheetConfig, deck_titles, group_sections
from dldeck.contain import load_image
from dldeck.emit.markup import LEGEND, computed_value
from dldeck.emit.typeset import Problem, TypesetError, typeset
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
GUTTER_MM = 5.0
# Below 7.5 pt CJK strokes fill in on an office printer (A4 landscape, 3 columns gave 7.47 pt).
MIN_BODY_PT = 7.5
MAX_BODY_PT = 9.0


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
    """The main Typst file, the files it needs, which card each line belongs to, where each content
    image is used, and the problems found while writing it."""

    source: str
    copies: dict[str, Path | bytes]
    line_cards: list[tuple[int, Card]]
    image_users: dict[str, list[tuple[SourceSpan, Card]]]
    diagnostics: list[Diagnostic]


def typst_source(collection: Collection, figures: Mapping[FigureKey, RenderedFigure], sheet: SheetConfig,
                 title: str, build_date: str, verified: Verified | None = None) -> TypstDocument:
    """The sheet as Typst source, with everything needed to compile it and to point errors at cards."""
    cards = sheet.select(collection)
    font = find_cjk_font()
    covered = font_coverage(font.path)
    assets = _Assets(figures, collection.root, verified=verified or Verified())
    writer = TypstWriter(assets.figure, assets.image, covered=lambda char: ord(char) in covered,
                         computed=assets.computed, verified=assets.verified.formula)
    shown_title = title if sheet.name == "cheatsheet" else f"{title} · {sheet.name}"
    family = typst_string(font.family)
    size = base_font_size(sheet)
    lines: list[str] = [
        f'#import "{STYLE_FILE}": *',
        f"#set document(title: {typst_string(shown_title)}, date: {_typst_date(build_date)})",
        f'#set page(paper: "{"us-letter" if sheet.paper == "letter" else "a4"}", '
        f"flipped: {'true' if sheet.orientation == 'landscape' else 'false'}, columns: {sheet.columns}, "
        f"margin: (x: {MARGIN_X_MM}mm, top: 12mm, bottom: 11mm))",
        f"#set columns(gutter: {GUTTER_MM}mm)",
        f'#set text(font: ({family},), size: {size}pt, lang: "zh", region: "cn")',
        f'#show math.equation: set text(font: ("New Computer Modern Math", {family}))',
        f'#show raw: set text(font: ("DejaVu Sans Mono", {family}))',
        f"#show: sheet-style.with({typst_string(shown_title)}, {typst_string(build_date)})",
        f"#place(top, scope: \"parent\", float: true, "
        f"sheet-title({typst_string(shown_title)}, {typst_string(build_date)}, {len(cards)}, "
        f"legend: {typst_string(LEGEND)}))",
        '#outline(title: "目录", depth: 2)',
    ]
    card_at: dict[int, Card] = {}  # index in `lines` → card, for pointing Typst errors at cards
    sections = group_sections(cards)
    titles = deck_titles(list(dict.fromkeys(s.deck for s in sections)))
    previous_deck = None
    for section in sections:
        if section.deck != previous_deck:
            lines.append(f"#heading(level: 1, {typst_string(titles[section.deck])})")
            previous_deck = section.deck
        if section.section:
            lines.append(f"#heading(level: 2, {typst_string(section.section)})")
        for card in section.cards:
            assets.card = card
            card_at[len(lines)] = card
            lines.append(_card_markup(card, writer, sheet.include_extra))
    if not cards:
        lines.append('#text(fill: muted)["（这张速查表没有卡片）"]')
    line_cards: list[tuple[int, Card]] = []
    line_number = 1
    for index, text in enumerate(lines):
        if index in card_at:
            line_cards.append((line_number, card_at[index]))
        line_number += text.count("\n") + 1
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
    return TypstDocument("\n".join(lines) + "\n", dict(assets.copies), line_cards, dict(assets.image_users),
                         sorted(set(diagnostics)))


def _card_markup(card: Card, writer: TypstWriter, include_extra: bool) -> str:
    question = writer.at(card.span).inlines(card.question)
    answer = writer.blocks(card.answer)
    extra = writer.blocks(card.extra) if include_extra else ""
    extra_arg = f"(extra: [{extra}])" if extra else ""
    return f"#card{extra_arg}[{question}][{answer}]"


def write_pdf(collection: Collection, figures: Mapping[FigureKey, RenderedFigure], sheet: SheetConfig,
              title: str, out_path: Path, build_date: str, verified: Verified | None = None) -> None:
    """Compile the sheet's cards to a PDF at out_path (atomically); BuildError names what went wrong."""
    write_atomically(out_path, typeset_document(sheet_document(collection, figures, sheet, title, build_date,
                                                               verified)))


def sheet_document(collection: Collection, figures: Mapping[FigureKey, RenderedFigure], sheet: SheetConfig,
                   title: str, build_date: str, verified: Verified | None = None) -> TypstDocument:
    """The sheet's Typst document, ready to typeset; BuildError lists every problem found writing it."""
    document = typst_source(collection, figures, sheet, title, build_date, verified)
    if document.diagnostics:
        raise BuildError(document.diagnostics)
    return document


def typeset_document(document: TypstDocument) -> bytes:
    return compile_sheet(document.source, document.copies, document.line_cards, document.image_users)


def document_inputs(document: TypstDocument) -> dict[str, object]:
    """Everything the typeset PDF depends on — the source, every file it uses, the style, the font and
    Typst itself — so a PDF whose inputs are unchanged can be reused instead of typeset again."""
    copies = {name: hashlib.sha256(file if isinstance(file, bytes) else Path(file).read_bytes()).hexdigest()
              for name, file in sorted(document.copies.items())}
    font = find_cjk_font().path
    return {"source": document.source, "copies": copies, "typst": typst_version(),
            "style": hashlib.sha256((TEMPLATE_DIR / STYLE_FILE).read_bytes()).hexdigest(),
            "fonts": [list(typst_font_paths()), str(font), _file_stamp(Path(font))]}


def _file_stamp(path: Path) -> list[int]:
    """Size and modification time: a replaced font file shows, without hashing megabytes each build."""
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def compile_sheet(source: str, copies: Mapping[str, Path | bytes], line_cards: Sequence[tuple[int, Card]],
                  image_users: Mapping[str, Sequence[tuple[SourceSpan, Card]]] | None = None) -> bytes:
    with tempfile.TemporaryDirectory(prefix="dldeck-typst-") as temporary:
        root = Path(temporary)
        shutil.copyfile(TEMPLATE_DIR / STYLE_FILE, root / STYLE_FILE)
        for name, file in sorted(copies.items()):
            if isinstance(file, bytes):
                (root / name).write_bytes(file)
            else:
                shutil.copyfile(file, root / name)
        main = root / MAIN_FILE
        main.write_text(source, encoding="utf-8")
        try:
            warnings = typeset(main, root, list(typst_font_paths()), root / "out.pdf")
        except TypesetError as error:
            if error.problem is None:
                failed = Diagnostic("<cheat sheet>", 0, f"cannot typeset the PDF: {error.why}")
                raise BuildError([failed]) from None
            diagnostic = _typst_diagnostic(error.problem, "error", line_cards)
            if diagnostic.line == 0 and image_users:
                raise BuildError(_failing_images(root, image_users) or [diagnostic]) from None
            raise BuildError([diagnostic]) from None
        if warnings:
            raise BuildError([_typst_diagnostic(w, "warning", line_cards) for w in warnings])
        return (root / "out.pdf").read_bytes()


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

