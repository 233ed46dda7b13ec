"""What learners see: colours, contrast, night mode, figure framing, columns and print size.

The stylesheets are parsed and their colours measured (WCAG contrast), the Anki templates are
rendered by Anki's own backend, and the PDF's text sizes and colours are read back with pypdf.
Screenshots were used to find the problems; these tests pin the fixes without a browser.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import pytest
from anki.collection import Collection as AnkiCollection
from anki.collection import ImportAnkiPackageOptions, ImportAnkiPackageRequest
from pypdf import PdfReader

import dldeck.emit.pdf as pdf
from dldeck.config import SheetConfig
from dldeck.emit.anki import BASIC_TEMPLATE, CLOZE_TEMPLATE, stylesheet, write_deck
from dldeck.emit.html import render_html
from dldeck.emit.pdf import PAPER_MM, base_font_size, write_pdf
from dldeck.manifest import Manifest
from test_cheatsheet_samples import sample_collection

NIGHT_CLASSES = (".nightMode", ".night_mode")
BODY_CONTRAST = 7.0  # WCAG AAA for the text learners read
MUTED_CONTRAST = 4.5  # WCAG AA: captions, sources, cloze marks, links


# ----------------------------------------------------------------------------- CSS and colour


@dataclass(frozen=True)
class Rule:
    media: str  # "" at top level, else the @media condition
    selectors: tuple[str, ...]
    declarations: dict[str, str]


def parse_css(text: str) -> list[Rule]:
    """Flat rules with their @media condition (one level of nesting is all these sheets use)."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    rules: list[Rule] = []
    position = 0
    media_stack: list[str] = []
    pattern = re.compile(r"\s*([^{}]*?)\s*([{}])", re.S)
    while True:
        match = pattern.match(text, position)
        if not match:
            break
        prelude, brace = match.group(1), match.group(2)
        position = match.end()
        if brace == "}":
            if media_stack:
                media_stack.pop()
            continue
        if prelude.startswith("@media"):
            media_stack.append(prelude[len("@media"):].strip())
            continue
        end = text.index("}", position)
        body = text[position:end]
        position = end + 1
        if prelude.startswith("@"):
            continue  # @page and friends
        declarations = {}
        for item in body.split(";"):
            if ":" in item:
                name, value = item.split(":", 1)
                declarations[name.strip()] = " ".join(value.split())
        selectors = tuple(" ".join(s.split()) for s in prelude.split(","))
        rules.append(Rule(" ".join(media_stack), selectors, declarations))
    return rules


def declared(rules: list[Rule], selector: str, prop: str, media: str = "") -> str | None:
    """The last value the sheet gives `prop` for exactly `selector` (cascade order, same media)."""
    value = None
    for rule in rules:
        if rule.media == media and selector in rule.selectors and prop in rule.declarations:
            value = rule.declarations[prop]
    return value


def parse_colour(value: str) -> tuple[float, float, float, float]:
    value = value.strip().lower()
    named = {"white": "#ffffff", "black": "#000000"}
    value = named.get(value, value)
    match = re.fullmatch(r"#([0-9a-f]{3}|[0-9a-f]{6})", value)
    if match:
        digits = match.group(1)
        if len(digits) == 3:
            digits = "".join(d * 2 for d in digits)
        return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16), 1.0)
    match = re.fullmatch(r"rgba?\(([^)]*)\)", value)
    if match:
        parts = [p.strip() for p in match.group(1).split(",")]
        alpha = float(parts[3]) if len(parts) == 4 else 1.0
        return (float(parts[0]), float(parts[1]), float(parts[2]), alpha)
    raise ValueError(f"not a colour: {value!r}")


def luminance(colour: tuple[float, float, float, float]) -> float:
    def channel(c: float) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b, _ = colour
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(foreground: str, background: str) -> float:
    first, second = luminance(parse_colour(foreground)), luminance(parse_colour(background))
    light, dark = max(first, second), min(first, second)
    return (light + 0.05) / (dark + 0.05)


