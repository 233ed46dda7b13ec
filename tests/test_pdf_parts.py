"""A large sheet is typeset in parts (each cached by the hash of its Typst input) and joined: an edit
re-typesets only its part, the result is byte-identical to a cold build's, the joined PDF keeps
its text, outline and page numbers, and a Typst error in a part still names the card.

PART_CARDS is lowered so a few cards make several parts (the real threshold needs hundreds)."""

from __future__ import annotations

import dataclasses
import io
import re
from pathlib import Path

import pytest
from pypdf import PdfReader

import dldeck.emit.pdf as pdf
from dldeck import pipeline
from dldeck.config import SheetConfig
from dldeck.errors import BuildError
from dldeck.model import DisplayMath, Text
from test_cheatsheet_samples import card, sample_collection, span, with_cards


@pytest.fixture(autouse=True)
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    monkeypatch.setattr(pdf, "PART_CARDS", 2)


def section(deck: str, name: str, slugs: list[str]) -> str:
    cards = "".join(f"## {slug} 是什么？ {{#{slug}}}\n\n{slug} 的说明：第一段文字。\n\n" for slug in slugs)
    return f"---\ndeck: 测试::{deck}\n---\n\n# {name}\n\n{cards}"


def make_project(root: Path) -> tuple[Path, Path]:
    content = root / "content"
    content.mkdir(parents=True)
    (content / "a.md").write_text(section("甲组", "第一节", ["alpha", "beta"]), encoding="utf-8")
    (content / "b.md").write_text(section("甲组", "第二节", ["gamma", "delta"]), encoding="utf-8")
    (content / "c.md").write_text(section("乙组", "第三节", ["epsilon", "zeta", "eta"]), encoding="utf-8")
    return content, root / "build"


def build(content: Path, build_dir: Path) -> pipeline.BuildResult:
    return pipeline.build(content, build_dir, timeout=60)


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_an_edit_retypesets_only_its_part_and_matches_a_cold_build(tmp_path: Path) -> None:
    warm_content, warm_build = make_project(tmp_path / "warm")
    first = build(warm_content, warm_build)
    assert first.work.typeset_parts == ["cheatsheet.pdf: 甲组 › 第一节", "cheatsheet.pdf: 甲组 › 第二节",
                                        "cheatsheet.pdf: 乙组 › 第三节",
                                        "cheatsheet.pdf: the joining skeleton"]
    assert first.work.typeset == ["cheatsheet.pdf"]
    stored = sorted(p.name for p in (warm_build / "cache" / "typeset-parts").iterdir())
    assert len(stored) == 4
    path = warm_content / "b.md"
    path.write_text(path.read_text(encoding="utf-8").replace("delta 的说明", "delta 的新说明"),
                    encoding="utf-8")
    warm = build(warm_content, warm_build)
    # no page break or heading moved: the skeleton is reused and only the pages are laid under it again
    assert warm.work.typeset_parts == ["cheatsheet.pdf: 甲组 › 第二节"]
    assert warm.work.typeset == ["cheatsheet.pdf"]
    # the replaced part's file is gone, the others are kept
    after = sorted(p.name for p in (warm_build / "cache" / "typeset-parts").iterdir())
    assert len(after) == 4 and len(set(after) & set(stored)) == 3
    cold_content, cold_build = make_project(tmp_path / "cold")
    (cold_content / "b.md").write_bytes(path.read_bytes())
    cold = build(cold_content, cold_build)
    assert len(cold.work.typeset_parts) == 4
    assert (warm_build / "cheatsheet.pdf").read_bytes() == (cold_build / "cheatsheet.pdf").read_bytes()
    text = "".join(page.extract_text() for page in PdfReader(warm_build / "cheatsheet.pdf").pages)
    assert "delta的新说明" in squeeze(text)


def test_a_damaged_part_file_is_typeset_again_not_trusted(tmp_path: Path) -> None:
    content, build_dir = make_project(tmp_path)
    build(content, build_dir)
    for stored in (build_dir / "cache" / "typeset-parts").iterdir():
        stored.write_bytes(b"%PDF- not the part")
    killed = build_dir / "cache" / "typeset-parts" / ".0123abcd.pdf.x1.tmp"  # a killed build's half write
    killed.write_bytes(b"%PDF- half")
    (content / "c.md").write_text(section("乙组", "第三节", ["epsilon", "zeta", "eta", "theta"]),
                                  encoding="utf-8")
    again = build(content, build_dir)
    assert len(again.work.typeset_parts) == 4  # three parts and the skeleton
    assert not killed.exists() and len(list((build_dir / "cache" / "typeset-parts").iterdir())) == 4
    reader = PdfReader(build_dir / "cheatsheet.pdf")
    assert "theta是什么" in squeeze("".join(p.extract_text() for p in reader.pages))


