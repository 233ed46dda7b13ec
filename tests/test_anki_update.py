"""A learner's months of reviews must survive every rebuild: the re-import story on Anki's real backend.

v1 is imported and every card answered; then two answers are edited, a card is added and a content
file renamed; v2 imported with Anki's default options must update exactly the two edited notes in
place, add one, duplicate nothing and keep every card's scheduling. An unchanged rebuild is
byte-identical and updates nothing.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from anki.collection import Collection as AnkiCollection
from anki.collection import ImportAnkiPackageOptions, ImportAnkiPackageRequest
from anki.scheduler.v3 import CardAnswer

from dldeck.emit.anki import write_deck
from dldeck.manifest import Manifest
from dldeck.source import read_collection

V1_TIME = 1_700_000_000
V2_TIME = V1_TIME + 86_400
V3_TIME = V2_TIME + 86_400

ACTIVATIONS = """\
    ---
    deck: 面试::激活函数
    tags: [activation]
    ---

    ## Sigmoid 的导数最大值？ {#sigmoid-max}

    在 $x=0$ 处取最大值 $\\tfrac14$。

    ## ReLU 的导数？ {#relu-grad}

    $x>0$ 时为 {{c1::$1$}}，$x<0$ 时为 {{c2::$0$}}。

    ## tanh 的值域？ {#tanh-range}

    $(-1, 1)$。
    """

CONV = """\
    ---
    deck: 面试::卷积
    tags: [cnn]
    ---

    ## 3×3 卷积的参数量？ {#conv-params}

    $9 C_{in} C_{out} + C_{out}$。

    ## 感受野？ {#receptive-field}

    三层 3×3 卷积的感受野是 $7$。
    """

NEW_CARD = """
    ## 池化的输出尺寸？ {#pool-output}

    $\\lfloor (H - K)/S \\rfloor + 1$。
    """


@dataclass
class Scenario:
    col: AnkiCollection
    v1_log: object
    v2_log: object
    v3_log: object
    schedule_before: dict[int, tuple]
    schedule_after: dict[int, tuple]
    notes_before: dict[str, int]
    v2_bytes: bytes
    v3_bytes: bytes


def build(content: Path, out: Path, when: int) -> None:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SOURCE_DATE_EPOCH", str(when))
        manifest = Manifest.load(content / ".dldeck-manifest.json")
        write_deck(read_collection(content), {}, manifest, out)
        manifest.save()


def import_package(col: AnkiCollection, path: Path):
    request = ImportAnkiPackageRequest(package_path=str(path), options=ImportAnkiPackageOptions())
    return col.import_anki_package(request).log


def review_everything(col: AnkiCollection) -> None:
    col.decks.select(col.decks.id_for_name("面试"))
    while True:
        queued = col.sched.get_queued_cards(fetch_limit=1)
        if not queued.cards:
            return
        top = queued.cards[0]
        card = col.get_card(top.card.id)
        card.start_timer()
        col.sched.answer_card(col.sched.build_answer(card=card, states=top.states, rating=CardAnswer.EASY))


def schedules(col: AnkiCollection) -> dict[int, tuple]:
    result = {}
    for card_id in col.find_cards(""):
        card = col.get_card(card_id)
        result[card_id] = (
            card.nid,
            card.did,
            card.type,
            card.queue,
            card.due,
            card.ivl,
            card.reps,
            card.factor,
        )
    return result


def note_ids_by_slug(col: AnkiCollection) -> dict[str, int]:
    return {col.get_note(nid)["Id"]: nid for nid in col.find_notes("")}


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    root = tmp_path_factory.mktemp("update")
    content = root / "content"
    content.mkdir()
    (content / "activations.md").write_text(textwrap.dedent(ACTIVATIONS), encoding="utf-8")
    (content / "conv.md").write_text(textwrap.dedent(CONV), encoding="utf-8")
    build(content, root / "v1.apkg", V1_TIME)

    (root / "anki").mkdir()
    col = AnkiCollection(str(root / "anki" / "collection.anki2"))
    v1_log = import_package(col, root / "v1.apkg")
    review_everything(col)
    schedule_before = schedules(col)
    notes_before = note_ids_by_slug(col)

    # The author's edits: two answers, one new card, one renamed file.
    activations = (content / "activations.md").read_text(encoding="utf-8")
    (content / "activations.md").write_text(activations.replace("$\\tfrac14$", "$1/4$（四分之一）"), "utf-8")
    conv = (content / "conv.md").read_text(encoding="utf-8")
    conv = conv.replace("三层 3×3 卷积的感受野是 $7$。", "三层 3×3 卷积（stride 1）的感受野是 $7$。")
    (content / "conv.md").write_text(conv + textwrap.dedent(NEW_CARD), "utf-8")
    (content / "activations.md").rename(content / "01-activation-functions.md")

    build(content, root / "v2.apkg", V2_TIME)
    v2_log = import_package(col, root / "v2.apkg")
    schedule_after = schedules(col)

    build(content, root / "v3.apkg", V3_TIME)
    v3_log = import_package(col, root / "v3.apkg")

    yield Scenario(
        col,
        v1_log,
        v2_log,
        v3_log,
        schedule_before,
        schedule_after,
        notes_before,
        (root / "v2.apkg").read_bytes(),
        (root / "v3.apkg").read_bytes(),
    )
    col.close()


def test_v1_reviews_took(scenario: Scenario) -> None:
    assert len(scenario.v1_log.new) == 5
    assert len(scenario.schedule_before) == 6
    for _nid, _did, card_type, _queue, _due, ivl, reps, _factor in scenario.schedule_before.values():
        assert card_type == 2 and ivl > 0 and reps == 1, "every card should have graduated to review"


def test_edits_update_in_place_and_the_new_card_is_added(scenario: Scenario) -> None:
    log = scenario.v2_log
    updated = sorted(note.fields[-1] for note in log.updated)
    assert updated == ["receptive-field", "sigmoid-max"]
    assert [note.fields[-1] for note in log.new] == ["pool-output"]
    # Anki lists notes it matched by guid but left alone (not newer) as "duplicate": the unchanged ones.
    assert sorted(note.fields[-1] for note in log.duplicate) == ["conv-params", "relu-grad", "tanh-range"]
    assert not log.conflicting and not log.missing_notetype and not log.first_field_match

    col = scenario.col
    notes = note_ids_by_slug(col)
    assert len(notes) == col.note_count() == 6
    for slug, note_id in scenario.notes_before.items():
        assert notes[slug] == note_id, f"{slug} must keep its note id"
    assert "四分之一" in col.get_note(notes["sigmoid-max"])["Answer"]
    assert "stride 1" in col.get_note(notes["receptive-field"])["Answer"]
    new_card = col.get_note(notes["pool-output"]).cards()[0]
    assert col.decks.name(new_card.did) == "面试::卷积"


def test_every_card_keeps_its_scheduling(scenario: Scenario) -> None:
    after = scenario.schedule_after
    for card_id, before in scenario.schedule_before.items():
        assert after[card_id] == before
    assert len(after) == len(scenario.schedule_before) + 1


def test_unchanged_rebuild_is_identical_and_updates_nothing(scenario: Scenario) -> None:
    assert scenario.v3_bytes == scenario.v2_bytes
    log = scenario.v3_log
    assert not log.new and not log.updated and not log.conflicting
    assert len(log.duplicate) == scenario.col.note_count() == 6
    assert schedules(scenario.col) == scenario.schedule_after


def test_style_edits_reach_existing_collections(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dldeck.emit.anki as anki_backend

    content = tmp_path / "content"
    content.mkdir()
    (content / "conv.md").write_text(textwrap.dedent(CONV), encoding="utf-8")
    build(content, tmp_path / "v1.apkg", V1_TIME)
    col = AnkiCollection(str(tmp_path / "collection.anki2"))
    try:
        import_package(col, tmp_path / "v1.apkg")
        original = anki_backend.stylesheet()
        monkeypatch.setattr(anki_backend, "stylesheet", lambda: original + "\n/* restyled */\n")
        build(content, tmp_path / "v2.apkg", V2_TIME)
        log = import_package(col, tmp_path / "v2.apkg")
        assert not log.new and not log.updated and not log.conflicting
        note_type = col.models.get(anki_backend.BASIC_NOTE_TYPE_ID)
        assert "/* restyled */" in note_type["css"]
        assert note_type["mod"] == V2_TIME
    finally:
        col.close()


def test_pipeline_build_saves_the_manifest_and_a_noop_rebuild_touches_nothing(tmp_path: Path) -> None:
    from dldeck.pipeline import build as pipeline_build

    content = tmp_path / "content"
    content.mkdir()
    (content / "conv.md").write_text(textwrap.dedent(CONV), encoding="utf-8")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SOURCE_DATE_EPOCH", str(V1_TIME))
        [deck] = pipeline_build(content, tmp_path / "build", only=("anki",), project_dir=tmp_path).outputs
    manifest_path = content / ".dldeck-manifest.json"
    manifest_stat = manifest_path.stat()
    first = deck.read_bytes()
    assert Manifest.load(manifest_path).notes["conv-params"].mtime == V1_TIME

    with pytest.MonkeyPatch.context() as env:
        env.setenv("SOURCE_DATE_EPOCH", str(V2_TIME))
        pipeline_build(content, tmp_path / "build", only=("anki",), project_dir=tmp_path)
    assert deck.read_bytes() == first
    assert manifest_path.stat().st_mtime_ns == manifest_stat.st_mtime_ns

    col = AnkiCollection(str(tmp_path / "collection.anki2"))
    try:
        log = import_package(col, deck)
        assert sorted(note.fields[-1] for note in log.new) == ["conv-params", "receptive-field"]
    finally:
        col.close()
