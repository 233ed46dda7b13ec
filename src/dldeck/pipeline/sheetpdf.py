"""A sheet's PDF through the one Executor, in parts: each part (whole sections, at least
PART_CARDS cards) is typeset alone and cached under the hash of its Typst input, then the parts are
joined into the sheet (dldeck.emit.pdf). An edit re-typesets the one part it touched, then lays
every part's pages under the joining document's skeleton, which is kept like a part and typeset
again only when a page break or heading moved; not the whole sheet in a fresh Typst process (which
forgets everything it laid out before).
Cold and incremental builds go through the same parts and the same join, so their PDFs are
byte-identical.

A typeset part's PDF is kept as a file `build/cache/typeset-parts/<sha256>.pdf`, its page count and
heading positions in the `typeset-parts` cache; a file is trusted only if its bytes still hash to
the name the cache recorded, and files no cached entry names are removed after a build.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dldeck.pipeline.publish as publish
from dldeck import buildcache
from dldeck.atomicfile import write_atomically
from dldeck.contain import Refused, open_regular
from dldeck.errors import BuildError, Diagnostic
from dldeck.model import Collection, Verified
from dldeck.pipeline.executor import Executor
from dldeck.pipeline.outcome import Work

PARTS_DIR = "typeset-parts"
SKELETON = "the joining skeleton"  # its name among the parts typeset afresh (Work.typeset_parts)
FONT_CODE = ("emit/typst_markup.py", "pipeline/sheetpdf.py")  # the code that reads a font's coverage


class PartStore:
    """Typeset parts, and the joining document's skeleton, kept between builds: the cache of their
    layouts and the folder of their PDFs."""

    def __init__(self, build_dir: Path, work: Work) -> None:
        self.executor = Executor(build_dir, PARTS_DIR, code=("emit/typeset.py",), work=work)
        self.folder = build_dir / buildcache.CACHE_DIR_NAME / PARTS_DIR
        self.used: set[str] = set()

    def get(self, key: str) -> Any:
        """The typeset part cached under `key` (a dldeck.emit.pdf.TypesetPart), or None. A part found
        is kept for the next build, its file with it: there is nothing to `put` for it."""
        return self.executor.get(key, self._restore)

    def put(self, key: str, part: Any) -> Any:
        """Keep a part typeset by this build; the part, with the file it is kept in."""
        digest = buildcache.sha256_bytes(part.pdf)
        path = self.folder / f"{digest}.pdf"
        if _read(path, digest) is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_atomically(path, part.pdf)
        self.used.add(path.name)
        self.executor.put(key, {"pdf": digest, "pages": part.pages,
                                "headings": [list(heading) for heading in part.headings]})
        return dataclasses.replace(part, path=path, digest=digest)

    def _restore(self, value: Any) -> Any:
        from dldeck.emit.pdf import TypesetPart

        try:
            digest, pages = str(value["pdf"]), int(value["pages"])
            headings = tuple((int(page), float(x), float(y)) for page, x, y in value["headings"])
        except (TypeError, KeyError, ValueError):
            return None
        path = self.folder / f"{digest}.pdf"
        pdf = _read(path, digest)
        if pdf is None:
            return None
        self.used.add(path.name)
        return TypesetPart(pdf, pages, headings, path, digest)

    def save(self) -> None:
        """Keep the parts this build used; every other part file goes."""
        self.executor.save()
        if self.folder.is_dir():
            for path in self.folder.iterdir():
                if path.name not in self.used and path.is_file() and not path.is_symlink():
                    path.unlink(missing_ok=True)


def _read(path: Path, digest: str) -> bytes | None:
    """A file's bytes if it is a regular file that still hashes to `digest` (a FIFO planted in build/
    is refused, never opened blocking)."""
    try:
        with open_regular(path) as handle:
            data = handle.read()
    except Refused:
        return None
    return data if buildcache.sha256_bytes(data) == digest else None


def font_coverage(executor: Executor) -> Callable[[Path], frozenset[int]]:
    """A font's code points, kept through `executor` by the font file's stamp (`buildcache.file_stamp`):
    reading them imports fontTools and parses the font's cmap (a large part of a one-card edit's time)."""
    from dldeck.emit.typst_markup import font_coverage as read_coverage

    def coverage(path: Path) -> frozenset[int]:
        key = executor.key([str(path), buildcache.file_stamp(path)])
        kept = executor.get(key, _points)
        if kept is None:
            kept = read_coverage(path)
            executor.put(key, _ranges(kept))
        return kept

    return coverage


def _ranges(points: frozenset[int]) -> list[list[int]]:
    """Code points as [first, last] runs (a CJK font's 30,000 points are a few thousand runs)."""
    runs: list[list[int]] = []
    for point in sorted(points):
        if runs and runs[-1][1] == point - 1:
            runs[-1][1] = point
        else:
            runs.append([point, point])
    return runs


def _points(value: Any) -> frozenset[int] | None:
    """Code points from [first, last] ranges, or None for anything else."""
    if not isinstance(value, list) or not all(isinstance(pair, list) and len(pair) == 2 and
                                              all(isinstance(n, int) for n in pair) for pair in value):
        return None
    return frozenset(point for first, last in value for point in range(first, last + 1))


@dataclass(frozen=True)
class SheetJob:
    """A sheet ready to typeset: its parts, each with its key and what an earlier build typeset of it."""

    name: str
    document: Any  # dldeck.emit.pdf.Sheet
    parts: list[tuple[str, Any, Any]]  # (key, part, its TypesetPart from the cache or None)


def prepare_sheet_pdf(parts: PartStore, collection: Collection, figures: Any, sheet: Any, title: str,
                      date: str, verified: Verified, fragments: Any = None,
                      coverage: Callable[[Path], frozenset[int]] | None = None) -> SheetJob:
    """The sheet's Typst parts, and which of them are cached. Run before the deck and pages are written:
    done in the typesetting thread meanwhile, every cached part's file read waited for the GIL (about
    0.3 s at 5,000 cards, on the path every edit waits for)."""
    from dldeck.emit.pdf import document_inputs, sheet_parts

    document = sheet_parts(collection, figures, sheet, title, date, verified, fragments,
                           *([coverage] if coverage is not None else []))
    looked = []
    for part in () if document.whole is not None else document.parts:
        key = parts.executor.key(document_inputs(part.document))
        looked.append((key, part, parts.get(key)))
    return SheetJob(f"{sheet.name}.pdf", document, looked)


def write_sheet_pdf(typeset: Executor, parts: PartStore, job: SheetJob, stage: Path, work: Work) -> None:
    """A sheet's PDF into `stage`: the parts not cached typeset, then joined (a small sheet is one
    document); the final PDF itself is reused from the current output set when the inputs of its
    last compile are unchanged."""
    from dldeck.emit.pdf import document_inputs, join_source, lay_pages, typeset_document
    from dldeck.emit.typeset import UNDER, stand_by

    if job.document.whole is None:
        stand_by(UNDER)  # the join's child imports pikepdf while the parts are typeset
    fresh = iter(_typeset_parts([part for _, part, typeset_done in job.parts if typeset_done is None]))
    done = []
    for key, part, typeset_done in job.parts:
        if typeset_done is None:
            work.typeset_parts.append(f"{job.name}: {part.name}")
            typeset_done = parts.put(key, next(fresh))
        done.append(typeset_done)
    document = job.document
    joined = document.whole if document.whole is not None else join_source(document, done)
    key = typeset.key([job.name, document_inputs(joined)])
    previous = publish.current_folder(stage.parent)
    pdf = typeset.get(key, lambda digest: _previous(previous / job.name if previous else None, digest))
    if pdf is None:
        if joined.underlays:
            pdf = lay_pages(_skeleton_pdf(parts, joined, job.name, work), joined)
        else:
            pdf = typeset_document(joined)
        work.typeset.append(job.name)
    typeset.put(key, buildcache.sha256_bytes(pdf))
    write_atomically(stage / job.name, pdf)


def _skeleton_pdf(parts: PartStore, joined: Any, name: str, work: Work) -> bytes:
    """The joining document typeset without its parts' pages, kept with the parts: an edit that moves
    no page break and no heading reuses it, and only lays the pages under it again."""
    from dldeck.emit.pdf import TypesetPart, document_inputs, skeleton, typeset_document

    document = skeleton(joined)
    key = parts.executor.key(["skeleton", document_inputs(document)])
    kept = parts.get(key)
    if kept is not None:
        return kept.pdf
    pdf = typeset_document(document)
    work.typeset_parts.append(f"{name}: {SKELETON}")
    parts.put(key, TypesetPart(pdf, 0, ()))
    return pdf


def _typeset_parts(pending: list[Any]) -> list[Any]:
    """Each part typeset in its own Typst child, one per core at a time (a cold build of a large sheet
    typeset its parts one after another while the other core idled); BuildError lists the problems
    of every part, in part order."""
    from dldeck.emit.pdf import typeset_part

    if not pending:
        return []
    with ThreadPoolExecutor(max_workers=min(os.cpu_count() or 1, len(pending))) as pool:
        futures = [pool.submit(typeset_part, part) for part in pending]
    done: list[Any] = []
    diagnostics: list[Diagnostic] = []
    for future in futures:
        try:
            done.append(future.result())
        except BuildError as error:
            diagnostics.extend(error.diagnostics)
    if diagnostics:
        raise BuildError(diagnostics)
    return done


def _previous(path: Path | None, digest: Any) -> bytes | None:
    """The bytes of a previous output, if it still is the file the cache recorded."""
    if path is None or not isinstance(digest, str):
        return None
    return _read(path, digest)
