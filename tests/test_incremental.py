"""Incremental builds: what a rebuild reuses, what it redoes, and that reuse never changes a byte.

Work is observed through `BuildResult.work` (which cards were verified and figured afresh) and the
no-op short-circuit (`up_to_date`), never through timing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dldeck import buildcache, pipeline
from dldeck.errors import BuildError

EPOCH = "1700000000"
OUTPUTS = ("dldeck.apkg", "cheatsheet.html", "cheatsheet.pdf")

CONTENT = """\
---
deck: 测试::激活函数
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
```

## tanh 与 sigmoid 的关系？ {#tanh-sigmoid}

$$\\tanh(x) = 2\\sigma(2x) - 1$$

```check
sigma(x) := 1/(1 + exp(-x))
tanh(x) == 2*sigma(2*x) - 1
diff(tanh(x), x) == 1 - tanh(x)**2
```

## ReLU 的输出范围？ {#relu-range}

$[0, +\\infty)$。
"""
TANH_CLAIM = "tanh(x) == 2*sigma(2*x) - 1"
PROSE = "在 $x=0$ 处取最大值"


@pytest.fixture(autouse=True)
def fixed_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)


def make_project(root: Path, text: str = CONTENT) -> tuple[Path, Path]:
    content = root / "content"
    content.mkdir(parents=True)
    (content / "a.md").write_text(text, encoding="utf-8")
    return content, root / "build"


def edit(content: Path, old: str, new: str) -> None:
    path = content / "a.md"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def outputs(build: Path, names: tuple[str, ...] = OUTPUTS) -> dict[str, bytes]:
    return {name: (build / name).read_bytes() for name in names}


def build(content: Path, build_dir: Path, only: tuple[str, ...] = pipeline.BACKENDS) -> pipeline.BuildResult:
    return pipeline.build(content, build_dir, only=only, timeout=60)


def test_noop_rebuild_is_up_to_date_and_touches_nothing(tmp_path: Path) -> None:
    content, build_dir = make_project(tmp_path)
    first = build(content, build_dir)
    assert not first.up_to_date
    assert sorted(first.work.verified) == ["relu-range", "sigmoid-max", "tanh-sigmoid"]  # formulas are claims
    assert first.work.figured == ["sigmoid-max"]
    before = {p: p.stat().st_mtime_ns for p in build_dir.rglob("*") if p.is_file()}
    second = build(content, build_dir)
    assert second.up_to_date and second.summary is None
    assert second.cards == 3 and second.claim_counts["symbolic"] >= 3
    assert [p.name for p in second.outputs] == list(OUTPUTS)
    assert {p: p.stat().st_mtime_ns for p in build_dir.rglob("*") if p.is_file()} == before


def test_deleted_card_leaves_the_manifest_and_the_next_rebuild_is_a_noop(tmp_path: Path) -> None:
    content, build_dir = make_project(tmp_path)
    build(content, build_dir, only=("anki",))
    manifest = content / pipeline.MANIFEST_NAME
    before = json.loads(manifest.read_text(encoding="utf-8"))["notes"]
    assert sorted(before) == ["relu-range", "sigmoid-max", "tanh-sigmoid"]
    edit(content, "## ReLU 的输出范围？ {#relu-range}\n\n$[0, +\\infty)$。\n", "")
    assert not build(content, build_dir, only=("anki",)).up_to_date
    after = json.loads(manifest.read_text(encoding="utf-8"))["notes"]
    assert after == {slug: before[slug] for slug in ("sigmoid-max", "tanh-sigmoid")}
    assert build(content, build_dir, only=("anki",)).up_to_date


def test_noop_rebuild_imports_no_heavy_library(tmp_path: Path) -> None:
    content, build_dir = make_project(tmp_path)
    build(content, build_dir, only=("html",))
    probe = (
        "import sys\nfrom pathlib import Path\nfrom dldeck import pipeline\n"
        f"r = pipeline.build(Path({str(content)!r}), Path({str(build_dir)!r}), only=('html',), timeout=60)\n"
        "heavy = ('sympy', 'matplotlib', 'typst', 'markdown_it', 'pykatex', 'genanki', 'jinja2')\n"
        "print(r.up_to_date, sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[0] == "True []", done.stdout + done.stderr


def test_each_kind_of_change_ends_the_noop(tmp_path: Path) -> None:
    content, build_dir = make_project(tmp_path)
    build(content, build_dir, only=("anki",))
    (content / "notes.txt").write_text("an unrelated file is still an input", encoding="utf-8")
    assert not build(content, build_dir, only=("anki",)).up_to_date
    assert build(content, build_dir, only=("anki",)).up_to_date
    assert not build(content, build_dir, only=("html",)).up_to_date  # other outputs asked for
    (build_dir / "cheatsheet.html").write_bytes(b"tampered")
    rebuilt = build(content, build_dir, only=("html",))
    assert not rebuilt.up_to_date and rebuilt.work.verified == []  # outputs redone, claims reused
    assert (build_dir / "cheatsheet.html").read_bytes() != b"tampered"
    (build_dir / buildcache.CACHE_DIR_NAME / buildcache.STAMP_NAME).write_text("{", encoding="utf-8")
    assert not build(content, build_dir, only=("html",)).up_to_date


def test_prose_edit_reverifies_nothing_and_check_edit_only_its_card(tmp_path: Path) -> None:
    content, build_dir = make_project(tmp_path)
    build(content, build_dir, only=("html",))

    # Two lines more above the tanh card: its claims move, so cached results must move with them.
    edit(content, PROSE, f"补充。\n\n{PROSE}")
    prose = build(content, build_dir, only=("html",))
    assert prose.work.verified == [] and prose.work.figured == []
    assert prose.summary is not None
    assert prose.summary.results == pipeline.check(content, None, timeout=60).results

    edit(content, TANH_CLAIM, "tanh(x) == 1 - 2*sigma(-2*x)")
    claim = build(content, build_dir, only=("html",))
    assert claim.work.verified == ["tanh-sigmoid"] and claim.work.figured == []

    edit(content, "x: [-6, 6]", "x: [-5, 5]")
    figure = build(content, build_dir, only=("html",))
    assert figure.work.verified == [] and figure.work.figured == ["sigmoid-max"]


def test_cached_and_uncached_builds_are_byte_identical(tmp_path: Path) -> None:
    warm_content, warm_build = make_project(tmp_path / "warm")
    cold_content, cold_build = make_project(tmp_path / "cold")
    build(warm_content, warm_build)
    build(cold_content, cold_build)
    for content in (warm_content, cold_content):
        edit(content, PROSE, f"（修订）{PROSE}")
    shutil.rmtree(cold_build)
    warm = build(warm_content, warm_build)
    cold = build(cold_content, cold_build)
    assert warm.work.verified == [] and warm.work.figured == []
    assert sorted(cold.work.verified) == ["relu-range", "sigmoid-max", "tanh-sigmoid"]
    assert outputs(warm_build) == outputs(cold_build)
    manifest = pipeline.MANIFEST_NAME
    assert (warm_content / manifest).read_bytes() == (cold_content / manifest).read_bytes()



ORDERED = """\
---
deck: 测试
---

## 困惑度怎么定义？ {#ppl-order}

平均负对数似然：

$$H = -\\frac{1}{N}\\sum_{t=1}^{N}\\ln p_t$$

困惑度是 $\\mathrm{PPL} = e^{H}$，等于几何平均的倒数：

$$\\mathrm{PPL}=\\Bigl(\\prod_{t=1}^{N}p_t\\Bigr)^{-1/N}$$
"""
ORDERED_CHECK = "```check\nassume N: positive integer\np_t := 2**(-t)\n```\n"


def test_a_check_block_moved_across_a_formula_is_verified_again(tmp_path: Path) -> None:
    """Definitions run in reading order (answer, then extra): below the formulas the check block
    defines p_t too late for H (its sum is then unread), above them it makes H a sum over p_t and the
    claim holds. The move changes no formula and no check line, and the cache must not answer with
    the old verdicts; nor when the block, still above, moves into an extra (read last)."""
    content, build_dir = make_project(tmp_path, ORDERED + "\n" + ORDERED_CHECK)
    below = pipeline.check(content, build_dir, timeout=60)
    assert below.coverage.counts.get("unread") == 2, below.coverage.counts
    edit(content, "\n" + ORDERED_CHECK, "")
    edit(content, "平均负对数似然：\n\n", "平均负对数似然：\n\n" + ORDERED_CHECK + "\n")
    above = pipeline.check(content, build_dir, timeout=60)
    assert above.work.verified == ["ppl-order"]
    assert above.results == pipeline.check(content, None, timeout=60).results
    assert above.coverage.counts == {"definition": 2, "verified": 1}
    # In an extra above the formulas, the block is read after the answer: as if it were below them.
    edit(content, ORDERED_CHECK, "::: extra\n" + ORDERED_CHECK + ":::\n")
    in_extra = pipeline.check(content, build_dir, timeout=60)
    assert in_extra.results == pipeline.check(content, None, timeout=60).results
    assert in_extra.coverage.counts.get("unread") == 2, in_extra.coverage.counts

OTHER_FILE = """\
---
deck: 测试::其他
---

## ReLU 在负半轴的导数？ {#relu-negative}

负半轴上导数为 $0$。
"""


def test_an_edit_rereads_only_its_file_and_matches_a_cold_build(tmp_path: Path) -> None:
    warm_content, warm_build = make_project(tmp_path / "warm")
    cold_content, cold_build = make_project(tmp_path / "cold")
    for content in (warm_content, cold_content):
        (content / "b.md").write_text(OTHER_FILE, encoding="utf-8")
    first = build(warm_content, warm_build)
    assert sorted(first.work.read) == ["content/a.md", "content/b.md"]
    build(cold_content, cold_build)
    for content in (warm_content, cold_content):
        path = content / "b.md"
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace("负半轴上", "（修订）负半轴上"), encoding="utf-8")
    shutil.rmtree(cold_build)
    warm = build(warm_content, warm_build)
    cold = build(cold_content, cold_build)
    assert warm.work.cache_status["read"] == "ok" and warm.work.read == ["content/b.md"]
    # only the edited card's claim and figure inputs are described again; the rest come by digest
    assert warm.work.described == ["check-inputs: relu-negative"]
    assert len(cold.work.described) == 5  # four cards' claims, one card's figures
    # every output renders only the edited card
    assert sorted(warm.work.rendered) == ["anki-fields: relu-negative", "html-cards: relu-negative",
                                          "typst-cards: relu-negative"]
    assert len(cold.work.rendered) == 12
    assert sorted(cold.work.read) == ["content/a.md", "content/b.md"]
    assert warm.summary is not None and cold.summary is not None
    assert warm.summary.collection.cards == cold.summary.collection.cards
    assert [c.order for c in warm.summary.collection.cards] == [0, 1, 2, 3]
    assert outputs(warm_build) == outputs(cold_build)
    manifest = pipeline.MANIFEST_NAME
    assert (warm_content / manifest).read_bytes() == (cold_content / manifest).read_bytes()


def test_an_edit_decodes_no_card_of_the_files_it_did_not_touch(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Cards restored from the read cache keep their bodies encoded; every pass and output of an edit
    works from their outline, checks, figures and kept results (decoding every card was the largest
    cost of an edit at 20,000 cards)."""
    from dldeck.source import codec

    content, build_dir = make_project(tmp_path)
    (content / "b.md").write_text(OTHER_FILE, encoding="utf-8")
    build(content, build_dir)
    decoded: list[str] = []
    body = codec._body
    monkeypatch.setattr(codec, "_body", lambda text: decoded.append(text) or body(text))
    path = content / "b.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("负半轴上", "（修订）负半轴上"), encoding="utf-8")
    warm = build(content, build_dir)
    assert warm.work.read == ["content/b.md"] and sorted(warm.work.rendered)  # the edit was built
    assert decoded == []  # b.md was read afresh; a.md's three cards were never decoded
    assert warm.summary is not None
    assert any(card.figures for card in warm.summary.collection.cards[:3])


@pytest.mark.parametrize("damage", [
    lambda entry: {"cards": entry},  # not a text
    lambda entry: "not json\n" + entry.partition("\n")[2],  # its first line is not JSON
    lambda entry: '{"digests": []}\n' + entry.partition("\n")[2],  # no image files named
    lambda entry: entry.partition("\n")[0] + "\n[]",  # the digests name cards that are not there
])
def test_a_damaged_read_cache_entry_is_read_again_not_trusted(tmp_path: Path, damage) -> None:
    """A read-cache entry is a text (its digests and images as a JSON line, then the shelved cards);
    one of the wrong shape in a file whose digest matches is refused, and its file read again."""
    content, build_dir = make_project(tmp_path)
    reference = build(content, build_dir, only=("anki",)).summary
    cache = build_dir / buildcache.CACHE_DIR_NAME
    for path in cache.glob("read.*.json"):
        entries = _rewrite_entries(path, damage)
        assert all(isinstance(entry, str) for entry in entries.values())
    (cache / buildcache.STAMP_NAME).unlink()
    again = build(content, build_dir, only=("anki",))
    assert again.work.cache_status["read"] == "ok" and again.work.read == ["content/a.md"]
    assert reference is not None and again.summary is not None
    assert again.summary.collection.cards == reference.collection.cards


def test_a_file_is_read_again_when_the_glossary_changes(tmp_path: Path) -> None:
    """The language rule judges a file's text by the glossary: a new term is a new input to every file."""
    content, build_dir = make_project(tmp_path)
    build(content, build_dir, only=("anki",))
    (content / "_glossary.toml").write_text('[[term]]\nuse = "极大值"\nnot = ["最大值"]\n', encoding="utf-8")
    with pytest.raises(BuildError, match=r"a\.md:\d+: use “极大值” instead of “最大值”"):
        build(content, build_dir, only=("anki",))
    edit(content, "最大值", "极大值")
    assert build(content, build_dir, only=("anki",)).work.read == ["content/a.md"]


def test_a_pdf_whose_document_is_unchanged_is_reused_not_typeset(tmp_path: Path) -> None:
    warm_content, warm_build = make_project(tmp_path / "warm")
    first = build(warm_content, warm_build)
    assert first.work.typeset == ["cheatsheet.pdf"]
    # a new check line changes the deck's claims but not one character of the printed sheet
    claim = "diff(tanh(x), x) == 1 - tanh(x)**2"
    edit(warm_content, claim, f"{claim}\ntanh(0) == 0")
    warm = build(warm_content, warm_build)
    assert warm.work.verified == ["tanh-sigmoid"] and warm.work.typeset == []
    text = (warm_content / "a.md").read_text(encoding="utf-8")
    cold_content, cold_build = make_project(tmp_path / "cold", text)
    cold = build(cold_content, cold_build)
    assert cold.work.typeset == ["cheatsheet.pdf"]
    assert outputs(warm_build) == outputs(cold_build)
    # a prose edit changes the sheet: it is typeset again
    edit(warm_content, PROSE, f"（修订）{PROSE}")
    assert build(warm_content, warm_build).work.typeset == ["cheatsheet.pdf"]
    # a PDF that is no longer the one the cache recorded is never passed on
    edit(warm_content, f"（修订）{PROSE}", PROSE)
    build(warm_content, warm_build)
    (warm_build / "current" / "cheatsheet.pdf").write_bytes(b"%PDF- not the sheet")
    edit(warm_content, "tanh(0) == 0", "tanh(0) == 0\ntanh(0) == 0")
    again = build(warm_content, warm_build)
    assert again.work.typeset == ["cheatsheet.pdf"]
    assert (warm_build / "cheatsheet.pdf").read_bytes() != b"%PDF- not the sheet"
    # a FIFO planted where the previous PDF was is refused, never opened blocking: the sheet is typeset
    edit(warm_content, "tanh(0) == 0\ntanh(0) == 0", "tanh(0) == 0")
    build(warm_content, warm_build)
    planted = (warm_build / "current" / "cheatsheet.pdf").resolve()
    planted.unlink()
    os.mkfifo(planted)
    edit(warm_content, "tanh(0) == 0", "tanh(0) == 0\ntanh(0) == 0")
    assert build(warm_content, warm_build).work.typeset == ["cheatsheet.pdf"]


def _corrupt_by_truncating(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])


def _header_and_body(path: Path) -> tuple[dict, bytes]:
    head, body = path.read_bytes().split(b"\n", 1)
    return json.loads(head), body


def _corrupt_by_flipping_an_entry(path: Path) -> None:
    head, body = _header_and_body(path)
    assert b"symbolic" in body
    path.write_bytes(json.dumps(head).encode() + b"\n" + body.replace(b"symbolic", b"SYMBOLIC", 1))


def _rewrite_entries(path: Path, change) -> dict:
    """Each entry of a cache file replaced by change(entry), the digest made right again: only the
    per-entry checks can refuse what is written. The entries as they were."""
    tool = _header_and_body(path)[0]["tool"]
    entries, status = buildcache._open_envelope(path, tool)
    assert status == "ok" and entries is not None
    path.write_bytes(buildcache._envelope(tool, {key: change(entry) for key, entry in entries.items()}))
    return entries


def _corrupt_with_a_bad_entry_and_a_matching_digest(path: Path) -> None:
    """A well-formed file whose entries are wrong: the per-entry checks must catch it."""
    assert _rewrite_entries(path, lambda entry: [[0, "x", "failed", ""]])


def _stale_version(path: Path) -> None:
    head, body = _header_and_body(path)
    head["version"] = buildcache.CACHE_VERSION + 1
    path.write_bytes(json.dumps(head).encode() + b"\n" + body)


def _cut_in_the_header(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:40])


@pytest.mark.parametrize(
    ("corrupt", "status"),
    [
        (_corrupt_by_truncating, "corrupt (cut short)"),
        (_cut_in_the_header, "corrupt (no header)"),
        (_corrupt_by_flipping_an_entry, "corrupt (digest mismatch)"),
        (_corrupt_with_a_bad_entry_and_a_matching_digest, "ok"),
        (_stale_version, "stale (cache format changed)"),
    ],
)
def test_corrupt_claim_cache_is_rebuilt_not_trusted(tmp_path: Path, corrupt, status: str) -> None:
    content, build_dir = make_project(tmp_path)
    reference = build(content, build_dir, only=("anki",)).summary
    assert reference is not None
    checks = build_dir / buildcache.CACHE_DIR_NAME / "checks.json"
    corrupt(checks)
    (build_dir / buildcache.CACHE_DIR_NAME / buildcache.STAMP_NAME).unlink()
    again = build(content, build_dir, only=("anki",))
    assert again.work.cache_status["checks"] == status
    assert sorted(again.work.verified) == ["relu-range", "sigmoid-max", "tanh-sigmoid"]
    assert again.summary is not None and again.summary.results == reference.results
    # the rebuilt cache is whole again: the next build reuses it
    (build_dir / buildcache.CACHE_DIR_NAME / buildcache.STAMP_NAME).unlink()
    third = build(content, build_dir, only=("anki",))
    assert third.work.cache_status["checks"] == "ok" and third.work.verified == []


def test_corrupt_figure_file_and_formula_caches_are_rebuilt(tmp_path: Path) -> None:
    reference_content, reference_build = make_project(tmp_path / "reference")
    build(reference_content, reference_build)
    content, build_dir = make_project(tmp_path / "project")
    build(content, build_dir)
    cache = build_dir / buildcache.CACHE_DIR_NAME
    for name in ("figures.json", "mathml.json", "typst-math.json"):
        _corrupt_by_truncating(cache / name)
    for png in (build_dir / "figures").glob("*.png"):
        _corrupt_by_truncating(png)  # a figure file cut short by a crash
    (cache / buildcache.STAMP_NAME).unlink()
    again = build(content, build_dir)
    statuses = {again.work.cache_status[n] for n in ("figures", "mathml", "typst-math")}
    assert statuses and statuses <= {"corrupt (cut short)", "corrupt (no header)"}  # by where the cut fell
    assert again.work.figured == ["sigmoid-max"]
    assert outputs(build_dir) == outputs(reference_build)

    # figures.json intact but a file it names is cut short: that card is drawn again
    for png in (build_dir / "figures").glob("*.png"):
        _corrupt_by_truncating(png)
    (cache / buildcache.STAMP_NAME).unlink()
    third = build(content, build_dir)
    assert third.work.cache_status["figures"] == "ok" and third.work.figured == ["sigmoid-max"]
    assert outputs(build_dir) == outputs(reference_build)


def test_unchanged_figure_files_are_not_hashed_again_and_a_changed_one_is_redrawn(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Figure files that still carry the stamps they had when last found whole are not read again; a
    file rewritten in place, even with its modification time set back, is hashed, found changed and
    drawn again (its change time cannot be set back)."""
    import dldeck.pipeline.figures as figure_pass

    content, build_dir = make_project(tmp_path)
    build(content, build_dir)
    hashed: list[Path] = []
    check = figure_pass.is_complete
    monkeypatch.setattr(figure_pass, "is_complete", lambda svg, png: hashed.append(png) or check(svg, png))
    edit(content, TANH_CLAIM, "tanh(0) == 0\n" + TANH_CLAIM)
    second = build(content, build_dir)
    assert second.work.figured == [] and hashed == []
    (png,) = (build_dir / "figures").glob("*.png")
    before = png.stat()
    _corrupt_by_truncating(png)
    os.utime(png, ns=(before.st_atime_ns, before.st_mtime_ns))
    edit(content, "tanh(0) == 0\n", "")
    third = build(content, build_dir)
    assert hashed == [png] and third.work.figured == ["sigmoid-max"]
    assert png.stat().st_size == before.st_size


def test_failed_build_keeps_outputs_and_does_not_poison_caches(tmp_path: Path) -> None:
    content, build_dir = make_project(tmp_path)
    build(content, build_dir, only=("html",))
    before = outputs(build_dir, ("cheatsheet.html",))
    edit(content, TANH_CLAIM, "tanh(x) == 2*sigma(x) - 1")
    for _ in range(2):  # the failure is not remembered as a success
        with pytest.raises(BuildError) as caught:
            build(content, build_dir, only=("html",))
        assert any("a.md:" in str(d) for d in caught.value.diagnostics)
        assert outputs(build_dir, ("cheatsheet.html",)) == before
    edit(content, "tanh(x) == 2*sigma(x) - 1", TANH_CLAIM)
    restored = build(content, build_dir, only=("html",))
    assert restored.up_to_date  # back to what build/ holds
    assert outputs(build_dir, ("cheatsheet.html",)) == before


def test_json_cache_keeps_only_what_a_build_used(tmp_path: Path) -> None:
    cache = buildcache.JsonCache(tmp_path, "things", "tool-1")
    assert cache.status == "missing"
    cache.put("a", [1])
    cache.put("b", [2])
    cache.save()
    reread = buildcache.JsonCache(tmp_path, "things", "tool-1")
    assert reread.status == "ok" and reread.get("a") == [1]
    reread.save()
    assert buildcache.JsonCache(tmp_path, "things", "tool-1").get("b") is None
    assert buildcache.JsonCache(tmp_path, "things", "tool-2").status.startswith("stale")
    assert not [p for p in (tmp_path / buildcache.CACHE_DIR_NAME).iterdir() if p.suffix == ".tmp"]


def _png(red: int) -> bytes:
    """A valid 1×1 PNG of the given red value."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(bytes([0, red, 0, 0]))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def test_an_image_is_an_input(tmp_path: Path) -> None:
    """Images live inside the content folder (dldeck.contain refuses others), so the content hash
    sees a changed picture, even one reached through a symlink inside the folder."""
    text = CONTENT.replace("$[0, +\\infty)$。", "$[0, +\\infty)$。\n\n![曲线](img/link.png)")
    content, build_dir = make_project(tmp_path, text)
    picture = content / "img" / "pic.png"
    picture.parent.mkdir()
    picture.write_bytes(_png(10))
    (content / "img" / "link.png").symlink_to("pic.png")
    build(content, build_dir, only=("anki",))
    assert build(content, build_dir, only=("anki",)).up_to_date
    picture.write_bytes(_png(200))
    changed = build(content, build_dir, only=("anki",))
    assert not changed.up_to_date
    assert changed.work.read == ["content/a.md"]  # the file that shows it is read (and checked) again
    assert changed.work.rendered == ["anki-fields: relu-range"]  # a card with an image is never kept


def test_a_process_that_already_ran_typst_can_still_build(tmp_path: Path) -> None:
    """Typst's thread pool does not survive a fork: a build must not hand it to a forked child."""
    content, build_dir = make_project(tmp_path)
    probe = (
        "from pathlib import Path\nfrom dldeck import pipeline\n"
        "from dldeck.mathengines.engines import compile_typst\n"
        "compile_typst('$x$')\n"
        f"r = pipeline.build(Path({str(content)!r}), Path({str(build_dir)!r}), only=('html',), timeout=60)\n"
        "print(sorted(r.work.verified))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['relu-range', 'sigmoid-max', 'tanh-sigmoid']"


def test_a_build_without_the_pdf_does_not_convert_formulas_to_typst(tmp_path: Path) -> None:
    # Typst cannot typeset \xrightarrow: only a build that writes the PDF needs it to.
    arrow = "\n## 映射记号？ {#arrow-map}\n\n$$a \\xrightarrow{f} b$$\n"
    content, build_dir = make_project(tmp_path, CONTENT + arrow)
    deck = build(content, build_dir, only=("anki",))
    assert [p.name for p in deck.outputs] == ["dldeck.apkg"]
    assert build(content, build_dir, only=("anki", "html")).outputs
    with pytest.raises(BuildError, match=r"a\.md:\d+: formula does not compile in Typst: .*xrightarrow"):
        build(content, build_dir)
    with pytest.raises(BuildError, match="xrightarrow"):
        pipeline.check(content, build_dir)  # `dldeck check` checks every engine, whatever was built


def test_a_cards_marks_are_the_verified_formulas_between_its_heading_and_the_next() -> None:
    from dldeck.model import Collection, ComputedKey, Verified
    from dldeck.pipeline.fragments import card_marks
    from test_cheatsheet_samples import card

    cards = (card("one", (), (), line=3, path="a.md"), card("two", (), (), line=9, path="a.md"),
             card("three", (), (), line=1, path="b.md"))
    verified = Verified(frozenset({("a.md", 4, "x"), ("a.md", 9, "y"), ("a.md", 30, "z"), ("b.md", 2, "w")}),
                        {ComputedKey("two", 0): "0.5"})
    assert card_marks(Collection(cards, "/content"), verified) == {
        "one": [[[4, "x"]], []], "two": [[[9, "y"], [30, "z"]], [[0, "0.5"]]], "three": [[[2, "w"]], []]}


def test_a_cards_fragment_key_follows_its_digest_marks_and_figures_and_no_other_card() -> None:
    """Every output's fragment of a card is keyed by one per-card key (made once for all outputs):
    it changes with the card's verified marks or its figure's caption, and only that card's does."""
    from dldeck.model import (
        Collection,
        ComputedKey,
        FigureBlock,
        FigureKey,
        RenderedFigure,
        SourceSpan,
        Verified,
    )
    from dldeck.pipeline.fragments import card_keys
    from test_cheatsheet_samples import card

    drawn = FigureBlock("plot: [x]", SourceSpan("a.md", 5), 0)
    cards = (card("one", (), (drawn,), line=3, path="a.md"), card("two", (), (), line=9, path="a.md"))
    collection = Collection(cards, "/content")
    figure = RenderedFigure(FigureKey("one", 0), "/f/a.svg", "/f/a.png", "caption", "alt")
    verified = Verified(frozenset({("a.md", 4, "x")}))
    base = card_keys(collection, verified, {figure.key: figure})
    assert card_keys(collection, verified, {figure.key: figure}) == base
    marked = card_keys(collection, Verified(verified.formulas, {ComputedKey("two", 0): "1"}),
                       {figure.key: figure})
    assert marked["one"] == base["one"] and marked["two"] != base["two"]
    unmarked = card_keys(collection, Verified(), {figure.key: figure})
    assert unmarked["one"] != base["one"] and unmarked["two"] == base["two"]
    recaptioned = RenderedFigure(figure.key, figure.svg_path, figure.png_path, "another caption", "alt")
    moved = card_keys(collection, verified, {figure.key: recaptioned})
    assert moved["one"] != base["one"] and moved["two"] == base["two"]


def test_a_build_gives_back_to_the_collector_what_its_caches_froze(tmp_path: Path) -> None:
    """Loading caches pauses the cyclic collector and freezes what was loaded (buildcache.bulk); a
    long-lived process (tests, an editor plug-in) must get those objects collectable again."""
    import gc

    content, build_dir = make_project(tmp_path)
    build(content, build_dir, only=("anki",))
    edit(content, PROSE, f"（修订）{PROSE}")
    assert build(content, build_dir, only=("anki",)).work.read == ["content/a.md"]
    assert gc.get_freeze_count() == 0 and gc.isenabled()
    with buildcache.bulk():
        assert not gc.isenabled()
    assert gc.get_freeze_count() > 0
    pipeline.check(content, build_dir, timeout=60)
    assert gc.get_freeze_count() == 0


def test_an_edit_reads_the_fonts_glyphs_from_the_cache_not_the_font(tmp_path: Path) -> None:
    """Which characters the PDF font has is kept by the font file's stamp: an edit renders its
    card's Typst markup without importing fontTools to parse the font again, and finds the same set."""
    from dldeck.emit.typst_markup import font_coverage
    from dldeck.fonts import find_cjk_font
    from dldeck.pipeline.executor import Executor
    from dldeck.pipeline.sheetpdf import FONT_CODE
    from dldeck.pipeline.sheetpdf import font_coverage as kept_coverage

    content, build_dir = make_project(tmp_path)
    build(content, build_dir)
    edit(content, PROSE, f"（修订）{PROSE}")
    probe = (
        "import sys\nfrom pathlib import Path\nfrom dldeck import pipeline\n"
        f"r = pipeline.build(Path({str(content)!r}), Path({str(build_dir)!r}), timeout=60)\n"
        "print(r.work.cache_status['font-coverage'], sorted(r.work.rendered), 'fontTools' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                          env={**os.environ, "SOURCE_DATE_EPOCH": EPOCH})
    rendered = "['anki-fields: sigmoid-max', 'html-cards: sigmoid-max', 'typst-cards: sigmoid-max']"
    assert done.stdout.split("\n")[0] == f"ok {rendered} False", done.stderr
    font = Path(find_cjk_font().path)
    kept = Executor(build_dir, "font-coverage", code=FONT_CODE)
    assert kept_coverage(kept)(font) == font_coverage(font)


TWIN = """\
---
deck: 测试::孪生
---

# 孪生

## tanh 与 sigmoid？ {{#{slug}}}

{prose}

$$\\tanh(x) = 2\\sigma(2x) - 1$$

```check
sigma(x) := 1/(1 + exp(-x))
tanh(x) == 2*sigma(2*x) - 1
```

## 错误的导数？ {{#{slug}-wrong}}

见下。

```check
diff(x**2, x) == 3*x
```
"""


def test_cards_that_claim_the_same_are_verified_once_and_report_at_their_own_lines(tmp_path: Path) -> None:
    content = tmp_path / "content"
    content.mkdir()
    (content / "b.md").write_text(TWIN.format(prose="一段。", slug="first"), encoding="utf-8")
    (content / "c.md").write_text(TWIN.format(prose="两段。\n\n又一段。\n\n再一段。", slug="second"),
                                  encoding="utf-8")
    with pytest.raises(BuildError) as failed:
        build(content, tmp_path / "build")
    # the failing twins are each verified, and each reports its own file and line
    lines = sorted((d.path, d.line) for d in failed.value.diagnostics)
    assert lines == [("content/b.md", 23), ("content/c.md", 27)]
    for name in ("b.md", "c.md"):  # the wrong cards go
        (content / name).write_text((content / name).read_text(encoding="utf-8").split("## 错误")[0],
                                    encoding="utf-8")
    shutil.rmtree(tmp_path / "build")
    twins = build(content, tmp_path / "build")
    assert twins.work.verified == ["first"]  # its twin took its verdicts
    alone = tmp_path / "alone" / "content"
    alone.mkdir(parents=True)
    shutil.copy(content / "c.md", alone / "c.md")
    by_itself = pipeline.check(alone, None, timeout=60).results
    assert by_itself and all(r.status == "symbolic" for r in by_itself)
    assert [r for r in twins.summary.results if r.slug == "second"] == list(by_itself)


def test_cached_results_of_an_unchanged_card_are_restored_without_walking_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where a card's formulas and computed numbers are is kept with its check inputs (under its
    digest, which covers every line), so restoring its results does not walk the card again."""
    import dldeck.pipeline.claims as claims

    content, build_dir = make_project(tmp_path)
    cold = build(content, build_dir, only=("html",))
    walked: list[str] = []
    shown = claims._shown
    monkeypatch.setattr(claims, "_shown", lambda card: walked.append(card.slug) or shown(card))
    edit(content, "$[0, +\\infty)$。", "$[0, +\\infty)$，没有上界。")  # the last card: no other card moves
    warm = build(content, build_dir, only=("html",))
    assert warm.work.verified == [] and set(walked) == {"relu-range"}
    assert warm.summary is not None and cold.summary is not None
    assert warm.summary.results == cold.summary.results


@pytest.mark.parametrize("damage", [
    lambda entry: {"0": entry},  # not a list
    lambda entry: [[*entry[0][:7]]],  # a part missing
    lambda entry: [["0", *entry[0][1:]]],  # an anchor that is not a number
    lambda entry: [[*entry[0][:3], 7, *entry[0][4:]]],  # a message that is not a text
    lambda entry: [[*entry[0][:2], "failed", *entry[0][3:]]],  # a status that is never kept
    lambda entry: [[99, *entry[0][1:]]],  # past the last of the card's formulas
])
def test_a_kept_claim_result_of_the_wrong_shape_is_not_restored(tmp_path: Path, damage) -> None:
    import dldeck.pipeline.claims as claims
    from dldeck.source import read_collection

    content, _ = make_project(tmp_path)
    card = next(c for c in read_collection(content).cards if c.slug == "sigmoid-max")
    results = [r for r in build(content, tmp_path / "build").summary.results if r.slug == card.slug]
    formula = next(r for r in results if r.source == "formula")
    entry = claims._entries(card, [formula])
    where = claims._locations(card)
    assert claims._restore_results(card, entry, where=where) == [formula]
    assert claims._restore_results(card, entry, where=["damaged"]) == [formula]  # found by walking
    assert claims._restore_results(card, damage(entry), where=where) is None
