"""Content from strangers, read: bounded cost, nothing silently ignored, every problem at its own line."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfReader

from dldeck import pipeline
from dldeck.errors import BuildError
from dldeck.figures.yamlspec import YamlProblem, load_entries
from dldeck.model import CheckBlock, Paragraph, Text
from dldeck.source import read_collection, reader
from dldeck.source.reader import MAX_FILE_BYTES

CARD = "## Q {#a}\n\n"


def content_with(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    content = tmp_path / "content"
    content.mkdir(exist_ok=True)
    for name, text in files.items():
        path = content / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
    return content


def errors(content: Path) -> list[str]:
    with pytest.raises(BuildError) as caught:
        read_collection(content)
    return [str(d) for d in caught.value.diagnostics]


def errors_of(tmp_path: Path, text: str) -> list[str]:
    return errors(content_with(tmp_path, {"a.md": text}))


def has(messages: list[str], prefix: str) -> bool:
    return any(m.startswith(prefix) for m in messages)


# ------------------------------------------------------------------ cost


def test_long_paragraph_reads_in_linear_time(tmp_path: Path) -> None:
    # 60,000 lines in one paragraph: pairwise work (each line break looking at the rest) took minutes
    lines = "\n".join(["word 字"] * 60_000)
    content = content_with(tmp_path, {"a.md": CARD + lines + "\n"})
    started = time.process_time()  # CPU time: other work on a shared machine does not count
    card = read_collection(content).cards[0]
    assert time.process_time() - started < 15  # ~1 s here; pairwise it was ~180 s
    paragraph = card.answer[0]
    assert isinstance(paragraph, Paragraph) and paragraph.children == (Text(" ".join(["word 字"] * 60_000)),)


def test_many_unclosed_clozes_read_in_linear_time(tmp_path: Path) -> None:
    # each `{{c1::` used to search the rest of the paragraph for its `}}`
    content = content_with(tmp_path, {"a.md": CARD + "{{c1::" * 100_000 + "\n"})
    started = time.process_time()
    read_collection(content)
    assert time.process_time() - started < 15  # ~3 s here; searching from each one it was ~60 s


def test_slow_file_stops_at_the_read_time_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "READ_SECONDS", 0.2)
    content = content_with(tmp_path, {"a.md": CARD + "[" * 900_000 + "\n", "b.md": "## R {#b}\n\nB.\n"})
    started = time.perf_counter()
    assert errors(content) == ["content/a.md:1: reading took longer than 0.2 s: split the file or simplify "
                               "its markup"]
    assert time.perf_counter() - started < 15  # wall time: the limit stopped it, not the end of the file


def test_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    big = CARD + "x" * MAX_FILE_BYTES + "\n"
    messages = errors(content_with(tmp_path, {"big.md": big}))
    assert messages == [f"content/big.md:1: cannot read this file: it is {len(big.encode()):,} bytes, "
                        f"more than the limit of {MAX_FILE_BYTES:,}"]


def test_front_matter_aliases_are_refused(tmp_path: Path) -> None:
    aliases = ", ".join(["*s"] * 5_000)
    bomb = "---\ndeck: &s " + "x" * 20_000 + "\ntags: [" + aliases + "]\n---\n" + CARD + "A.\n"
    messages = errors_of(tmp_path, bomb)
    assert messages == ["content/a.md:2: front matter is not valid YAML: YAML anchors and aliases "
                        "(&name, *name) are not allowed: write the value out"]


def test_front_matter_nesting_is_bounded(tmp_path: Path) -> None:
    messages = errors_of(tmp_path, "---\ntags: " + "[" * 5_000 + "\n---\n" + CARD + "A.\n")
    assert has(messages, "content/a.md:2: front matter is not valid YAML: YAML nested deeper than 50 levels")


@pytest.mark.parametrize("spec", ["a: &x [1, 2]\nplot: *x\n", "plot: [x]\nlabels: *y\n"])
def test_figure_spec_aliases_are_refused_with_their_line(spec: str) -> None:
    with pytest.raises(YamlProblem) as caught:
        load_entries(spec)
    assert "anchors and aliases" in caught.value.message
    assert caught.value.line == (0 if spec.startswith("a:") else 1)


def test_figure_spec_aliases_fail_the_read_at_the_line(tmp_path: Path) -> None:
    text = CARD + "A.\n\n```figure\nplot: [x]\nlabels: &l ['a']\n```\n"
    content = content_with(tmp_path, {"a.md": text})
    with pytest.raises(BuildError) as caught:
        pipeline.build(content, tmp_path / "build", only=("html",))
    assert [str(d) for d in caught.value.diagnostics] == [
        "content/a.md:7: YAML: YAML anchors and aliases (&name, *name) are not allowed: write the value out"]


# ------------------------------------------------------------------ nothing silently ignored


@pytest.mark.parametrize(("text", "line"), [
    ("- item\n\n  ```check\n  1 == 2\n  ```\n", 7),
    ("> quote\n>\n> ```check\n> 1 == 2\n> ```\n", 7),
    ("1. item\n   ```figure\n   plot: [x]\n   ```\n", 6),
])
def test_claims_and_figures_below_lists_or_quotes_are_errors(tmp_path: Path, text: str, line: int) -> None:
    messages = errors_of(tmp_path, CARD + "A.\n\n" + text)
    assert has(messages, f"content/a.md:{line}: ```"), messages
    assert "move it to the card's top level" in messages[0]


def test_check_inside_extra_is_still_read(tmp_path: Path) -> None:
    content = content_with(tmp_path, {"a.md": CARD + "A.\n\n::: extra\n```check\n1 == 1\n```\n:::\n"})
    assert [type(b) for b in read_collection(content).cards[0].extra] == [CheckBlock]


@pytest.mark.parametrize(("text", "line"), [
    (">" * 30 + " deep\n", 5),
    ("".join("  " * depth + "- x\n" for depth in range(40)), 14),
])
def test_nesting_beyond_the_limit_is_an_error_not_truncation(tmp_path: Path, text: str, line: int) -> None:
    messages = errors_of(tmp_path, CARD + "A.\n\n" + text)
    assert has(messages, f"content/a.md:{line}: lists and quotes nested deeper than 20 levels"), messages


def test_empty_content_folder_is_an_error(tmp_path: Path) -> None:
    content = content_with(tmp_path, {"notes.txt": "not markdown"})
    assert errors(content) == [f"{content}:0: no cards found: no *.md file here has a "
                               "'## Question {#slug}' heading"]


def test_empty_content_folder_does_not_replace_previous_outputs(tmp_path: Path) -> None:
    content = content_with(tmp_path, {})
    build = tmp_path / "build"
    build.mkdir()
    (build / "dldeck.apkg").write_bytes(b"previous")
    with pytest.raises(BuildError):
        pipeline.build(content, build, only=("anki",))
    assert (build / "dldeck.apkg").read_bytes() == b"previous"


# ------------------------------------------------------------------ raw HTML everywhere


@pytest.mark.parametrize(("text", "line"), [
    ("# Section <b>x</b>\n\n" + CARD + "A.\n", 1),
    ("## Q <b>x</b> {#a}\n\nA.\n", 1),
    (CARD + "![<b>alt</b>](p.png)\n", 3),
    (CARD + "| a | b |\n|---|---|\n| 1 | 2 |\n| <b>x</b> | 2 |\n", 6),
    (CARD + "A [<b>link</b>](https://example.org).\n", 3),
    ("---\nsources: ['<b>x</b>']\n---\n" + CARD + "A.\n", 2),
])
def test_raw_html_is_refused_wherever_it_appears(tmp_path: Path, text: str, line: int) -> None:
    content = content_with(tmp_path, {"a.md": text, "p.png": b"\x89PNG"})
    messages = errors(content)
    assert has(messages, f"content/a.md:{line}: raw HTML is not allowed"), messages


# ------------------------------------------------------------------ messages, not tracebacks


def test_deep_emphasis_is_a_message(tmp_path: Path) -> None:
    messages = errors_of(tmp_path, CARD + "*" * 300 + "x" + "*" * 300 + "\n")
    assert messages == ["content/a.md:3: emphasis, links or clozes nested deeper than 20 levels"]


def test_deep_emphasis_through_the_command_is_a_message(tmp_path: Path) -> None:
    content_with(tmp_path, {"a.md": CARD + "*" * 3000 + "x" + "*" * 3000 + "\n"})
    result = subprocess.run([sys.executable, "-m", "dldeck.cli", "check"], cwd=tmp_path, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "content/a.md:3: emphasis, links or clozes nested deeper than 20 levels" in result.stderr


def test_folder_named_md_and_dangling_link_are_messages(tmp_path: Path) -> None:
    content = content_with(tmp_path, {"a.md": CARD + "A.\n"})
    (content / "x.md").mkdir()
    (content / "y.md").symlink_to(content / "nowhere.md")
    assert errors(content) == [
        "content/x.md:1: cannot read this file: it is a folder, not a regular file",
        "content/y.md:1: cannot read this file: it is a symbolic link to a missing file "
        f"({content / 'nowhere.md'})",
    ]


def test_not_utf8_is_a_message(tmp_path: Path) -> None:
    assert errors(content_with(tmp_path, {"a.md": b"## Q {#a}\n\n\xff\xfe\n"})) == [
        "content/a.md:1: file is not UTF-8 text: invalid start byte"]


# ------------------------------------------------------------------ positions and words


@pytest.mark.parametrize(("text", "line"), [
    (CARD + "one\ntwo\nthree <b> here\n", 5),                   # third line of a paragraph
    (CARD + "one\\\ntwo  \nthree $ here\n", 5),                 # after hard breaks
    (CARD + "- one\n  two <i> x\n", 4),                         # second line of a list item
    (CARD + "| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | $ |\n", 6),  # fourth row of a table
    (CARD + "a $x +\ny$ and\nnext <b>\n", 5),                   # after a formula spanning lines
])
def test_inline_problems_are_reported_at_their_own_line(tmp_path: Path, text: str, line: int) -> None:
    messages = errors_of(tmp_path, text)
    assert has(messages, f"content/a.md:{line}: "), messages
    assert not has(messages, "content/a.md:3: raw HTML") and not has(messages, "content/a.md:3: unbalanced")


@pytest.mark.parametrize(("text", "expected"), [
    (CARD + "A.\n\n```check\n1 == 1\n\n## R {#b}\n\nB.\n",
     "content/a.md:5: fence «```check» opened here is never closed: end it with a line ```"),
    (CARD + "A.\n\n::: extra\nmore\n\n## R {#b}\n\nB.\n",
     "content/a.md:5: «::: extra» opened here is never closed: end it with a line :::"),
    ("---\ndeck: x\n\n" + CARD + "A.\n",
     "content/a.md:1: front matter opened here is never closed: end it with a line '---'"),
])
def test_unclosed_blocks_are_named(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in errors_of(tmp_path, text)


def test_closed_fences_in_lists_and_quotes_are_fine(tmp_path: Path) -> None:
    # U+2028, form feed and \x1c split lines for str.splitlines but not for markdown-it
    text = CARD + "A\u2028B\x0cC\x1cD.\n\n- item\n\n  ```python\n  x = 1\n  ```\n\n> ~~~~\n> y\n> ~~~~~\n"
    assert len(read_collection(content_with(tmp_path, {"a.md": text})).cards) == 1


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    content = content_with(tmp_path, {"a.md": "\ufeff---\ndeck: 测试\n---\n" + CARD + "A.\n",
                                      "b.md": "\ufeff## R {#b}\n\nB.\n"})
    cards = read_collection(content).cards
    assert [(c.slug, c.deck, c.span.line) for c in cards] == [("a", "测试", 4), ("b", "b", 1)]


def test_escaped_dollar_is_a_literal_dollar(tmp_path: Path) -> None:
    content = content_with(tmp_path, {"a.md": CARD + "costs \\$5 and $x$ and \\$6.\n"})
    paragraph = read_collection(content).cards[0].answer[0]
    assert paragraph.children[0] == Text("costs $5 and ") and paragraph.children[2] == Text(" and $6.")


def test_escaped_dollar_prints_as_dollar_in_all_three_outputs(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    content = content_with(tmp_path, {"a.md": CARD + "价格 \\$5 与 \\$6，不是公式。\n"})
    result = pipeline.build(content, tmp_path / "build")
    assert len(result.outputs) == 3
    with zipfile.ZipFile(tmp_path / "build" / "dldeck.apkg") as deck:
        (tmp_path / "col").write_bytes(deck.read("collection.anki2"))
    with sqlite3.connect(tmp_path / "col") as db:
        fields = [row[0] for row in db.execute("select flds from notes")]
    assert len(fields) == 1 and "\\$" not in fields[0] and "价格 $5 与 $6，不是公式。" in fields[0]
    html = (tmp_path / "build" / "cheatsheet.html").read_text(encoding="utf-8")
    assert "价格 $5 与 $6，不是公式。" in html
    pdf = "".join(page.extract_text() for page in PdfReader(tmp_path / "build" / "cheatsheet.pdf").pages)
    assert "$5" in pdf and "$6" in pdf and "\\$" not in pdf


@pytest.mark.parametrize("line", [100, 1234])
def test_diagnostics_on_any_line_print_verbatim(tmp_path: Path, line: int) -> None:
    # rich turns `:100:` into an emoji unless told not to
    text = CARD + "A.\n" + "\n" * (line - 4) + "x <b>\n"
    content_with(tmp_path, {"a.md": text})
    result = subprocess.run([sys.executable, "-m", "dldeck.cli", "check"], cwd=tmp_path, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 1
    assert f"content/a.md:{line}: raw HTML is not allowed (content is text, not markup): «<b>»" \
        in result.stderr.splitlines()


def test_names_from_content_are_not_markup_in_stats(tmp_path: Path) -> None:
    content_with(tmp_path, {"a.md": "---\ndeck: '[red]x[/red] :100:'\n---\n" + CARD + "A.\n"})
    result = subprocess.run([sys.executable, "-m", "dldeck.cli", "stats"], cwd=tmp_path, capture_output=True,
                            text=True, check=False, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert "[red]x[/red] :100:" in result.stdout


def test_control_characters_from_content_are_escaped_in_diagnostics(tmp_path: Path) -> None:
    # a quoted tag or a file name must not send escape sequences to the terminal, nor break the line
    content_with(tmp_path, {"a\x1b[2Jb\n.md": CARD + "costs $5 \x1b[31m\u202e\n"})
    result = subprocess.run([sys.executable, "-m", "dldeck.cli", "check"], cwd=tmp_path, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 1 and "\x1b" not in result.stderr and "\u202e" not in result.stderr
    assert result.stderr.splitlines()[0] == (
        "content/a\\x1b[2Jb\\x0a.md:3: unbalanced math delimiter '$' in «costs $5 \\x1b[31m\\u202e» "
        "(write \\$ for a literal dollar sign)")


def test_new_card_in_an_unwritable_place_is_a_message(tmp_path: Path) -> None:
    (tmp_path / "content").mkdir()
    (tmp_path / "blocker").write_text("a file, not a folder", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "dldeck.cli", "new", "abc", "--file", "blocker/x.md"],
                            cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == "blocker: cannot write the card: File exists"
