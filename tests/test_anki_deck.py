"""The built .apkg, imported by Anki's real backend: cards render, media arrive, decks and tags hold."""

from __future__ import annotations

import re
import struct
import textwrap
import zlib
from pathlib import Path

import pytest
from anki.collection import Collection as AnkiCollection
from anki.collection import ImportAnkiPackageOptions, ImportAnkiPackageRequest

from dldeck.emit.anki import (
    BASIC_FIELDS,
    BASIC_NOTE_TYPE_ID,
    CLOZE_FIELDS,
    CLOZE_NOTE_TYPE_ID,
    note_guid,
    write_deck,
)
from dldeck.errors import BuildError
from dldeck.manifest import Manifest
from dldeck.model import FigureKey, RenderedFigure
from dldeck.source import read_collection

EPOCH = 1_700_000_000

ACTIVATIONS = """\
    ---
    deck: 深度学习面试::激活函数
    tags: [activation, "two words"]
    sources: ["Goodfellow et al., *Deep Learning* (2016), §6.3"]
    ---

    # Sigmoid

    ## Sigmoid 的导数最大是多少？ {#sigmoid-derivative-max tags="derivative"}

    在 $x=0$ 处取最大值 $\\tfrac14$，且当 $a<b$ 时 $a \\le b$：

    $$\\sigma'(x) = \\sigma(x)\\bigl(1-\\sigma(x)\\bigr)$$

    ```check
    sigma(x) := 1/(1 + exp(-x))
    diff(sigma(x), x) == sigma(x)*(1 - sigma(x))
    ```

    ```figure
    plot: [sigma(x), diff(sigma(x), x)]
    x: [-6, 6]
    caption: σ 与导数 $\\sigma'(x)$
    ```

    ::: extra
    更长的解释 <不是标签>。
    :::

    ## ReLU 的导数是什么？ {#relu-derivative}

    ReLU 在 $x>0$ 时导数为 {{c1::$1$}}，在 $x<0$ 时为 {{c2::0::数字}}。

    ## tanh 的值域？ {#tanh-range}

    $(-1, 1)$，且 $\tanh(x) = 2\\sigma(2x) - 1$。
    """

CONV = """\
    ---
    deck: 深度学习面试::卷积
    tags: [cnn]
    ---

    ## 3×3 卷积的参数量？ {#conv-params}

    $C_{in} \\cdot C_{out} \\cdot 9 + C_{out}$，示意图：

    ![卷积示意](conv.png)

    | 层 | 参数 |
    | --- | --- |
    | Conv2d(3, 64, 3) | $1792$ |
    """


