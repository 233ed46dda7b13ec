"""The PDF cheat sheet, read back with pypdf: content, fonts, glyphs, failures named by card, bytes."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from pypdf import PdfReader

from dldeck.config import SheetConfig
from dldeck.emit.markup import plain_text
from dldeck.emit.pdf import compile_sheet, write_pdf
from dldeck.errors import BuildError
from dldeck.model import DisplayMath, FigureKey, Image, Math, Paragraph, RenderedFigure, Text
from test_cheatsheet_samples import card, para, sample_collection, span, with_cards

TINY_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80" viewBox="0 0 120 80">'
    '<rect width="120" height="80" fill="#ffffff"/><path d="M0 70 L120 10" stroke="#1f77b4"/></svg>'
)


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def pdf_text(path: Path) -> str:
    return squeeze("".join(page.extract_text() for page in PdfReader(path).pages))


def figures_for(tmp_path: Path) -> dict[FigureKey, RenderedFigure]:
    svg = tmp_path / "fig-0123456789abcdef.svg"
    svg.write_text(TINY_SVG)
    key = FigureKey("sigmoid-derivative-max", 0)
    return {key: RenderedFigure(key, str(svg), str(svg.with_suffix(".png")), "σ 与它的导数", "σ plot")}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, PdfReader]:
    tmp_path = tmp_path_factory.mktemp("pdf")
    out = tmp_path / "cheatsheet.pdf"
    write_pdf(sample_collection(with_figure=True), figures_for(tmp_path), SheetConfig(), "深度学习面试速查",
              out, "2025-03-04")
    return out, PdfReader(out)


def test_every_question_and_heading_is_in_the_pdf(built: tuple[Path, PdfReader]) -> None:
    path, reader = built
    assert len(reader.pages) == 1
    text = pdf_text(path)
    for item in sample_collection().cards:
        question = plain_text(tuple(n for n in item.question if not isinstance(n, Math)))
        assert squeeze(question) in text, question
    headings = ("深度学习面试速查", "目录", "激活函数", "Sigmoid家族", "ReLU家族", "输出层", "σ与它的导数")
    for heading in headings:
        assert heading in text


def test_cloze_is_revealed_and_text_is_never_typst_code(built: tuple[Path, PdfReader]) -> None:
    path, _ = built
    text = pdf_text(path)
    assert "softmax把logits变成概率分布。" in text
    assert "{{c" not in text and "c1::" not in text
    # Typst syntax characters in content text print literally.
    assert "梯度为零&参数不再更新#1[a]*b*_c_$5." in text


def test_fonts_are_embedded_and_every_glyph_maps_back_to_text(built: tuple[Path, PdfReader]) -> None:
    path, reader = built
    fonts = {}
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendant = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
            descriptor = descendant["/FontDescriptor"].get_object()
            embedded = any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3"))
            fonts[str(font["/BaseFont"])] = embedded
    assert fonts and all(fonts.values()), fonts
    assert any("NotoSans" in name and "CJK" in name or "NotoSansSC" in name for name in fonts)
    # A glyph without a character (.notdef, a box) would be missing from the extracted text.
    body = "".join(plain_text(item.question) for item in sample_collection().cards if not
                   any(isinstance(n, Math) for n in item.question))
    extracted = pdf_text(path)
    assert [char for char in squeeze(body) if char not in extracted] == []


def test_same_input_gives_identical_bytes(tmp_path: Path, built: tuple[Path, PdfReader]) -> None:
    again = tmp_path / "again.pdf"
    write_pdf(sample_collection(with_figure=True), figures_for(tmp_path), SheetConfig(), "深度学习面试速查",
              again, "2025-03-04")
    assert again.read_bytes() == built[0].read_bytes()
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write leaves nothing behind


def test_sheet_layout_and_selection(tmp_path: Path) -> None:
    out = tmp_path / "output.pdf"
    sheet = SheetConfig("output", decks=("深度学习面试::输出层",), paper="letter", orientation="portrait",
                        columns=2, include_extra=False)
    write_pdf(sample_collection(), {}, sheet, "T", out, "2025-03-04")
    reader = PdfReader(out)
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (612, 792)
    text = pdf_text(out)
    assert "Softmax的定义" in text and "Sigmoid" not in text


def test_extras_are_left_out_when_configured(tmp_path: Path) -> None:
    out = tmp_path / "no-extra.pdf"
    write_pdf(sample_collection(), {}, SheetConfig(include_extra=False), "T", out, "2025-03-04")
    assert "Longerexplanation" not in pdf_text(out)


def test_formula_typst_cannot_typeset_fails_naming_the_card(tmp_path: Path) -> None:
    bad = card("arrow-card", (Text("箭头"),), (DisplayMath(r"a \xrightarrow{f} b", span(15)),), line=14)
    with pytest.raises(BuildError) as info:
        collection = with_cards(*sample_collection().cards, bad)
        write_pdf(collection, {}, SheetConfig(), "T", tmp_path / "x.pdf", "d")
    message = str(info.value)
    assert message.startswith("content/activations.md:14: ") and "arrow-card" in message
    assert "xrightarrow" in message
    assert not (tmp_path / "x.pdf").exists()


def test_formula_tex2typst_refuses_is_a_diagnostic_not_a_crash(tmp_path: Path) -> None:
    formula = DisplayMath(r"\begin{multline}a\end{multline}", span(21))
    bad = card("env-card", (Text("Q"),), (formula,), line=20)
    with pytest.raises(BuildError, match=r"content/activations.md:21: formula cannot go into the PDF"):
        write_pdf(with_cards(bad), {}, SheetConfig(), "T", tmp_path / "x.pdf", "d")


def test_character_missing_from_the_font_fails_naming_file_and_line(tmp_path: Path) -> None:
    bad = card("emoji-card", (Text("Q"),), (para(33, Text("很好 🙂")),), line=30)
    with pytest.raises(BuildError) as info:
        write_pdf(with_cards(bad), {}, SheetConfig(), "T", tmp_path / "x.pdf", "d")
    assert str(info.value).startswith("content/activations.md:33: character «🙂» (U+1F642) has no glyph")


def test_missing_figure_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="content/activations.md:11: figure of card sigmoid-derivative-max"):
        write_pdf(sample_collection(with_figure=True), {}, SheetConfig(), "T", tmp_path / "x.pdf", "d")


def test_typst_warnings_are_build_errors() -> None:
    # Typst only warns about an unknown font (and prints boxes); the sheet must fail instead.
    with pytest.raises(BuildError, match="unknown font family"):
        compile_sheet('#set text(font: "No Such Font")\n中文\n', {}, [])


def test_the_sheet_is_typeset_outside_the_build_process() -> None:
    # Typst keeps what it laid out for the life of its process: the build's own process does not grow.
    program = """import resource