def first_colour(value: str) -> str:
    """The colour inside a shorthand such as `1px solid #d0d7de`."""
    match = re.search(r"#[0-9a-fA-F]{3,6}\b|rgba?\([^)]*\)|\bwhite\b|\bblack\b", value)
    assert match, f"no colour in {value!r}"
    return match.group(0)


def background(rules: list[Rule], selector: str, media: str = "") -> str | None:
    for prop in ("background-color", "background"):
        value = declared(rules, selector, prop, media)
        if value is not None:
            return first_colour(value)
    return None


# ----------------------------------------------------------------------------- Anki note types


@pytest.fixture(scope="module")
def anki_rules() -> list[Rule]:
    return parse_css(stylesheet())


def night_selectors(selector: str) -> tuple[str, ...]:
    """How a light-mode selector is written for each night-mode class Anki clients set."""
    if selector == ".card":
        return (".nightMode.card", ".card.night_mode")
    return (f".nightMode {selector}", f".night_mode {selector}")


def coloured_text_selectors(rules: list[Rule]) -> list[str]:
    out = []
    for rule in rules:
        if rule.media or any(cls in s for s in rule.selectors for cls in NIGHT_CLASSES):
            continue
        if "color" in rule.declarations:
            out.extend(rule.selectors)
    return out


def test_card_sets_dark_background_and_light_text_for_each_night_class(anki_rules: list[Rule]) -> None:
    light_bg = background(anki_rules, ".card")
    assert light_bg is not None and luminance(parse_colour(light_bg)) > 0.9
    for selector in night_selectors(".card"):
        night_bg = background(anki_rules, selector)
        night_fg = declared(anki_rules, selector, "color")
        assert night_bg is not None and night_fg is not None, selector
        assert luminance(parse_colour(night_bg)) < 0.05, f"{selector} background is not dark"
        assert luminance(parse_colour(night_fg)) > 0.6, f"{selector} text is not light"
        assert contrast(night_fg, night_bg) >= BODY_CONTRAST
    assert contrast(declared(anki_rules, ".card", "color") or "", light_bg) >= BODY_CONTRAST


def test_every_coloured_text_has_a_night_colour_readable_in_both_modes(anki_rules: list[Rule]) -> None:
    light_bg = background(anki_rules, ".card") or ""
    night_bg = background(anki_rules, ".nightMode.card") or ""
    selectors = coloured_text_selectors(anki_rules)
    assert {".cloze", ".dl .sources", ".dl figcaption", ".dl .note-id"} <= set(selectors)
    for selector in selectors:
        if selector == ".card":
            continue
        light = declared(anki_rules, selector, "color") or ""
        own_light_bg = background(anki_rules, selector) or light_bg
        assert contrast(light, own_light_bg) >= MUTED_CONTRAST, f"{selector} in light mode"
        for night_selector in night_selectors(selector):
            night = declared(anki_rules, night_selector, "color")
            assert night is not None, f"{night_selector} keeps the light-mode colour on a dark card"
            own_night_bg = background(anki_rules, night_selector) or night_bg
            assert contrast(night, own_night_bg) >= MUTED_CONTRAST, f"{night_selector} in night mode"


def test_boxes_with_their_own_background_turn_dark_at_night(anki_rules: list[Rule]) -> None:
    for selector in (".dl .extra", ".dl pre", ".dl th"):
        light = background(anki_rules, selector)
        assert light is not None and luminance(parse_colour(light)) > 0.8, selector
        for night_selector in night_selectors(selector):
            night = background(anki_rules, night_selector)
            assert night is not None, f"{night_selector}: a light box on a dark card"
            assert luminance(parse_colour(night)) < 0.05


def test_cloze_is_marked_by_colour_and_weight_in_both_modes(anki_rules: list[Rule]) -> None:
    assert declared(anki_rules, ".cloze", "font-weight") in ("bold", "700", "600")
    light = declared(anki_rules, ".cloze", "color") or ""
    body = declared(anki_rules, ".card", "color") or ""
    assert contrast(light, body) > 2.0, "cloze colour too close to the body text"
    for selector in night_selectors(".cloze"):
        night = declared(anki_rules, selector, "color") or ""
        night_body = declared(anki_rules, ".nightMode.card", "color") or ""
        assert contrast(night, background(anki_rules, ".nightMode.card") or "") >= MUTED_CONTRAST
        assert parse_colour(night) != parse_colour(night_body)


