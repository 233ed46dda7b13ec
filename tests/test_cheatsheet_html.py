"""The HTML cheat sheet, parsed back: cards and anchors, no external URLs, MathML, inline figures, bytes."""

from __future__ import annotations

import base64
from html.parser import HTMLParser
from pathlib import Path

import pytest

from dldeck.config import SheetConfig
from dldeck.emit.html import render_html, write_html
from dldeck.errors import BuildError
from dldeck.mathengines.formulas import collection_formulas
from dldeck.model import FigureKey, Math, RenderedFigure, Text
from test_cheatsheet_samples import card, para, sample_collection, span, with_cards

TINY_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'
)
CONTENT_LINK = "https://example.org/sigmoid"


class Page(HTMLParser):
    """Elements with their attributes and the classes of the elements they sit in; all text."""

    VOID = {"meta", "input", "img", "br", "hr", "link", "source"}

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str], tuple[str, ...]]] = []
        self.stack: list[tuple[str, str]] = []
        self.chunks: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        classes = tuple(c for _, cls in self.stack for c in cls.split())
        self.elements.append((tag, attributes, classes))
        if tag not in self.VOID:
            self.stack.append((tag, attributes.get("class", "")))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)

    def all(self, tag: str) -> list[tuple[dict[str, str], tuple[str, ...]]]:
        return [(attrs, classes) for t, attrs, classes in self.elements if t == tag]

    @property
    def text(self) -> str:
        return "".join(self.chunks)


def figures_for(tmp_path: Path) -> dict[FigureKey, RenderedFigure]:
    svg = tmp_path / "fig-0123456789abcdef.svg"
    svg.write_text(TINY_SVG)
    key = FigureKey("sigmoid-derivative-max", 0)
    return {key: RenderedFigure(key, str(svg), str(svg.with_suffix(".png")), "σ 与它的导数", "σ plot")}


@pytest.fixture(scope="module")
def page_text(tmp_path_factory: pytest.TempPathFactory) -> str:
    tmp_path = tmp_path_factory.mktemp("html")
    out = tmp_path / "cheatsheet.html"
    write_html(sample_collection(with_figure=True), figures_for(tmp_path), SheetConfig(), "深度学习面试速查",
               out, "2025-03-04")
    return out.read_text(encoding="utf-8")


def test_every_card_has_its_anchor_and_question(page_text: str) -> None:
    page = Page(page_text)
    articles = {attrs["id"] for attrs, _ in page.all("article")}
    assert articles == {c.slug for c in sample_collection().cards}
    assert "Sigmoid 的导数最大是多少？在哪里取到？" in page.text
    assert "什么是 dead ReLU？" in page.text
    # Every TOC link and card link points at an element that exists.
    ids = {attrs["id"] for _, attrs, _ in page.elements if "id" in attrs}
    internal = [attrs["href"][1:] for attrs, _ in page.all("a") if attrs.get("href", "").startswith("#")]
    assert internal and set(internal) <= ids


def test_no_external_url_except_links_the_content_makes(page_text: str) -> None:
    page = Page(page_text)
    for tag, attrs, classes in page.elements:
        for name, value in attrs.items():
            if "http" in value or "//" in value.split(",")[0]:
                assert (tag, name, value) == ("a", "href", CONTENT_LINK), (tag, name, value)
                assert "extra" in classes  # the link sits in the card's content, not in the page chrome
    assert page_text.count("http") == 1
    assert not page.all("link") and all("src" not in attrs for attrs, _ in page.all("script"))
    assert "@import" not in page_text and "url(" not in page_text


def test_math_is_mathml_that_needs_no_script(page_text: str) -> None:
    page = Page(page_text)
    maths = page.all("math")
    assert len(maths) == len(collection_formulas(sample_collection()))
    assert sum(1 for attrs, _ in maths if attrs.get("display") == "block") == 2
    assert "katex-html" not in page_text  # no HTML-and-CSS math that would need KaTeX's stylesheet
    assert "<mfrac>" in page_text
    (script,) = page.all("script")  # the one optional filter script; math does not depend on it
    filter_box = [attrs for attrs, _ in page.all("input") if attrs.get("id") == "filter"]
    assert filter_box and "hidden" in filter_box[0]  # without script the page shows no dead controls


