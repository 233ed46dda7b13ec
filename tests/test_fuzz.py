"""Hostile Markdown, generated: the reader and the whole build answer with `path:line:` diagnostics,
never a traceback; they read nothing outside content/, write nothing outside build/ except the
manifest, and stay within time and memory bounds.

Examples come from seeded generators (`derandomize=True`, no example database), so CI runs the
same inputs every time; the file takes well under a minute on two cores.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import textwrap
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dldeck
from dldeck.errors import BuildError, Diagnostic
from dldeck.source import read_collection
from dldeck.source.reader import MAX_FILE_BYTES

Files = dict[str, "str | bytes | None"]  # None: a folder with that name

# ------------------------------------------------------------------ generators

# Characters that make Markdown, math, YAML and terminals misbehave. Runs that open a construct
# spanning later fragments (``` ~~~ $$ :::) are broken up, so a fragment marked bad stays visible.
ALPHABET = list("ab 字词。*_[](){}#$\\`<>!|:-=+~&;'\"\n\t\r\x00\x01\x07\x1b\x7f\u200b\u2028\ufeff\U0001f4af")
SPAN_OPENERS = re.compile(r"`{3,}|~{3,}|\${2,}|:{3,}")

noise = st.text(alphabet=st.sampled_from(ALPHABET), max_size=120).map(lambda t: SPAN_OPENERS.sub("x", t))

GOOD_PIECES = [
    "普通的一段话，含 $x^2$ 与 **加粗**、*强调*、`code` 和 [链接](https://example.org)。",
    "价格是 \\$5，不是公式。",
    "多行\n段落\n的文字 and English\nwords.",
    "$$\\sigma(x) = \\frac{1}{1+e^{-x}}$$",
    "- 一\n- 二\n  - 三",
    "> 引用",
    "| a | b |\n|---|---|\n| $x$ | 2 |",
    "```check\nsigma(x) := 1/(1 + exp(-x))\ndiff(sigma(x), x) == sigma(x)*(1 - sigma(x))\n```",
    "```figure\nplot: [x**2]\nx: [-2, 2]\n```",
    "```python\nprint('shown as code, never run')\n```",
    "填空 {{c1::答案::提示}}。",
    "![图](pic.png)",
    "::: extra\n更多 *文字*。\n:::",
    "::: sources\n- Goodfellow et al., 2016.\n:::",
]

BAD_PIECES = [
    "A <b>bold</b> word.",
    "<div>\nblock\n</div>",
    "<!-- a comment -->",
    "Costs $5.",
    "![<i>alt</i>](pic.png)",
    "| a | b |\n|---|---|\n| <b>x</b> | 2 |",
    "- item\n\n  ```check\n  1 == 2\n  ```",
    "> ```figure\n> plot: [x]\n> ```",
    "### 小标题",
    "::: extra\n::: sources\nx\n:::\n:::",
    "![x](missing-file.png)",
    "![x](../../no/such/place.png)",
    "![x](/nonexistent-dldeck-fuzz/x.png)",
    "![x](file:///etc/passwd)",
    "![x](http://example.org/x.png)",
    "```figure\nplot: &p [x]\nlabels: *p\n```",
]

BAD_HEADINGS = ["## 没有 id", "## Q {#Bad_Slug}", "## Q <i>x</i> {#{slug}}", "## Q {#{slug} colour=red}",
                "## {#{slug}}"]
GOOD_HEADINGS = ["## 问题 {slug}？ {{#{slug}}}",
                 "## What is {slug}? {{#{slug} covers=\"{slug}\" tags=\"t\"}}"]


@st.composite
def deep_piece(draw: st.DrawFn) -> str:
    depth = draw(st.integers(25, 400))
    return draw(st.sampled_from([
        ">" * depth + " deep",
        "".join("  " * level + "- x\n" for level in range(depth // 4 + 11)),
        "*" * depth * 2 + "x" + "*" * depth * 2,
        "[" * depth + "x" + "](u)" * depth,
    ]))


@st.composite
def long_line(draw: st.DrawFn) -> str:
    unit = draw(st.sampled_from(["词", "word ", "$x$ ", "*a* ", "{{c1::", "[", "\\$"]))
    return unit * draw(st.integers(1, 20_000))


good_piece = st.one_of(st.sampled_from(GOOD_PIECES), noise).map(lambda p: (p, False))
piece = st.one_of(
    good_piece,
    st.sampled_from(BAD_PIECES).map(lambda p: (p, True)),
    deep_piece().map(lambda p: (p, True)),
    long_line().map(lambda p: (p, False)),
)

FRONT_MATTER = [
    ("", False),
    ("---\ndeck: 测试::模糊\ntags: [fuzz]\n---\n", False),
    ("---\ndeck: &d " + "x" * 20_000 + "\ntags: [" + ", ".join(["*d"] * 5_000) + "]\n---\n", True),
    ("---\ntags: " + "[" * 3_000 + "\n---\n", True),
    ("---\n- a list\n---\n", True),
    ("---\ndeck: never closed\n\n", True),
    ("---\ndeck: [x\n---\n", True),
]
TAILS = [("", False), ("```check\n1 == 1\n", True), ("::: extra\nnever closed\n", True), ("~~~~\n", True)]


@st.composite
def markdown_file(draw: st.DrawFn, number: int, hostile: bool) -> tuple[str, bool]:
    front, bad = draw(st.sampled_from(FRONT_MATTER if hostile else FRONT_MATTER[:2]))
    parts = [draw(st.sampled_from(["", "\ufeff"])) + front]
    for index in range(draw(st.integers(0 if hostile else 1, 3))):
        slug = f"f{number}-c{index}"
        if draw(st.booleans()):
            parts.append("# 节 " + draw(noise).replace("\n", " "))
        heading_bad = hostile and draw(st.integers(0, 4)) == 0
        heading = draw(st.sampled_from(BAD_HEADINGS if heading_bad else GOOD_HEADINGS))
        parts.append(heading.replace("{slug}", slug).replace("{{", "{").replace("}}", "}"))
        bad = bad or heading_bad
        answer = draw(st.lists(piece if hostile else good_piece, min_size=0 if hostile else 1, max_size=4))
        parts.extend(text for text, _ in answer)
        bad = bad or any(is_bad for _, is_bad in answer)
    tail, tail_bad = draw(st.sampled_from(TAILS if hostile else TAILS[:1]))
    parts.append(tail)
    return "\n\n".join(parts), bad or tail_bad


@st.composite
def content_trees(draw: st.DrawFn, hostile: bool = True) -> tuple[Files, bool]:
    """A content folder's files and whether any is surely wrong; not `hostile`: mostly well-formed
    cards with odd text, so that builds get past reading to claims, figures and the three outputs."""
    names = draw(st.lists(st.sampled_from(["a.md", "sub/b.md", "01-深度/c.md", "_skip.md"]),
                          min_size=1, max_size=3, unique=True))
    files: Files = {"pic.png": b"\x89PNG\r\n\x1a\n"}
    bad = False
    for number, name in enumerate(names):
        text, file_bad = draw(markdown_file(number, hostile))
        files[name] = text
        bad = bad or (file_bad and not name.startswith("_"))
    odd = draw(st.sampled_from(["", "folder", "not-utf8", "too-big"] if hostile else [""]))
    if odd == "folder":
        files["d.md"] = None
    elif odd == "not-utf8":
        files["e.md"] = b"## Q {#e}\n\n\xff\xfe\xfd\n"
    elif odd == "too-big":
        files["f.md"] = "## Q {#f}\n\n" + "x" * 1_000_001
    return files, bad or bool(odd)


def write_tree(content: Path, files: Files) -> None:
    for name, data in files.items():
        path = content / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if data is None:
            path.mkdir()
        elif isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8", newline="")


def fresh_project(root: Path, files: Files) -> Path:
    """A project folder with its content, beside a file the build must never read."""
    import shutil

    shutil.rmtree(root, ignore_errors=True)
    project = root / "project"
    (project / "content").mkdir(parents=True)
    (root / "secret.md").write_text("## secret {#secret}\n\nnot yours\n", encoding="utf-8")
    write_tree(project / "content", files)
    return project


# ------------------------------------------------------------------ what every answer must look like

DIAGNOSTIC = re.compile(r"^(?P<path>[^\n]+?):(?P<line>\d+): \S")


def assert_well_formed(diagnostics: list[Diagnostic], content: Path) -> None:
    for diagnostic in diagnostics:
        assert DIAGNOSTIC.match(str(diagnostic)), str(diagnostic)
        if diagnostic.path == str(content):
            assert diagnostic.line == 0  # the folder itself: no cards at all
        else:
            assert diagnostic.path.startswith("content/") and diagnostic.line >= 1, str(diagnostic)


# ------------------------------------------------------------------ recording what is opened

_opened: list[str] | None = None


def _audit(event: str, args: tuple) -> None:
    if _opened is not None and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        _opened.append(os.path.abspath(os.fsdecode(args[0])))


sys.addaudithook(_audit)  # cannot be removed; costs one comparison per event while not recording


@contextmanager
def recording_opens() -> Iterator[list[str]]:
    global _opened
    _opened = []
    try:
        yield _opened
    finally:
        _opened = None


CODE_DIRS = tuple({str(Path(p).resolve())
                   for p in (sys.prefix, sys.base_prefix, Path(dldeck.__file__).parent)})


def outside(paths: list[str], allowed: tuple[Path, ...]) -> list[str]:
    """Opened paths that are neither under `allowed` nor Python code being imported."""
    roots = tuple(str(p.resolve()) for p in allowed) + CODE_DIRS
    return [p for p in paths if not any(str(Path(p).resolve()).startswith(r) for r in roots)]


# ------------------------------------------------------------------ the reader, many times

SLOW_IS_FINE = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]

PEAK_BYTES = 64 * 2**20
SECONDS = 20.0  # under tracemalloc, on a loaded machine; real files take milliseconds


@settings(max_examples=80, deadline=None, derandomize=True, database=None, suppress_health_check=SLOW_IS_FINE)
@given(content_trees())
def test_reader_answers_hostile_content_with_diagnostics(tmp_path_factory, tree: tuple[Files, bool]) -> None:
    files, surely_bad = tree
    project = fresh_project(tmp_path_factory.mktemp("fuzz"), files)
    content = project / "content"
    started = time.process_time()  # CPU time: other work on a shared machine does not count
    tracemalloc.start()
    try:
        with recording_opens() as opened:
            try:
                collection = read_collection(content)
                diagnostics: list[Diagnostic] = []
            except BuildError as error:  # anything else is a traceback: hypothesis reports it
                collection, diagnostics = None, error.diagnostics
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    seconds = time.process_time() - started
    assert seconds < SECONDS, f"reading took {seconds:.1f} s"
    assert peak < PEAK_BYTES, f"reading took {peak / 2**20:.0f} MB"
    # files the reader opens: regular, within the size limit, not in a `_` or `.` folder
    readable = [p for p in content.rglob("*.md")
                if p.is_file() and p.stat().st_size <= MAX_FILE_BYTES
                and not any(part.startswith(("_", ".")) for part in p.relative_to(content).parts)]
    assert bool(readable) <= any(p.endswith(".md") for p in opened), "the open recording saw nothing"
    assert outside(opened, (content,)) == []
    assert_well_formed(diagnostics, content)
    if surely_bad:
        assert diagnostics, "bad content was accepted"
    if collection is not None:
        assert collection.cards


# ------------------------------------------------------------------ the whole build, a few times

OPEN_LOG_HOOK = textwrap.dedent("""\
    import os, sys
    _fd = os.open(os.environ["DLDECK_OPEN_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    def _hook(event, args):
        if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            line = os.path.abspath(os.fsdecode(args[0])).replace("\\n", " ") + "\\n"
            os.write(_fd, line.encode("utf-8", "surrogateescape"))
    sys.addaudithook(_hook)
""")


def snapshot(root: Path, skip: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_symlink() and skip not in p.parents}


def build_outside(project: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    """`dldeck build` in its own process, every Python-level open of it and its children logged."""
    hook_dir = tmp / "hook"
    hook_dir.mkdir(exist_ok=True)
    (hook_dir / "sitecustomize.py").write_text(OPEN_LOG_HOOK, encoding="utf-8")
    log = tmp / "opened.log"
    log.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(hook_dir), "DLDECK_OPEN_LOG": str(log),
           "SOURCE_DATE_EPOCH": "1700000000"}
    return subprocess.run([sys.executable, "-m", "dldeck.cli", "build", "--timeout", "2"], cwd=project,
                          env=env, capture_output=True, text=True, timeout=180, check=False)




def check_build(tmp: Path, files: Files, surely_bad: bool) -> int:
    """Build in a separate process; every promise about its answer, its reads and its writes."""
    project = fresh_project(tmp / "root", files)
    before = snapshot(tmp / "root", project / "build")
    result = build_outside(project, tmp)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode in (0, 1), result.stderr
    if surely_bad:
        assert result.returncode == 1
    if result.returncode == 1:
        *lines, summary = result.stderr.strip().splitlines()
        assert lines and re.fullmatch(r"\d+ errors?; nothing was written", summary), result.stderr
        for line in lines:
            match = DIAGNOSTIC.match(line)
            assert match and (match["path"].startswith("content/") or match["path"] == "content"), line
    else:
        assert all((project / "build" / name).is_file()
                   for name in ("dldeck.apkg", "cheatsheet.html", "cheatsheet.pdf")), result.stdout
    # nothing written outside build/ but the manifest; nothing read beside content/, build/, config
    after = snapshot(tmp / "root", project / "build")
    changed = {name for name in set(before) | set(after) if before.get(name) != after.get(name)}
    assert changed <= {"project/content/.dldeck-manifest.json"}, changed
    opened = (tmp / "opened.log").read_text(encoding="utf-8", errors="replace").splitlines()
    assert any(p.endswith(".md") for p in opened), "the open log recorded nothing"
    root = str((tmp / "root").resolve())
    strays = [p for p in outside([p for p in opened if p.startswith(root)],
                                 (project / "content", project / "build"))
              if Path(p).name not in ("pyproject.toml", "dldeck.toml") or Path(p).parent != project]
    assert strays == []
    # the whole process tree: time is bounded by the subprocess timeout, memory here (KiB: 2 GB)
    assert resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss < 2 * 2**20
    return result.returncode


@settings(max_examples=8, deadline=None, derandomize=True, database=None, suppress_health_check=SLOW_IS_FINE)
@given(st.one_of(content_trees(), content_trees(hostile=False), content_trees(hostile=False)))
def test_build_answers_hostile_content_with_diagnostics(tmp_path_factory, tree: tuple[Files, bool]) -> None:
    files, surely_bad = tree
    check_build(tmp_path_factory.mktemp("fuzzbuild"), files, surely_bad)


def test_build_of_odd_but_valid_text_writes_all_outputs(tmp_path: Path) -> None:
    # (NUL becomes U+FFFD and emoji have no glyph in the PDF font: those are diagnostics, not here)
    odd = "控制字符 \x01\x07\x1b\x7f、零宽 \u200b、BOM \ufeff、\r\n 与 \\$5。"
    files: Files = {"a.md": "\ufeff" + "## 奇怪的文字 {#odd}\n\n" + odd + "\n\n" + "词" * 20_000 + "\n",
                    "pic.png": b"\x89PNG\r\n\x1a\n"}
    assert check_build(tmp_path, files, surely_bad=False) == 0