def png_bytes(rgb: tuple[int, int, int]) -> bytes:
    """A 2×2 opaque PNG, so tests need no image library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * 2 for _ in range(2))
    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def make_tree(root: Path) -> Path:
    content = root / "content"
    (content / "01-basics").mkdir(parents=True)
    (content / "02-cnn").mkdir(parents=True)
    (content / "01-basics" / "act.md").write_text(textwrap.dedent(ACTIVATIONS), encoding="utf-8")
    (content / "02-cnn" / "conv.md").write_text(textwrap.dedent(CONV), encoding="utf-8")
    (content / "02-cnn" / "conv.png").write_bytes(png_bytes((200, 30, 30)))
    figures_dir = root / "build" / "figures"
    figures_dir.mkdir(parents=True)
    (figures_dir / "fig-0123456789abcdef.png").write_bytes(png_bytes((30, 30, 200)))
    return content


def figures_for(root: Path) -> dict[FigureKey, RenderedFigure]:
    key = FigureKey("sigmoid-derivative-max", 0)
    png = root / "build" / "figures" / "fig-0123456789abcdef.png"
    return {key: RenderedFigure(key, str(png.with_suffix(".svg")), str(png), "σ 与导数 $\\sigma'(x)$", "σ")}


def build(content: Path, root: Path, out: Path) -> Manifest:
    manifest = Manifest.load(content / ".dldeck-manifest.json")
    write_deck(read_collection(content), figures_for(root), manifest, out)
    manifest.save()
    return manifest


def import_package(col: AnkiCollection, path: Path):
    request = ImportAnkiPackageRequest(package_path=str(path), options=ImportAnkiPackageOptions())
    return col.import_anki_package(request).log


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("deck")
    content = make_tree(root)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SOURCE_DATE_EPOCH", str(EPOCH))
        manifest = build(content, root, root / "build" / "dldeck.apkg")
    (root / "anki").mkdir()
    col = AnkiCollection(str(root / "anki" / "collection.anki2"))
    log = import_package(col, root / "build" / "dldeck.apkg")
    yield root, content, manifest, col, log
    col.close()


def test_every_note_is_new_and_none_conflicts(imported) -> None:
    _, _, _, col, log = imported
    assert len(log.new) == 4
    assert not log.duplicate and not log.conflicting and not log.updated and not log.missing_notetype
    assert col.note_count() == 4
    assert col.card_count() == 5  # the cloze note has two deletions


def test_every_card_renders_with_balanced_math(imported) -> None:
    _, _, _, col, _ = imported
    for card_id in col.find_cards(""):
        card = col.get_card(card_id)
        for side in (card.question(), card.answer()):
            body = re.sub(r"<style>.*?</style>", "", side, flags=re.S)
            assert re.sub(r"<[^>]+>", "", body).strip(), f"empty side of card {card_id}"
            assert body.count("\\(") == body.count("\\)") > 0 or "\\(" not in body
            assert body.count("\\[") == body.count("\\]")
            assert "{{" not in body and "}}" not in body, "unrendered template or cloze syntax"
            assert "<不是标签>" not in body


def test_fields_note_types_and_identity(imported) -> None:
    _, _, manifest, col, _ = imported
    by_slug = {}
    for note_id in col.find_notes(""):
        note = col.get_note(note_id)
        by_slug[note["Id"]] = note
    assert set(by_slug) == {"sigmoid-derivative-max", "relu-derivative", "tanh-range", "conv-params"}
    sigmoid = by_slug["sigmoid-derivative-max"]
    assert sigmoid.mid == BASIC_NOTE_TYPE_ID
    assert list(sigmoid.keys()) == list(BASIC_FIELDS)
    assert sigmoid.guid == note_guid("sigmoid-derivative-max")
    assert "\\[\\sigma'(x)" in sigmoid["Answer"]
    assert "&lt;不是标签&gt;" in sigmoid["Extra"]
    assert "Goodfellow" in sigmoid["Sources"] and "<em>Deep Learning</em>" in sigmoid["Sources"]
    assert sigmoid.mod == manifest.notes["sigmoid-derivative-max"].mtime == EPOCH

    css = col.models.get(BASIC_NOTE_TYPE_ID)["css"]
    assert ".nightMode" in css and ".night_mode" in css and "max-width: 100%" in css

    relu = by_slug["relu-derivative"]
    assert relu.mid == CLOZE_NOTE_TYPE_ID
    assert list(relu.keys()) == list(CLOZE_FIELDS)
    assert "ReLU 的导数是什么？" in relu["Text"]
    assert "{{c2::0::数字}}" in relu["Text"]


def test_decks_and_tags(imported) -> None:
    _, _, _, col, _ = imported
    names = {deck.name for deck in col.decks.all_names_and_ids()}
    assert {"深度学习面试", "深度学习面试::激活函数", "深度学习面试::卷积"} <= names
    for note_id in col.find_notes(""):
        note = col.get_note(note_id)
        decks = {col.decks.name(card.did) for card in note.cards()}
        if note["Id"] == "conv-params":
            assert decks == {"深度学习面试::卷积"}
            assert note.tags == ["cnn"]
        else:
            assert decks == {"深度学习面试::激活函数"}
            assert "two_words" in note.tags and "activation" in note.tags
    sigmoid = col.get_note(col.find_notes("Id:sigmoid-derivative-max")[0])
    assert "derivative" in sigmoid.tags


def test_media_arrive_under_flat_hashed_names(imported) -> None:
    root, _, _, col, _ = imported
    media = Path(col.media.dir())
    figure = media / "fig-0123456789abcdef.png"
    assert figure.read_bytes() == (root / "build" / "figures" / "fig-0123456789abcdef.png").read_bytes()
    images = sorted(media.glob("img-*.png"))
    assert len(images) == 1
    assert images[0].read_bytes() == png_bytes((200, 30, 30))
    conv = col.get_note(col.find_notes("Id:conv-params")[0])
    assert f'src="{images[0].name}"' in conv["Answer"]
    sigmoid = col.get_note(col.find_notes("Id:sigmoid-derivative-max")[0])
    assert 'src="fig-0123456789abcdef.png"' in sigmoid["Figure"]
    assert "<figcaption>σ 与导数 \\(\\sigma'(x)\\)</figcaption>" in sigmoid["Figure"]
    assert not col.media.check().missing


def test_two_builds_are_byte_identical(imported, tmp_path: Path) -> None:
    root, content, _, _, _ = imported
    first = (root / "build" / "dldeck.apkg").read_bytes()
    # Rebuilding later, without SOURCE_DATE_EPOCH, from the saved manifest: same bytes.
    again = tmp_path / "again.apkg"
    build(content, root, again)
    assert again.read_bytes() == first
    # A fresh manifest with the same SOURCE_DATE_EPOCH also reproduces it.
    (tmp_path / "fresh").mkdir()
    fresh_manifest = Manifest.load(tmp_path / "fresh" / "m.json")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SOURCE_DATE_EPOCH", str(EPOCH))
        write_deck(read_collection(content), figures_for(root), fresh_manifest, tmp_path / "fresh.apkg")
    assert (tmp_path / "fresh.apkg").read_bytes() == first


def test_missing_figure_names_file_and_line(imported, tmp_path: Path) -> None:
    _, content, _, _, _ = imported
    manifest = Manifest.load(tmp_path / "m.json")
    with pytest.raises(BuildError) as raised:
        write_deck(read_collection(content), {}, manifest, tmp_path / "out.apkg")
    [diagnostic] = raised.value.diagnostics
    assert diagnostic.path.endswith("act.md")
    lines = (content / "01-basics" / "act.md").read_text(encoding="utf-8").splitlines()
    assert lines[diagnostic.line - 1] == "```figure"
    assert not (tmp_path / "out.apkg").exists()


def test_batched_notes_are_the_rows_genanki_writes(tmp_path: Path) -> None:
    """The deck inserts its notes and cards in two batches: the rows, ids and order must be the ones
    genanki's own per-note writer gives (a Q&A note, a cloze note with two gaps, a note with no
    answer: genanki decides which cards each note gets)."""
    import itertools
    import sqlite3

    import genanki

    from dldeck.emit import anki

    manifest = Manifest.load(tmp_path / "manifest.json")
    basic = anki._note_type(manifest, EPOCH, BASIC_NOTE_TYPE_ID, anki.BASIC_NOTE_TYPE_NAME, BASIC_FIELDS,
                            anki.BASIC_TEMPLATE)
    cloze = anki._note_type(manifest, EPOCH, CLOZE_NOTE_TYPE_ID, anki.CLOZE_NOTE_TYPE_NAME, CLOZE_FIELDS,
                            anki.CLOZE_TEMPLATE)

    def notes() -> list[genanki.Note]:
        return [anki._TimedNote(EPOCH, model=basic, fields=["Q", "A", "", "", "", "q-a"], tags=["t1", "t2"],
                                guid="guid-1", due=1),
                anki._TimedNote(EPOCH, model=cloze, fields=["{{c1::x}} and {{c2::y}}", "", "", "", "gaps"],
                                tags=[], guid="guid-2", due=2),
                anki._TimedNote(EPOCH, model=basic, fields=["Q2", "", "", "", "", "no-answer"], tags=["t1"],
                                guid="guid-3", due=3)]

    tables = []
    for deck in (genanki.Deck(7, "deck"), anki._Deck(7, "deck")):
        for note in notes():
            deck.add_note(note)
        connection = sqlite3.connect(":memory:")
        cursor = connection.cursor()
        genanki.Package([deck]).write_to_db(cursor, EPOCH, itertools.count(EPOCH * 1000))
        queries = ("SELECT * FROM notes ORDER BY id", "SELECT * FROM cards ORDER BY id",
                   "SELECT decks, models FROM col")
        tables.append([cursor.execute(query).fetchall() for query in queries])
        connection.close()
    assert tables[0] == tables[1]
    assert len(tables[1][0]) == 3 and len(tables[1][1]) == 4  # two gaps: two cloze cards


def test_writing_the_collection_raises_no_warning(tmp_path: Path) -> None:
    """genanki warned about text it took for HTML tags from its per-note writer, and the deck silenced
    that with `warnings.catch_warnings`, which is not safe while another thread writes the HTML. The
    batched writer runs no such check: nothing is warned, so nothing needs silencing."""
    import warnings

    import genanki

    from dldeck.emit import anki

    manifest = Manifest.load(tmp_path / "manifest.json")
    basic = anki._note_type(manifest, EPOCH, BASIC_NOTE_TYPE_ID, anki.BASIC_NOTE_TYPE_NAME, BASIC_FIELDS,
                            anki.BASIC_TEMPLATE)
    deck = anki._Deck(7, "deck")
    deck.add_note(anki._TimedNote(EPOCH, model=basic, fields=["a &lt;b <不是标签> c", "A", "", "", "", "s"],
                                  guid="g", due=1))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = anki._package_bytes(genanki.Package([deck]), {}, EPOCH)
    assert data.startswith(b"PK") and caught == []