def test_cloze_is_revealed_and_content_cannot_inject_markup(tmp_path: Path) -> None:
    evil = card("evil", (Text("<script>alert(1)</script> 问题"),),
                (para(3, Text("<img src=x onerror=alert(1)> {{c1::x}}")),), line=2)
    text = render_html(with_cards(*sample_collection().cards, evil), {}, SheetConfig(), "T", "d")
    page = Page(text)
    assert "<strong>概率分布</strong>" in text and "c1::概率分布" not in text
    assert len(page.all("script")) == 1 and not page.all("img")
    assert "<script>alert(1)</script> 问题" in page.text


def test_figures_are_inline_data_uris(page_text: str) -> None:
    page = Page(page_text)
    (image,) = [attrs for attrs, _ in page.all("img")]
    prefix = "data:image/svg+xml;base64,"
    assert image["src"].startswith(prefix)
    assert base64.b64decode(image["src"][len(prefix):]).decode() == TINY_SVG
    assert image["alt"] == "σ plot" and "σ 与它的导数" in page.text


def test_page_is_phone_readable_with_dark_and_print_styles(page_text: str) -> None:
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page_text
    assert "prefers-color-scheme: dark" in page_text
    assert "@media print" in page_text and "size: A4 landscape" in page_text


def test_same_input_gives_identical_bytes(tmp_path: Path, page_text: str) -> None:
    out = tmp_path / "again.html"
    write_html(sample_collection(with_figure=True), figures_for(tmp_path), SheetConfig(), "深度学习面试速查",
               out, "2025-03-04")
    assert out.read_text(encoding="utf-8") == page_text


def test_selection_and_extras_follow_the_sheet() -> None:
    sheet = SheetConfig("output", decks=("深度学习面试::输出层",), include_extra=False, paper="letter",
                        orientation="portrait")
    page = Page(render_html(sample_collection(), {}, sheet, "T", "d"))
    assert {attrs["id"] for attrs, _ in page.all("article")} == {"softmax-cloze"}
    assert "Longer explanation" not in page.text
    assert "size: letter portrait" in render_html(sample_collection(), {}, sheet, "T", "d")


def test_formula_katex_refuses_fails_naming_file_and_line() -> None:
    bad = card("bad-math", (Text("Q"),), (para(8, Math(r"\foo{x}", span(8))),), line=6)
    with pytest.raises(BuildError) as info:
        render_html(with_cards(bad), {}, SheetConfig(), "T", "d")
    expected = "content/activations.md:8: formula does not compile in KaTeX: «\\foo{x}»"
    assert str(info.value).startswith(expected)


def test_an_edit_to_the_card_template_renders_every_card_again(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Each card's whole article is kept (dldeck.pipeline.fragments), so the template it is rendered
    with is part of the code its key depends on."""
    import shutil

    from dldeck import buildcache
    from dldeck.emit.html import CARD_TEMPLATE_NAME
    from dldeck.pipeline.passes import HTML_CODE

    package = tmp_path / "dldeck"
    shutil.copytree(buildcache.PACKAGE_DIR / "emit", package / "emit")
    monkeypatch.setattr(buildcache, "PACKAGE_DIR", package)
    before = buildcache.tool_hash(*HTML_CODE)
    template = package / "emit" / "templates" / CARD_TEMPLATE_NAME
    template.write_text(template.read_text(encoding="utf-8").replace("<article", "<article data-x"),
                        encoding="utf-8")
    assert buildcache.tool_hash(*HTML_CODE) != before


def test_figures_are_filled_in_as_the_page_is_written_not_held_filled(tmp_path: Path) -> None:
    """The pieces of the page are made before the first is written, but a card's figure becomes a
    data URI only when its article is written: a large sheet does not hold every figure twice."""
    from dldeck.emit.html import html_pieces

    figures = figures_for(tmp_path)
    (rendered,) = figures.values()
    pieces = html_pieces(sample_collection(with_figure=True), figures, SheetConfig(), "T", "d")
    Path(rendered.svg_path).write_text(TINY_SVG.replace("</svg>", "<circle r='1'/></svg>"))
    page = "".join(pieces)
    (image,) = [attrs for attrs, _ in Page(page).all("img")]
    assert base64.b64decode(image["src"].split(",", 1)[1]).decode().endswith("<circle r='1'/></svg>")