def test_the_joined_sheet_keeps_text_outline_and_page_numbers(tmp_path: Path) -> None:
    content, build_dir = make_project(tmp_path)
    build(content, build_dir)
    reader = PdfReader(build_dir / "cheatsheet.pdf")
    pages = [squeeze(page.extract_text()) for page in reader.pages]
    assert len(pages) == 4  # the title and outline, then each part on pages of its own
    assert "目录" in pages[0] and "1/4" in pages[0]
    for number, slugs in ((2, ["alpha", "beta"]), (3, ["gamma", "delta"]), (4, ["epsilon", "zeta", "eta"])):
        assert all(f"{slug}是什么" in pages[number - 1] for slug in slugs)
        assert f"{number}/4" in pages[number - 1]
    # the outline on the first page and the PDF bookmarks point at the parts' headings
    assert re.search(r"第三节\.*4", pages[0])
    marks = {}
    for item in reader.outline:
        for entry in item if isinstance(item, list) else [item]:
            marks[entry["/Title"]] = reader.get_destination_page_number(entry)
    assert marks == {"甲组": 1, "第一节": 1, "第二节": 2, "乙组": 3, "第三节": 3}


def test_a_typst_error_in_a_part_names_the_card(tmp_path: Path) -> None:
    collection = sample_collection()
    bad = card("arrow-card", (Text("箭头"),), (DisplayMath(r"a \xrightarrow{f} b", span(15)),), line=14,
               deck="深度学习面试::输出层", section="箭头")
    cards = with_cards(*collection.cards, bad)
    parts = pdf.sheet_source(cards, {}, SheetConfig(), "T", "d").parts
    holders = [i for i, part in enumerate(parts)
               if any(c.slug == "arrow-card" for _, c in part.document.line_cards)]
    assert holders and holders[0] > 0  # the failing card is in a later part: its lines are counted from there
    with pytest.raises(BuildError) as info:
        pdf.write_pdf(cards, {}, SheetConfig(), "T", tmp_path / "x.pdf", "d")
    message = str(info.value)
    assert message.startswith("content/activations.md:14: ") and "arrow-card" in message
    assert not (tmp_path / "x.pdf").exists()


def test_parts_typeset_side_by_side_name_every_failing_card(tmp_path: Path) -> None:
    """Pending parts typeset in parallel children; a Typst error in each of two parts is reported for
    both cards, in part order, and no PDF is written."""
    from dldeck.model import Verified
    from dldeck.pipeline.executor import Executor
    from dldeck.pipeline.outcome import Work
    from dldeck.pipeline.sheetpdf import PartStore, prepare_sheet_pdf, write_sheet_pdf

    bad = [card(slug, (Text("箭头"),), (DisplayMath(r"a \xrightarrow{f} b", span(line + 1)),), line=line,
                deck=deck, section=slug)
           for slug, line, deck in (("arrow-one", 14, "深度学习面试::输出层"),
                                    ("arrow-two", 30, "深度学习面试::损失"))]
    cards = with_cards(*sample_collection().cards, *bad)
    work = Work()
    parts = PartStore(tmp_path, work)
    job = prepare_sheet_pdf(parts, cards, {}, SheetConfig(), "T", "d", Verified())
    holders = {c.slug: i for i, (_, part, _) in enumerate(job.parts) for _, c in part.document.line_cards}
    assert holders["arrow-one"] != holders["arrow-two"]
    from dldeck.emit import typeset

    # as in a build, inside a standing-by block: the join's child started ahead is dismissed at its end
    with typeset.standing_by(), pytest.raises(BuildError) as info:
        write_sheet_pdf(Executor(tmp_path, "typeset"), parts, job, tmp_path, work)
    assert typeset._waiting == {}  # nothing left for a later test in this process to find
    named = [(d.line, d.message.split("card ")[-1][:9]) for d in info.value.diagnostics]
    assert [line for line, _ in named] == sorted(line for line, _ in named) == [14, 30]
    assert not (tmp_path / job.name).exists()


def test_a_small_sheet_is_one_document(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdf, "PART_CARDS", 120)
    sheet = pdf.sheet_source(sample_collection(), {}, SheetConfig(), "T", "2025-03-04")
    assert sheet.parts == () and sheet.whole is not None and "#outline" in sheet.whole.source


