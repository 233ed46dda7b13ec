"""The whole pipeline as `dldeck build` runs it: real content into real Anki, all-or-nothing outputs,
reproducible bytes."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from anki.collection import Collection as AnkiCollection
from anki.collection import ImportAnkiPackageOptions, ImportAnkiPackageRequest

from dldeck import pipeline
from dldeck.errors import BuildError
from dldeck.source import read_collection

ROOT = Path(__file__).resolve().parent.parent
EPOCH = "1700000000"

SMALL = """\
---
deck: 测试::激活函数
tags: [activation]
sources: ["Goodfellow et al., *Deep Learning*, 2016"]
---

# Sigmoid

## Sigmoid 的导数最大是多少？ {#sigmoid-max}

在 $x=0$ 处取最大值 $\\frac{1}{4}$。

```check
sigma(x) := 1/(1 + exp(-x))
maximum(diff(sigma(x), x), x) == 1/4
```

```figure
plot: [sigma(x), diff(sigma(x), x)]
x: [-6, 6]
caption: σ 与导数
```

## tanh 与 sigmoid 的关系？ {#tanh-sigmoid}

$$\\tanh(x) = 2\\sigma(2x) - 1$$

```check
sigma(x) := 1/(1 + exp(-x))
tanh(x) == 2*sigma(2*x) - 1
```
"""


def small_project(root: Path) -> Path:
    content = root / "content"
    content.mkdir(parents=True)
    (content / "a.md").write_text(SMALL, encoding="utf-8")
    return content


def outputs(build_dir: Path) -> dict[str, bytes]:
    names = ("dldeck.apkg", "cheatsheet.html", "cheatsheet.pdf")
    return {name: (build_dir / name).read_bytes() for name in names}


@pytest.fixture
def epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)


def test_two_projects_from_the_same_sources_give_identical_bytes(tmp_path: Path, epoch: None) -> None:
    first = small_project(tmp_path / "one")
    second = small_project(tmp_path / "two")
    pipeline.build(first, tmp_path / "one" / "build")
    pipeline.build(second, tmp_path / "two" / "build")
    assert outputs(tmp_path / "one" / "build") == outputs(tmp_path / "two" / "build")
    manifests = [(tmp_path / p / "content" / ".dldeck-manifest.json").read_bytes() for p in ("one", "two")]
    assert manifests[0] == manifests[1]


@pytest.mark.parametrize(
    ("breakage", "where"),
    [
        ("maximum(diff(sigma(x), x), x) == 1/2", "content/a.md:15: claim does not hold"),
        ("x: [-6, 6]\nbogus: 3", "content/a.md:21:"),
        ("在 $x=0$ 处取最大值 $\\frac{1}{4$。", "content/a.md:11: unbalanced braces"),
    ],
)
def test_failed_build_leaves_previous_outputs_untouched(tmp_path: Path, epoch: None, breakage: str,
                                                        where: str) -> None:
    content = small_project(tmp_path)
    build = tmp_path / "build"
    pipeline.build(content, build)
    before = outputs(build)
    manifest = (content / ".dldeck-manifest.json").read_bytes()
    text = (content / "a.md").read_text(encoding="utf-8")
    # edit a card *and* break something, so a half-done build would have changed the deck
    target = {"maximum": "maximum(diff(sigma(x), x), x) == 1/4", "x: [-6": "x: [-6, 6]",
              "在 $x=0$": "在 $x=0$ 处取最大值 $\\frac{1}{4}$。"}
    original = next(value for key, value in target.items() if breakage.startswith(key))
    broken = text.replace(original, breakage).replace("$$\\tanh(x)", "改了 $$\\tanh(x)")
    (content / "a.md").write_text(broken, encoding="utf-8")
    with pytest.raises(BuildError) as caught:
        pipeline.build(content, build)
    assert any(str(d).startswith(where) for d in caught.value.diagnostics), caught.value
    assert outputs(build) == before
    assert (content / ".dldeck-manifest.json").read_bytes() == manifest
    assert not [p for p in build.iterdir() if p.name.startswith(".staging")]


def test_verifying_reports_each_card_finished(tmp_path: Path) -> None:
    """The longest step of a cold build says how far it is; an edit counts only the cards it verifies."""
    content = small_project(tmp_path)
    heard: list[str] = []

    def build() -> list[str]:
        heard.clear()
        pipeline.build(content, tmp_path / "build", only=("anki",), progress=heard.append)
        return [m for m in heard if m.startswith("verifying claims")]

    assert build() == ["verifying claims of 2 cards", "verifying claims: 1/2 cards",
                       "verifying claims: 2/2 cards"], heard
    text = (content / "a.md").read_text(encoding="utf-8")
    text = text.replace("tanh(x) == 2*sigma(2*x) - 1", "tanh(x) + 1 == 2*sigma(2*x)")
    (content / "a.md").write_text(text, encoding="utf-8")
    assert build() == ["verifying claims of 1 card", "verifying claims: 1/1 cards"], heard
    (content / "a.md").write_text(text.replace("处取最大值", "处取到最大值"), encoding="utf-8")
    assert build() == [], heard


def test_only_builds_the_named_output(tmp_path: Path, epoch: None) -> None:
    content = small_project(tmp_path)
    result = pipeline.build(content, tmp_path / "build", only=("anki",))
    assert [p.name for p in result.outputs] == ["dldeck.apkg"]
    assert not (tmp_path / "build" / "cheatsheet.pdf").exists()


# The real-deck tests share one worker under `make test` (--dist loadgroup), so the real deck is imported
# once (the real content itself is built once per run for every test that needs it: `real_build`).
REAL_DECK = pytest.mark.xdist_group("real-deck")


@pytest.fixture(scope="module")
def real_deck(tmp_path_factory: pytest.TempPathFactory, real_build: pipeline.BuildResult):
    """The real content's deck, built as `make build` does, imported into a fresh Anki collection."""
    root = tmp_path_factory.mktemp("real")
    package = root / "dldeck.apkg"
    shutil.copyfile(next(p for p in real_build.outputs if p.name == pipeline.DECK_NAME), package)
    col = AnkiCollection(str(root / "collection.anki2"))
    log = col.import_anki_package(ImportAnkiPackageRequest(package_path=str(package),
                                                           options=ImportAnkiPackageOptions())).log
    yield read_collection(ROOT / "content"), col, log
    col.close()


