"""Anki's own markup in content text — media and TTS tags, LaTeX images, the type-answer box,
MathJax delimiters — reaches the learner's reviewer only as visible text (checked with Anki's
real backend), and a formula outside the allow-list never reaches a note field."""

from __future__ import annotations

import html
import re
import textwrap
from pathlib import Path

import pytest
from anki.collection import Collection as AnkiCollection
from anki.collection import ImportAnkiPackageOptions, ImportAnkiPackageRequest

from dldeck.emit.anki import write_deck
from dldeck.errors import BuildError
from dldeck.manifest import Manifest
from dldeck.model import FigureKey, Math, RenderedFigure, Text
from dldeck.source import read_collection
from test_anki_deck import png_bytes
from test_cheatsheet_samples import card, para, span, with_cards

HOSTILE = r"""
    ---
    deck: 测试
    ---

    ## 听 [sound:q.mp3] 和 [anki:tts lang=en]hello[/anki:tts] {#media-tags}

    答：[latex]\input{/etc/passwd}[/latex] `[$]x[/$]` `[$$]y[/$$]` [[type:Answer]] {{Question}}
    `[sound:code.mp3]` 和 \\(\href{javascript:alert(1)}{click}\\) 与 \\[x\\]。

    ```figure
    plot: [x]
    caption: '[sound:caption.mp3] \(x\)'
    ```

    ## 填空 {#cloze-tags}

    Anki 播放 {{c1::[sound:cloze.mp3]::[sound:hint.mp3]}} 的声音，$x^2$ 是公式。
    """


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("hostile")
    content = root / "content"
    content.mkdir()
    (content / "tags.md").write_text(textwrap.dedent(HOSTILE).lstrip(), encoding="utf-8")
    png = root / "fig-0123456789abcdef.png"
    png.write_bytes(png_bytes((1, 2, 3)))
    collection = read_collection(content)
    figure = collection.cards[0].figures[0]
    rendered = RenderedFigure(FigureKey("media-tags", figure.index), str(png.with_suffix(".svg")), str(png),
                              r"[sound:caption.mp3] \(x\)", "[sound:alt.mp3]")
    write_deck(collection, {rendered.key: rendered}, Manifest.load(root / "m.json"), root / "deck.apkg")
    col = AnkiCollection(str(root / "collection.anki2"))
    options = ImportAnkiPackageOptions()
    request = ImportAnkiPackageRequest(package_path=str(root / "deck.apkg"), options=options)
    col.import_anki_package(request)
    yield col
    col.close()


def _visible(side: str) -> str:
    body = re.sub(r"<style>.*?</style>", "", side, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", body))


def test_media_and_tts_tags_play_nothing_and_show_as_text(reviewed) -> None:
    cards = [reviewed.get_card(card_id) for card_id in reviewed.find_cards("")]
    assert len(cards) == 2
    for card_ in cards:
        assert card_.question_av_tags() == [] and card_.answer_av_tags() == []
    basic = next(c for c in cards if c.note()["Id"] == "media-tags")
    question, answer = _visible(basic.question()), _visible(basic.answer())
    assert "[sound:q.mp3]" in question and "[anki:tts lang=en]hello[/anki:tts]" in question
    for text in (r"[latex]\input{/etc/passwd}[/latex]", "[$]x[/$]", "[$$]y[/$$]", "[[type:Answer]]",
                 "{{Question}}", "[sound:code.mp3]", "[sound:caption.mp3]"):
        assert text in answer, text
    cloze = next(c for c in cards if c.note()["Id"] == "cloze-tags")
    assert "[sound:cloze.mp3]" in _visible(cloze.answer())
    assert "[sound:hint.mp3]" in _visible(cloze.question())


def test_no_latex_image_or_type_box_is_made(reviewed) -> None:
    for card_id in reviewed.find_cards(""):
        card_ = reviewed.get_card(card_id)
        for side in (card_.question(), card_.answer()):
            assert "latex-" not in side and "[[type:" not in side


def test_mathjax_delimiters_in_text_stay_text(reviewed) -> None:
    basic = reviewed.get_card(reviewed.find_cards("Id:media-tags")[0])
    answer = basic.answer()
    # MathJax reads `\(` only inside one text run; the empty element between them ends the run
    assert "\\(\\href" not in answer and "\\<span></span>(\\href{javascript:alert(1)}{click}" in answer
    assert "\\<span></span>[x\\<span></span>]" in answer
    assert "\\<span></span>(x\\<span></span>)" in answer  # the caption's text
    cloze = reviewed.get_card(reviewed.find_cards("Id:cloze-tags")[0])
    assert "\\(x^2\\)" in cloze.question()  # real formulas keep their delimiters


def test_a_refused_formula_never_reaches_a_field(tmp_path: Path) -> None:
    formula = Math(r"\href{javascript:alert(1)}{x}", span(12))
    bad = card("hostile", (Text("Q"),), (para(12, formula),), line=10)
    with pytest.raises(BuildError) as raised:
        write_deck(with_cards(bad), {}, Manifest.load(tmp_path / "m.json"), tmp_path / "deck.apkg")
    [diagnostic] = raised.value.diagnostics
    assert (diagnostic.path, diagnostic.line) == ("content/activations.md", 10)
    assert "formula refused: \\href creates a link" in diagnostic.message
    assert not (tmp_path / "deck.apkg").exists()