def test_figures_keep_their_shape_and_turn_dark_at_night(anki_rules: list[Rule]) -> None:
    image = ".dl figure img"
    # Both sizes auto under max-width/max-height: the browser scales them together, in any window
    # (a forced width: 100% with Anki's own max-height: 95vh squashed figures in short windows).
    assert declared(anki_rules, image, "width") in (None, "auto")
    assert declared(anki_rules, image, "height") == "auto"
    assert "100%" in (declared(anki_rules, image, "max-width") or "")
    cap = declared(anki_rules, image, "max-height") or ""
    assert re.search(r"\d+px", cap), "a height cap keeps question, figure and answer on one screen"
    frame = parse_colour(background(anki_rules, image) or "transparent")
    assert frame[3] == 1.0 and luminance(frame) > 0.9, "transparent plots vanish on a dark card"
    for selector in night_selectors(image):
        night_filter = declared(anki_rules, selector, "filter") or ""
        inverted = re.search(r"invert\(([\d.]+)\)", night_filter)
        assert inverted and float(inverted.group(1)) >= 0.8, "a white panel glares in night mode"
        assert "hue-rotate(180deg)" in night_filter, "inverting alone turns blue curves orange"


def test_formula_and_its_punctuation_do_not_wrap(anki_rules: list[Rule], sheet_rules: list[Rule]) -> None:
    assert declared(anki_rules, ".dl .nobr", "white-space") == "nowrap"
    assert declared(sheet_rules, ".nobr", "white-space") == "nowrap"


def test_sources_are_labelled_and_ruled_off_from_the_answer(anki_rules: list[Rule]) -> None:
    label = declared(anki_rules, ".dl .sources::before", "content") or ""
    assert label.strip("\"'"), "a one-item source list reads as the answer's last bullet"
    assert re.search(r"\d", declared(anki_rules, ".dl .sources", "border-top") or "")
    assert float(re.match(r"[\d.]+", declared(anki_rules, ".dl .sources", "margin-top") or "0").group(0)) > 0


def test_font_stack_names_simplified_chinese_faces_before_the_generic(anki_rules: list[Rule]) -> None:
    stack = [f.strip().strip('"') for f in (declared(anki_rules, ".card", "font-family") or "").split(",")]
    assert stack[-1] == "sans-serif"
    for face in ("PingFang SC", "Noto Sans CJK SC", "Microsoft YaHei"):
        assert face in stack[:-1], face
    assert not any(face.endswith((" JP", " TC", " KR")) for face in stack)


@pytest.fixture(scope="module")
def rendered_cards(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str]]:
    """Question and answer HTML of every sample card, as Anki's backend renders them."""
    root = tmp_path_factory.mktemp("presentation-anki")
    apkg = root / "deck.apkg"
    write_deck(sample_collection(), {}, Manifest(root / "manifest.json"), apkg)
    col = AnkiCollection(str(root / "collection.anki2"))
    try:
        request = ImportAnkiPackageRequest(package_path=str(apkg), options=ImportAnkiPackageOptions())
        col.import_anki_package(request)
        sides = []
        for card_id in col.find_cards(""):
            card = col.get_card(card_id)
            sides.append((card.question(), card.answer()))
        return sides
    finally:
        col.close()


def test_anki_renders_every_card_in_chinese_with_the_night_mode_stylesheet(
    rendered_cards: list[tuple[str, str]],
) -> None:
    assert len(rendered_cards) >= 3
    kinds = set()
    for question, answer in rendered_cards:
        for side in (question, answer):
            style = re.search(r"<style>(.*?)</style>", side, flags=re.S)
            assert style and ".night_mode" in style.group(1) and ".nightMode" in style.group(1)
            body = side[style.end():]
            assert re.match(r'\s*<div class="dl" lang="zh-CN">', body), body[:80]
        if '<hr id="answer">' in answer:
            kinds.add("basic")
        else:
            assert 'class="cloze' in question and 'class="note-id"' in answer
            kinds.add("cloze")
    assert kinds == {"cloze", "basic"}