@REAL_DECK
def test_real_deck_imports_every_card_without_conflict(real_deck) -> None:
    collection, col, log = real_deck
    assert len(log.new) == len(collection.cards) == col.note_count()
    assert not log.conflicting and not log.missing_notetype and not log.updated
    decks = {name for name in col.decks.all_names()}
    assert {card.deck for card in collection.cards} <= decks


@REAL_DECK
def test_real_deck_renders_every_card(real_deck) -> None:
    _, col, _ = real_deck
    for card_id in col.find_cards(""):
        card = col.get_card(card_id)
        for side in (card.question(), card.answer()):
            body = re.sub(r"<style>.*?</style>", "", side, flags=re.S)
            assert re.sub(r"<[^>]+>", "", body).strip(), f"empty side of card {card_id}"
            assert body.count("\\(") == body.count("\\)")
            assert body.count("\\[") == body.count("\\]")
            # no unrendered template field or cloze (TeX's own `}}` is fine)
            assert not re.search(r"\{\{(c\d+::|[A-Za-z#/^])", body), body


@REAL_DECK
def test_real_deck_figures_arrive_as_media(real_deck) -> None:
    collection, col, _ = real_deck
    media = Path(col.media.dir())
    figure_cards = [card for card in collection.cards if card.figures]
    starter = [card for card in figure_cards if card.deck.endswith("激活函数")]
    assert len(starter) >= 5
    for card in figure_cards:
        note = col.get_note(col.find_notes(f"Id:{card.slug}")[0])
        names = re.findall(r'src="([^"]+)"', note["Figure"] if "Figure" in note else "")
        assert len(names) == len(card.figures), card.slug
        for name in names:
            assert (media / name).is_file() and (media / name).stat().st_size > 1000
    assert not col.media.check().missing


@REAL_DECK
def test_real_deck_cards_can_be_answered(real_deck) -> None:
    _, col, _ = real_deck
    col.decks.select(col.decks.id("深度学习面试"))
    answered = 0
    for _ in range(20):
        queued = col.sched.get_queued_cards(fetch_limit=1)
        if not queued.cards:
            break
        card = col.get_card(queued.cards[0].card.id)
        card.start_timer()
        col.sched.answerCard(card, 3)
        answered += 1
    assert answered == 20


def test_content_tree_reads_cleanly() -> None:
    collection = read_collection(ROOT / "content")
    assert len(collection.cards) >= 250