def test_a_typst_child_past_its_time_limit_is_stopped_and_the_build_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dldeck.emit.typeset as typeset

    monkeypatch.setattr(typeset, "TYPESET_SECONDS", 0.01)  # no Typst child starts and typesets this fast
    with pytest.raises(BuildError) as info:
        pdf.write_pdf(sample_collection(), {}, SheetConfig(), "T", tmp_path / "x.pdf", "d")
    assert "typesetting took longer than 0.01 s and was stopped" in str(info.value)
    assert not (tmp_path / "x.pdf").exists()


def test_a_part_page_that_is_missing_fails_the_join_with_a_reason(tmp_path: Path) -> None:
    """The join lays part pages under its own pages in the Typst child: asking for a page a part does
    not have is a build error that says so, not a crash or a sheet with a blank page."""
    part = pdf.sheet_source(sample_collection(), {}, SheetConfig(), "T", "d").parts[0]
    done = pdf.typeset_part(part)
    skeleton = '#set page(paper: "a4", flipped: true)\n#page[]\n'
    document = pdf.TypstDocument(skeleton, {"part-000.pdf": done.pdf}, [], {}, [],
                                 (("part-000.pdf", done.pages + 1),))
    with pytest.raises(BuildError) as info:
        pdf.typeset_document(document)
    why = f"cannot lay the parts' pages under the sheet: part-000.pdf has no page {done.pages + 1}"
    assert why in str(info.value)


def test_the_same_join_gives_the_same_bytes_in_one_process(tmp_path: Path) -> None:
    """pikepdf's own underlay names its resource at random; the join names it itself."""
    from dldeck.emit.underlay import lay_under

    part = pdf.sheet_source(sample_collection(), {}, SheetConfig(), "T", "d").parts[0]
    (tmp_path / "p.pdf").write_bytes(pdf.typeset_part(part).pdf)
    skeleton = pdf.compile_sheet('#set page(paper: "a4", flipped: true)\n#page[1]\n#page[2]\n', {}, [])
    files = {"p.pdf": tmp_path / "p.pdf"}
    first = lay_under(skeleton, files, [("p.pdf", 1)])
    assert first == lay_under(skeleton, files, [("p.pdf", 1)])
    pages = [squeeze(page.extract_text()) for page in PdfReader(io.BytesIO(first)).pages]
    assert pages[0] == "1"  # the part goes under the last page only, drawn before the page's own text
    assert pages[1].startswith("激活函数") and "Sigmoid的导数最大是多少" in pages[1]
    assert pages[1].endswith("2")


def test_an_edit_that_changes_the_outline_typesets_the_skeleton_again(tmp_path: Path) -> None:
    """The skeleton holds the outline: renaming a section re-typesets it, and the sheet still equals a
    cold build's, byte for byte."""
    warm_content, warm_build = make_project(tmp_path / "warm")
    build(warm_content, warm_build)
    path = warm_content / "b.md"
    path.write_text(path.read_text(encoding="utf-8").replace("# 第二节", "# 第二节（改）"), encoding="utf-8")
    warm = build(warm_content, warm_build)
    assert warm.work.typeset_parts == ["cheatsheet.pdf: 甲组 › 第二节（改）",
                                       "cheatsheet.pdf: the joining skeleton"]
    cold_content, cold_build = make_project(tmp_path / "cold")
    (cold_content / "b.md").write_bytes(path.read_bytes())
    build(cold_content, cold_build)
    assert (warm_build / "cheatsheet.pdf").read_bytes() == (cold_build / "cheatsheet.pdf").read_bytes()
    outline = squeeze(PdfReader(warm_build / "cheatsheet.pdf").pages[0].extract_text())
    assert re.search(r"第二节（改）\.*3", outline)


