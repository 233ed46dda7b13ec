"""Typst typesetting in a short-lived child process, so its memory is returned when the sheet is done.

Typst keeps what it laid out memoised for the life of the process: typesetting a 5,000-card sheet
in the build's own process held well over a gigabyte until the build ended, on top of everything
else the build holds. A fresh `python -m dldeck.emit.typeset` imports nothing but Typst, and pikepdf
for a join (not the build's parsed collection, not a copy-on-write image of it, as a fork would),
typesets one prepared root folder and exits. The parent prepares the root, reads the PDF back and
turns every Typst problem into a card's `path:line` diagnostic (see dldeck.emit.pdf).

Protocol: one JSON job on stdin, to typeset ({"main", "root", "fonts", "out", "query"}) or to lay
pages under a typeset PDF ({"under", "files", "out", "underlays"}: [name, page] pairs, `files` giving
each name's path, see dldeck.emit.underlay); one JSON answer on stdout: {"ok": true},
{"warnings": [problem, ...]}, {"error": problem} or {"failed": why}, a problem being its message,
hints and diagnostic text; with a query, a clean answer also has {"queried": value}.

A child can be started ahead of its job (`standing_by`): it imports its library (Typst or pikepdf),
loads the fonts it is given (a Typst child) and waits on stdin, so a one-card edit's part and join do
not wait for an interpreter to start, import and find fonts. Each child still does one job and
exits; a child no job came to sees stdin close and exits.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dldeck.interpreter import python_env

TYPESET_SECONDS = 300.0  # wall-clock limit of one Typst child (a part or the join); minutes above normal


@dataclass(frozen=True)
class Problem:
    """A Typst error or warning as the child reported it."""

    message: str
    hints: tuple[str, ...] = ()
    diagnostic: str = ""


class TypesetError(Exception):
    """Typst refused the document (`problem`), or the child failed without an answer (`problem` None)."""

    def __init__(self, problem: Problem | None, why: str = "") -> None:
        super().__init__(problem.message if problem else why)
        self.problem = problem
        self.why = why


@dataclass(frozen=True)
class Typeset:
    """What the child reported: Typst's warnings and the value the job's query selected (or None)."""

    warnings: list[Problem]
    queried: Any = None


def typeset(main: Path, root: Path, fonts: list[str], out: Path, query: str | None = None) -> Typeset:
    """Typeset `main` (inside `root`) to the PDF file `out` in a child process; with `query` (a Typst
    selector of one metadata element) also return that element's value, read in the same process, so
    the document is laid out once. TypesetError when Typst reports an error or the child dies."""
    return _run({"main": str(main), "root": str(root), "fonts": fonts, "out": str(out), "query": query})


def lay_pages_under(document: Path, files: Mapping[str, Path], out: Path,
                    underlays: Sequence[tuple[str, int]]) -> None:
    """Lay page `page` of each PDF `files[name]` under the last pages of the PDF `document`, in order,
    into `out`, in a child process (dldeck.emit.underlay): it opens the parts' PDFs where they are.
    TypesetError when the pages cannot be laid or the child dies."""
    _run({"under": str(document), "files": {name: str(path) for name, path in files.items()}, "out": str(out),
          "underlays": [[name, page] for name, page in underlays]})


COMPILE, UNDER = "compile", "under"  # the two kinds of job, each with the library its child imports
_waiting: dict[str, subprocess.Popen] = {}  # kind → a child started ahead, waiting for its job
_waiting_lock = threading.Lock()


@contextmanager
def standing_by(*kinds: str, fonts: Sequence[str] = ()) -> Iterator[None]:
    """Within the block, the next job of each kind goes to a child started now (and to one `stand_by`
    starts in the block); a child no job came to is dismissed when the block ends. `fonts`: the font
    folders a Typst child loads while it waits (a job with other folders loads its own)."""
    for kind in kinds:
        stand_by(kind, fonts)
    try:
        yield
    finally:
        with _waiting_lock:
            idle = list(_waiting.values())
            _waiting.clear()
        for child in idle:
            _dismiss(child)


def stand_by(kind: str, fonts: Sequence[str] = ()) -> None:
    """Start a child for the next job of `kind` (COMPILE or UNDER), unless one is waiting already."""
    with _waiting_lock:
        if kind not in _waiting:
            _waiting[kind] = _start(kind, fonts if kind == COMPILE else ())


def _start(kind: str, fonts: Sequence[str] = ()) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dldeck.emit.typeset", kind, *fonts],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=python_env())


def _dismiss(child: subprocess.Popen) -> None:
    """A child no job came to: stdin closed, it exits; one that does not is killed."""
    try:
        child.communicate(timeout=5.0)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()


def _run(job: dict[str, Any]) -> Typeset:
    """One job through a child (the one standing by for its kind, or a new one); its answer, or
    TypesetError."""
    kind = UNDER if "under" in job else COMPILE
    with _waiting_lock:
        child = _waiting.pop(kind, None)
    if child is None:
        child = _start(kind)
    try:
        stdout, stderr = child.communicate(json.dumps(job).encode("utf-8"), timeout=TYPESET_SECONDS)
    except subprocess.TimeoutExpired:  # the child is killed: a sheet part never takes this long
        child.kill()
        child.communicate()
        why = f"typesetting took longer than {TYPESET_SECONDS:g} s and was stopped"
        raise TypesetError(None, why) from None
    try:
        answer = json.loads(stdout.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        lines = stderr.decode("utf-8", "replace").strip().splitlines()
        detail = lines[-1:] or [f"exit {child.returncode}"]
        raise TypesetError(None, f"the typesetting process failed: {detail[0]}") from None
    if "error" in answer:
        raise TypesetError(_problem(answer["error"]))
    if "failed" in answer:
        raise TypesetError(None, str(answer["failed"]))
    return Typeset([_problem(item) for item in answer.get("warnings", [])], answer.get("queried"))


def _problem(data: dict[str, Any]) -> Problem:
    return Problem(str(data.get("message", "")), tuple(str(h) for h in data.get("hints") or ()),
                   str(data.get("diagnostic", "")))


def _describe(problem: BaseException | Any) -> dict[str, Any]:
    return {"message": str(getattr(problem, "message", "") or problem),
            "hints": [str(h) for h in getattr(problem, "hints", None) or []],
            "diagnostic": str(getattr(problem, "diagnostic", ""))}


def main() -> None:
    """Child entry point: its library imported first (argument COMPILE, then the font folders to
    load, or UNDER), then one job from stdin, one answer to stdout; no job (stdin closed empty), no
    answer."""
    loaded: tuple[list[str], Any] | None = None
    if sys.argv[1:2] == [COMPILE]:
        import typst

        if sys.argv[2:]:  # found while waiting: about 0.05 s of the job's time
            loaded = (sys.argv[2:], typst.Fonts(include_system_fonts=False, font_paths=sys.argv[2:]))
    elif sys.argv[1:] == [UNDER]:
        import dldeck.emit.underlay  # noqa: F401
    data = sys.stdin.buffer.read()
    if not data:
        return
    job = json.loads(data.decode("utf-8"))
    answer = _lay_under(job) if "under" in job else _compile(job, loaded)
    sys.stdout.write(json.dumps(answer))
    sys.stdout.flush()


def _compile(job: dict[str, Any], loaded: tuple[list[str], Any] | None = None) -> dict[str, Any]:
    """`loaded`: font folders and the fonts found in them, used when they are the job's folders."""
    import typst

    fonts = loaded[1] if loaded is not None and loaded[0] == job["fonts"] else job["fonts"]
    try:
        # One compiler for the compile and the query: the query then reads the laid-out document
        # (a separate typst.query laid it out again, about 0.09 s of every part).
        compiler = typst.Compiler(job["main"], root=job["root"], font_paths=fonts, ignore_system_fonts=True)
        pdf, warnings = compiler.compile_with_warnings()
    except typst.TypstError as error:
        return {"error": _describe(error)}
    Path(job["out"]).write_bytes(bytes(pdf))
    if warnings:
        return {"warnings": [_describe(w) for w in warnings]}
    answer: dict[str, Any] = {"ok": True}
    if job.get("query"):
        answer["queried"] = json.loads(compiler.query(job["query"], field="value", one=True))
    return answer


def _lay_under(job: dict[str, Any]) -> dict[str, Any]:
    from dldeck.emit.underlay import UnderlayError, lay_under

    try:
        pdf = lay_under(Path(job["under"]).read_bytes(), {str(k): Path(v) for k, v in job["files"].items()},
                        [(str(name), int(page)) for name, page in job["underlays"]])
    except UnderlayError as error:
        return {"failed": f"cannot lay the parts' pages under the sheet: {error}"}
    Path(job["out"]).write_bytes(pdf)
    return {"ok": True}


if __name__ == "__main__":
    main()