from dldeck.emit.pdf import compile_sheet
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
cards = [f"== 第 {i} 题\\n中文 $x^{i} + sum_(k=1)^n k$\\n\\n" for i in range(600)]
source = "#set page(columns: 3)\\n" + "".join(cards)
pdf = compile_sheet(source, {}, [])
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(pdf[:5].decode(), grown, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    magic, grown, child = done.stdout.split()
    assert magic == "%PDF-"
    assert int(grown) * 4 < int(child), (grown, child)  # KiB


def test_a_typesetting_process_that_dies_is_a_diagnostic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", "/bin/false")
    with pytest.raises(BuildError, match=r"<cheat sheet>:0: cannot typeset the PDF: the typesetting process "
                                         r"failed: exit 1"):
        compile_sheet("中文\n", {}, [])


def test_figure_block_renders_as_an_image(built: tuple[Path, PdfReader]) -> None:
    _, reader = built
    content = reader.pages[0].get_contents().get_data()
    # Typst draws the SVG as vector paths: its one stroke colour (#1f77b4) is in the page stream.
    assert re.search(rb"0\.1215\d* 0\.4666\d* 0\.7058\d* SC", content)


def test_content_image_on_its_own_line_is_drawn(tmp_path: Path) -> None:
    picture = tmp_path / "diagram.svg"
    picture.write_text(TINY_SVG)
    paragraph = Paragraph((Image(str(picture), "示意图", span(5)),), span(5))
    with_image = card("image-card", (Text("图"),), (paragraph,))
    out = tmp_path / "image.pdf"
    # the picture is inside the collection's content folder, as dldeck.contain requires
    write_pdf(replace(with_cards(with_image), root=str(tmp_path)), {}, SheetConfig(), "T", out, "2025-03-04")
    content = PdfReader(out).pages[0].get_contents().get_data()
    assert re.search(rb"0\.1215\d* 0\.4666\d* 0\.7058\d* SC", content)
    assert "示意图" in pdf_text(out)