def test_a_typst_child_standing_by_takes_the_next_job_and_an_unused_one_exits(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Children started ahead of their job (typeset.standing_by) do the job of their kind, one each;
    one that got no job is dismissed when the block ends: it exits on its own, nothing is left running."""
    import dldeck.emit.typeset as typeset

    started: list[tuple[str, object]] = []
    start = typeset._start
    monkeypatch.setattr(typeset, "_start",
                        lambda kind, fonts=(): started.append((kind, child := start(kind, fonts))) or child)
    part = pdf.sheet_source(sample_collection(), {}, SheetConfig(), "T", "d").parts[0]
    with typeset.standing_by(typeset.COMPILE, typeset.UNDER):
        assert [kind for kind, _ in started] == [typeset.COMPILE, typeset.UNDER]
        done = pdf.typeset_part(part)  # the compile child standing by typesets it
        assert len(started) == 2
        assert set(typeset._waiting) == {typeset.UNDER}
        pdf.typeset_part(part)  # no child stands by for a second compile: a new one is started
        assert [kind for kind, _ in started] == [typeset.COMPILE, typeset.UNDER, typeset.COMPILE]
    assert typeset._waiting == {}
    assert [child.returncode for _, child in started] == [0, 0, 0]  # the unused one exited by itself
    assert PdfReader(io.BytesIO(done.pdf)).pages


def test_a_typst_child_standing_by_loads_the_fonts_it_is_given_and_typesets_the_same(
        tmp_path: Path) -> None:
    """A compile child started ahead loads the font folders it is given while it waits; a part
    typeset with them is byte-identical to one typeset without, and a job that names other folders
    uses its own (here the only ones that hold the sheet's font)."""
    import dldeck.emit.typeset as typeset
    from dldeck.mathengines.engines import typst_font_paths

    part = pdf.sheet_source(sample_collection(), {}, SheetConfig(), "T", "d").parts[0]
    plain = pdf.typeset_part(part)
    with typeset.standing_by(typeset.COMPILE, fonts=list(typst_font_paths())):
        assert typeset._waiting[typeset.COMPILE].args[4:] == list(typst_font_paths())
        preloaded = pdf.typeset_part(part)
    empty = tmp_path / "no-fonts"
    empty.mkdir()
    with typeset.standing_by(typeset.COMPILE, fonts=[str(empty)]):
        elsewhere = pdf.typeset_part(part)
    assert preloaded == plain and elsewhere == plain


def test_a_build_leaves_no_typst_child_standing_by(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dldeck.emit.typeset as typeset

    started: list[object] = []
    start = typeset._start
    monkeypatch.setattr(typeset, "_start",
                        lambda kind, fonts=(): started.append(child := start(kind, fonts)) or child)
    content, build_dir = make_project(tmp_path)
    pipeline.build(content, build_dir, only=("pdf",), timeout=60)
    assert len(started) >= 2 and typeset._waiting == {}
    assert all(child.returncode is not None for child in started)


def test_the_join_reads_the_parts_where_the_cache_keeps_them(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The join's child is given the parts' files in build/cache/typeset-parts: none is copied into
    its folder (in the build's typesetting thread that cost 0.1-0.15 s at 5,000 cards)."""
    import dldeck.emit.typeset as typeset

    content, build_dir = make_project(tmp_path)
    given: list[dict[str, Path]] = []
    lay = typeset.lay_pages_under

    def spy(document: Path, files: dict[str, Path], out: Path, underlays: list[tuple[str, int]]) -> None:
        given.append(dict(files))
        assert sorted(p.name for p in document.parent.iterdir()) == ["skeleton.pdf"]
        lay(document, files, out, underlays)

    monkeypatch.setattr(pdf, "lay_pages_under", spy)
    build(content, build_dir)
    folder = build_dir / "cache" / "typeset-parts"
    assert len(given) == 1 and len(given[0]) == 3
    assert all(path.parent == folder and path.is_file() for path in given[0].values())
    edit = content / "b.md"
    edit.write_text(edit.read_text(encoding="utf-8").replace("第一段文字", "第一段话"), encoding="utf-8")
    build(content, build_dir)
    assert len(given) == 2 and all(path.parent == folder for path in given[1].values())


def test_the_joined_sheet_key_takes_the_parts_hashes_from_the_cache(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The parts' cache checks each part's PDF against its hash; the joined sheet's key uses those
    hashes instead of hashing every part again (0.15 s of a 5,000-card edit), and its key is the one
    hashing would give."""
    import hashlib

    content, build_dir = make_project(tmp_path)
    joined: list[pdf.TypstDocument] = []
    join = pdf.join_source

    def spy(sheet: pdf.Sheet, typeset: list[pdf.TypesetPart]) -> pdf.TypstDocument:
        document = join(sheet, typeset)
        joined.append(document)
        return document

    monkeypatch.setattr(pdf, "join_source", spy)
    build(content, build_dir)
    edit = content / "b.md"
    edit.write_text(edit.read_text(encoding="utf-8").replace("第一段文字", "第一段话"), encoding="utf-8")
    build(content, build_dir)
    for document in joined:
        assert document.on_disk and document.on_disk.keys() == document.copies.keys()
        for name, data in document.copies.items():
            assert document.on_disk[name][1] == hashlib.sha256(data).hexdigest()
    document = joined[-1]
    inputs = pdf.document_inputs(document)
    planted = {name: (path, "0" * 64) for name, (path, _) in document.on_disk.items()}
    assert pdf.document_inputs(dataclasses.replace(document, on_disk=planted))["copies"] == {
        name: "0" * 64 for name in planted}
    assert pdf.document_inputs(dataclasses.replace(document, on_disk={})) == inputs