def test_templates_open_with_the_language_wrapper() -> None:
    for template in (BASIC_TEMPLATE, CLOZE_TEMPLATE):
        for side in ("qfmt", "afmt"):
            assert template[side].startswith('<div class="dl" lang="zh-CN">')
            assert template[side].count("<div") == template[side].count("</div>")


# ----------------------------------------------------------------------------- HTML cheat sheet


def page_style(sheet: SheetConfig) -> str:
    page = render_html(sample_collection(), {}, sheet, "T", "2025-03-04")
    styles = re.findall(r"<style>(.*?)</style>", page, flags=re.S)
    assert styles
    return "\n".join(styles)


@pytest.fixture(scope="module")
def sheet_rules() -> list[Rule]:
    return parse_css(page_style(SheetConfig()))


def variables(rules: list[Rule], media: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for rule in rules:
        if rule.media == media and ":root" in rule.selectors:
            out.update({k: v for k, v in rule.declarations.items() if k.startswith("--")})
    return out


@pytest.mark.parametrize("media", ["", "(prefers-color-scheme: dark)", "print"])
def test_sheet_palette_is_readable_in_light_dark_and_print(sheet_rules: list[Rule], media: str) -> None:
    palette = {**variables(sheet_rules, ""), **variables(sheet_rules, media)}
    assert media == "" or variables(sheet_rules, media), f"no palette for {media}"
    bg, card = palette["--bg"], palette["--card"]
    if media == "(prefers-color-scheme: dark)":
        assert luminance(parse_colour(bg)) < 0.05 and luminance(parse_colour(palette["--fg"])) > 0.6
    else:
        assert luminance(parse_colour(bg)) > 0.9
    for surface in (bg, card):
        assert contrast(palette["--fg"], surface) >= BODY_CONTRAST
        for name in ("--muted", "--accent", "--mark"):
            assert contrast(palette[name], surface) >= MUTED_CONTRAST, (media, name, surface)
    assert contrast(palette["--accent-fg"], palette["--accent"]) >= MUTED_CONTRAST  # deck headings


def test_section_cards_balance_across_wide_columns(sheet_rules: list[Rule]) -> None:
    # inline-block cards are single line boxes: widows/orphans kept short sections in one column.
    display = declared(sheet_rules, ".card", "display")
    assert display in (None, "block"), display
    assert declared(sheet_rules, ".card", "break-inside") == "avoid"
    width = re.fullmatch(r"([\d.]+)rem", declared(sheet_rules, ".section-cards", "column-width") or "")
    assert width and float(width.group(1)) >= 28, "narrow columns clip display formulas"
    assert "overflow-x" in str([r.declarations for r in sheet_rules if ".math-display" in r.selectors])


def test_figures_on_the_sheet_fit_and_stay_opaque(sheet_rules: list[Rule]) -> None:
    assert declared(sheet_rules, "figure img", "max-width") == "100%"
    assert declared(sheet_rules, "figure img", "object-fit") == "contain"
    frame = parse_colour(background(sheet_rules, "figure img") or "transparent")
    assert frame[3] == 1.0 and luminance(frame) > 0.9
    dark = next(r.media for r in sheet_rules if "prefers-color-scheme: dark" in r.media)
    assert "invert(" in (declared(sheet_rules, "figure img", "filter", dark) or "")
    assert declared(sheet_rules, "figure img", "filter", "print") == "none"
    math_fonts = declared(sheet_rules, "math", "font-family") or ""
    assert math_fonts.rstrip().endswith("math") and "Math" in math_fonts


def test_phone_layout_is_one_column_with_a_compact_toc(sheet_rules: list[Rule]) -> None:
    phone = next(r.media for r in sheet_rules if "max-width" in r.media)
    assert declared(sheet_rules, ".section-cards", "columns", phone) == "1"
    assert declared(sheet_rules, ".toc li li", "display", phone) == "inline"


@pytest.mark.parametrize("columns", [2, 4])
def test_print_flows_the_whole_sheet_through_the_configured_columns(columns: int) -> None:
    rules = parse_css(page_style(SheetConfig(columns=columns)))
    assert declared(rules, "main", "column-count", "print") == str(columns)
    assert declared(rules, ".section-cards", "columns", "print") == "auto"  # no columns inside columns
    root_size = re.fullmatch(r"([\d.]+)pt", declared(rules, ":root", "font-size", "print") or "")
    assert root_size and float(root_size.group(1)) >= 7.5
    assert declared(rules, ".math-display", "overflow", "print") == "visible"  # clipped on paper
    hidden = next(r for r in rules if r.media == "print" and "#filter" in r.selectors)
    assert ".sources" in hidden.selectors and "none" in hidden.declarations["display"]
    assert declared(rules, "h2.deck", "break-after", "print") == "avoid"


# ----------------------------------------------------------------------------- PDF cheat sheet


@pytest.mark.parametrize("paper", sorted(PAPER_MM))
@pytest.mark.parametrize("orientation", ["portrait", "landscape"])
@pytest.mark.parametrize("columns", [2, 3, 4])
def test_pdf_body_size_stays_legible_for_every_layout(paper: str, orientation: str, columns: int) -> None:
    sheet = SheetConfig(paper=paper, orientation=orientation, columns=columns)  # type: ignore[arg-type]
    assert 7.5 <= base_font_size(sheet) <= 9.0


@dataclass
class Run:
    text: str
    size: float
    fill: tuple[float, ...]


@pytest.fixture(scope="module", params=["one document", "typeset in parts"])
def pdf_runs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> list[Run]:
    """Every text run of the compiled sample sheet with its printed size (pt) and fill colour: typeset
    whole, and cut into parts of one card joined by a second Typst document (as a large sheet is)."""
    out = tmp_path_factory.mktemp("presentation-pdf") / "sheet.pdf"
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "typeset in parts":
            patch.setattr(pdf, "PART_CARDS", 1)
        write_pdf(sample_collection(), {}, SheetConfig(), "深度学习面试速查", out, "2025-03-04")
    runs: list[Run] = []
    fill: list[tuple[float, ...]] = [(0.0, 0.0, 0.0)]

    def before(operator: bytes, operands: list, cm: list, tm: list) -> None:
        # Typst sets fills as colour-space components (`/c0 cs … scn`): 1 (grey) or 3 (RGB) numbers.
        if operator in (b"rg", b"g", b"sc", b"scn") and len(operands) in (1, 3):
            values = tuple(round(float(x), 3) for x in operands)
            fill[0] = values * 3 if len(values) == 1 else values

    def visit(text: str, cm: list, tm: list, font: object, size: float) -> None:
        if text.strip():
            scale = math.hypot(tm[0], tm[1]) * math.hypot(cm[0], cm[1])
            runs.append(Run(text.strip(), round(size * scale, 2), fill[0]))

    for page in PdfReader(out).pages:
        page.extract_text(visitor_operand_before=before, visitor_text=visit)
    return runs


def test_pdf_body_text_is_printed_at_the_legible_size(pdf_runs: list[Run]) -> None:
    weights: Counter[float] = Counter()
    for run in pdf_runs:
        weights[run.size] += len(run.text)
    body_size, _ = weights.most_common(1)[0]
    assert body_size == base_font_size(SheetConfig())
    assert 7.5 <= body_size <= 9.0


def test_pdf_questions_are_in_the_accent_colour_and_answers_are_dark(pdf_runs: list[Run]) -> None:
    accent = (round(0x1F / 255, 3), round(0x4E / 255, 3), round(0x79 / 255, 3))

    def fills_of(fragment: str) -> set[tuple[float, ...]]:
        return {run.fill for run in pdf_runs if fragment in run.text}

    question_fills = fills_of("在哪里取到")
    answer_fills = fills_of("处取最大值")
    assert question_fills and answer_fills
    assert all(max(abs(a - b) for a, b in zip(fill, accent, strict=True)) < 0.01 for fill in question_fills)
    assert all(max(fill) < 0.3 for fill in answer_fills), answer_fills
