"""The order of the passes — read → verify → figures → emit — and what runs side by side. Outputs
are written to a new output folder and switched in as one set (`publish`) only when every pass
succeeded and the manifest is written, so a failed or killed build leaves the previous outputs
untouched. A build folder the machine will not let us write is an OutputError naming it, not a
traceback. Each pass lives in a module of its own."""

from __future__ import annotations

import gc
import shutil
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dldeck.pipeline.publish as publish
from dldeck import buildcache
from dldeck.atomicfile import leftover_pattern
from dldeck.errors import BuildError, Diagnostic, OutputError
from dldeck.heap import release_free_memory
from dldeck.model import Collection, Verified
from dldeck.pipeline.claims import CLAIM_STATUSES, verify_claims
from dldeck.pipeline.coverage import coverage, unread_diagnostics, verified
from dldeck.pipeline.executor import Executor
from dldeck.pipeline.figures import FigurePass
from dldeck.pipeline.formulas import FormulaJob, FormulaMemo
from dldeck.pipeline.fragments import Fragments, card_keys
from dldeck.pipeline.inputs import MANIFEST_NAME, build_date, build_inputs
from dldeck.pipeline.outcome import BuildResult, CheckSummary, Progress, Work, quiet
from dldeck.pipeline.sheetpdf import (
    FONT_CODE,
    PARTS_DIR,
    PartStore,
    font_coverage,
    prepare_sheet_pdf,
    write_sheet_pdf,
)

if TYPE_CHECKING:
    from dldeck.manifest import Manifest

BACKENDS = ("anki", "html", "pdf")
DECK_NAME = "dldeck.apkg"
# The code that renders a card's Anki fields: editing it invalidates the kept fields.
ANKI_CODE = ("emit/anki.py", "emit/markup.py", "mathengines/whitelist.py")
# The code that renders a card's part of the HTML page: editing it invalidates the kept views.
HTML_CODE = ("emit/html.py", "emit/markup.py", "emit/templates/card.html.j2")
# The code that writes a card's Typst markup: editing it invalidates the kept markup.
TYPST_CODE = ("emit/pdf.py", "emit/typst_markup.py", "emit/markup.py")
# The parts of dldeck whose code decides what a file reads as: editing them invalidates the read cache.
READ_CODE = ("source", "model.py", "contain.py", "safeyaml.py", "errors.py", "timelimit.py",
             "verify/numbers.py")


# --------------------------------------------------------------------------- check


def check(content_dir: Path, build_dir: Path | None = None, *, timeout: float = 5.0,
          progress: Progress = quiet, strict: bool = False) -> CheckSummary:
    """Read, lint, verify every claim and compile every formula; raise BuildError listing all problems.

    `strict`: a shown formula with a relation that cannot be read (and is not exempt), or an example
    value or definition no claim uses, is an error."""
    try:
        with _machine_errors(build_dir, content_dir):
            memo = FormulaMemo(build_dir) if build_dir is not None else None
            work = Work()
            collection = _read(content_dir, build_dir, progress, work)
            summary = _check_collection(collection, build_dir, timeout=timeout, progress=progress, memo=memo,
                                        work=work, strict=strict)
            if memo is not None:
                memo.save(summary.collection)
    finally:
        gc.unfreeze()  # what caches froze (buildcache.bulk) is the collector's again
    return summary


@contextmanager
def _machine_errors(build_dir: Path | None, content_dir: Path) -> Iterator[None]:
    """An OSError that reaches here is the machine refusing a write (read-only or full disk, a build
    folder that is a file): one OutputError naming the folder instead of a traceback."""
    if build_dir is not None and (build_dir.exists() or build_dir.is_symlink()) and not build_dir.is_dir():
        raise OutputError(f"{build_dir}: the build folder is not a folder (it is a file): remove it or "
                          "choose another with --build-dir")
    try:
        yield
    except OSError as error:
        where = Path(error.filename) if error.filename else None
        manifest = content_dir / MANIFEST_NAME
        if where is not None and where.parent == manifest.parent and where.name.startswith(
                (MANIFEST_NAME, f".{MANIFEST_NAME}")):
            folder = f"{content_dir} (writing {MANIFEST_NAME})"
        else:
            folder = str(build_dir) if build_dir is not None else str(where or content_dir)
        detail = f" ({error.filename})" if error.filename else ""
        raise OutputError(f"{folder}: cannot write the build's files: "
                          f"{error.strerror or error}{detail}") from error


def _read(content_dir: Path, build_dir: Path | None, progress: Progress, work: Work) -> Collection:
    """Files read and linted without a problem are kept per file, so a build reads only the changed ones."""
    from dldeck.source import read_collection

    progress("reading content")
    parsed = Executor(build_dir, "read", code=READ_CODE, work=work, sharded=True)
    try:
        return read_collection(content_dir, parsed, work.read)
    finally:
        parsed.save()


def _check_collection(collection: Collection, build_dir: Path | None, *, timeout: float, progress: Progress,
                      memo: FormulaMemo | None, work: Work, strict: bool, typst: bool = True) -> CheckSummary:
    """`typst`: whether an output needs formulas in Typst (the PDF); `dldeck check` checks them all."""
    if memo is not None:
        memo.load(collection, work)  # before the formula job forks, so it reuses earlier conversions
    formulas = FormulaJob(collection, build_dir, typst=typst, memo=memo)
    try:
        # While worker processes verify claims this process only waits: the formulas compile meanwhile.
        results, claim_diagnostics = verify_claims(collection, build_dir, timeout, progress, work,
                                                   before_verifying=formulas.start_in_background)
        progress("compiling formulas")
        formula_report = formulas.finish()
    finally:
        formulas.close()
    with buildcache.bulk():  # verdicts of every formula, kept as long as the build
        shown = coverage(collection, results)
    diagnostics: list[Diagnostic] = [*claim_diagnostics, *formula_report.diagnostics]
    if strict:
        diagnostics.extend(unread_diagnostics(shown.formulas))
    if diagnostics:
        raise BuildError(diagnostics)
    counts = {status: sum(1 for r in results if r.status == status and r.source == "check")
              for status in CLAIM_STATUSES}
    return CheckSummary(collection, counts, formula_report.count, tuple(results), work, shown,
                        verified(results, shown.formulas), formula_report.notes)


# --------------------------------------------------------------------------- build


def build(content_dir: Path, build_dir: Path, *, only: Sequence[str] = BACKENDS, timeout: float = 5.0,
          project_dir: Path | None = None, progress: Progress = quiet) -> BuildResult:
    """Build every requested output, all or nothing; return at once if nothing changed since last time.
    BuildError: problems of the content; OutputError: the build folder cannot be written."""
    unknown = sorted(set(only) - set(BACKENDS))
    if unknown:
        raise ValueError(f"unknown output {', '.join(unknown)} (choose from {', '.join(BACKENDS)})")
    project_dir = project_dir or content_dir.parent
    try:
        with _machine_errors(build_dir, content_dir):
            build_dir.mkdir(parents=True, exist_ok=True)
            with publish.locked(build_dir):
                _clean_leftovers(build_dir, content_dir)
                return _build_unless_up_to_date(content_dir, build_dir, only=only, timeout=timeout,
                                                project_dir=project_dir, progress=progress)
    finally:
        gc.unfreeze()  # what caches froze (buildcache.bulk) is the collector's again


def _clean_leftovers(build_dir: Path, content_dir: Path) -> None:
    """What killed builds left behind: output folders never switched to, half-written temporaries."""
    publish.clean_leftovers(build_dir)
    cache = build_dir / buildcache.CACHE_DIR_NAME
    for folder, name in ((content_dir, MANIFEST_NAME), (cache, "*"), (cache / PARTS_DIR, "*"),
                         (build_dir / "figures", "*")):
        for leftover in folder.glob(leftover_pattern(name)) if folder.is_dir() else ():
            if leftover.is_file() and not leftover.is_symlink():
                leftover.unlink(missing_ok=True)


def _build_unless_up_to_date(content_dir: Path, build_dir: Path, *, only: Sequence[str], timeout: float,
                             project_dir: Path, progress: Progress) -> BuildResult:
    tool = buildcache.tool_hash()
    inputs = build_inputs(content_dir, project_dir, only, timeout)
    stamp = buildcache.Stamp(build_dir)
    recorded = stamp.matches(tool, inputs)
    if recorded is not None:
        outputs = tuple(build_dir / name for name in recorded.get("outputs", []))
        return BuildResult(None, outputs, up_to_date=True, cards=int(recorded.get("cards", 0)),
                           claim_counts=dict(recorded.get("claims", {})),
                           formulas=int(recorded.get("formulas", 0)))
    result = _build(content_dir, build_dir, only=only, timeout=timeout, project_dir=project_dir,
                    progress=progress)
    manifest = content_dir / MANIFEST_NAME
    read_elsewhere = [manifest] if manifest.exists() else []
    stamp.record(tool, inputs, [*read_elsewhere, *result.outputs],
                 {"outputs": [p.name for p in result.outputs], "cards": result.cards,
                  "claims": result.claim_counts, "formulas": result.formulas})
    return result


def _build(content_dir: Path, build_dir: Path, *, only: Sequence[str], timeout: float, project_dir: Path,
           progress: Progress) -> BuildResult:
    from dldeck.config import load_config

    config = load_config(project_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    memo = FormulaMemo(build_dir)
    work = Work()
    collection = _read(content_dir, build_dir, progress, work)
    figure_pass = FigurePass(collection, build_dir, work)
    try:
        # Figures are drawn in a forked process while the claims are verified: both keep all cores busy.
        figure_pass.start(progress)
        diagnostics: list[Diagnostic] = []
        try:
            summary = _check_collection(collection, build_dir, timeout=timeout, progress=progress, memo=memo,
                                        work=work, strict=config.strict, typst="pdf" in only)
        except BuildError as error:
            diagnostics.extend(error.diagnostics)
        try:
            figures = figure_pass.finish()
        except BuildError as error:
            diagnostics.extend(error.diagnostics)
        if diagnostics:
            raise BuildError(diagnostics)
    finally:
        figure_pass.close()
    date = build_date()
    stage = publish.new_output_folder(build_dir)
    try:
        outputs, manifest = _emit(collection, figures, summary.verified, config, content_dir, stage,
                                  only=only, date=date, progress=progress, work=work)
        _publish(build_dir, stage, manifest)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    memo.save(collection)
    return BuildResult(summary, tuple(build_dir / name for name in outputs), cards=len(collection.cards),
                       claim_counts=summary.claim_counts, formulas=summary.formulas, work=work)


def _emit(collection: Collection, figures: Any, verified: Verified, config: Any, content_dir: Path,
          stage: Path, *, only: Sequence[str], date: str, progress: Progress,
          work: Work) -> tuple[list[str], Manifest | None]:
    """Write every requested output into `stage`; BuildError lists every problem of every output.
    Returns the outputs' names and, when the deck was written, the manifest that goes with it."""
    with ThreadPoolExecutor(max_workers=1) as typesetter, _typst_standing_by("pdf" in only):
        outputs: list[str] = []
        pdfs: list[tuple[str, Future]] = []
        # Typst typesets in a child process (dldeck.emit.typeset): the PDFs compile while the deck and pages
        # are written.
        typeset = Executor(stage.parent if "pdf" in only else None, "typeset",
                           code=("emit/typeset.py", "emit/underlay.py"), work=work)
        fonts = Executor(stage.parent if "pdf" in only else None, "font-coverage", code=FONT_CODE, work=work)
        parts = PartStore(stage.parent, work) if "pdf" in only else None
        cards = card_keys(collection, verified, figures)
        markup = Fragments(stage.parent if "pdf" in only else None, "typst-cards", TYPST_CODE, cards, work)
        diagnostics: list[Diagnostic] = []
        if parts is not None:
            for sheet in config.sheets:
                progress(f"writing {sheet.name}.pdf")
                try:
                    job = prepare_sheet_pdf(parts, collection, figures, sheet, config.title, date, verified,
                                            markup, font_coverage(fonts))
                except BuildError as error:
                    diagnostics.extend(error.diagnostics)
                    continue
                pdfs.append((job.name, typesetter.submit(write_sheet_pdf, typeset, parts, job, stage, work)))
        if not diagnostics:
            markup.close()
        manifest = None
        fields = Fragments(stage.parent if "anki" in only else None, "anki-fields", ANKI_CODE, cards, work)
        views = Fragments(stage.parent if "html" in only else None, "html-cards", HTML_CODE, cards, work)
        try:
            if "anki" in only:
                from dldeck.emit.anki import write_deck
                from dldeck.manifest import Manifest

                progress("writing the Anki deck")
                manifest = Manifest.load(content_dir / MANIFEST_NAME)
                write_deck(collection, figures, manifest, stage / DECK_NAME, verified, fields)
                outputs.append(DECK_NAME)
                manifest.retain(card.slug for card in collection.cards)
                fields.close()
            for sheet in config.sheets:
                if "html" in only:
                    from dldeck.emit.html import write_html

                    progress(f"writing {sheet.name}.html")
                    write_html(collection, figures, sheet, config.title, stage / f"{sheet.name}.html", date,
                               verified, views)
                    outputs.append(f"{sheet.name}.html")
            views.close()
        except BuildError as error:
            diagnostics.extend(error.diagnostics)
        # The fragments of the outputs written are let go of: while the sheet's parts are typeset, every
        # Typst child started maps this process until it runs its program (counted twice by a sampler).
        release_free_memory()
        for name, pdf in pdfs:
            try:
                pdf.result()
                outputs.append(name)
            except BuildError as error:
                diagnostics.extend(error.diagnostics)
    if diagnostics:
        raise BuildError(diagnostics)
    typeset.save()
    fonts.save()
    if parts is not None:
        parts.save()
    outputs.sort(key=_output_order(config))
    return outputs, manifest


@contextmanager
def _typst_standing_by(wanted: bool) -> Iterator[None]:
    """A Typst child started now, while the sheet's parts are prepared: an edit's one part then does
    not wait for an interpreter to start and import Typst."""
    if not wanted:
        yield
        return
    from dldeck.emit.typeset import COMPILE, standing_by
    from dldeck.mathengines.engines import typst_font_paths

    with standing_by(COMPILE, fonts=list(typst_font_paths())):
        yield


def _publish(build_dir: Path, stage: Path, manifest: Manifest | None) -> None:
    """Switch the outputs in as one set, and the manifest with them.

    The manifest is written in full under a temporary name first: a content folder that is
    read-only or full fails here, before anything was replaced. Only then do the outputs switch (one
    rename), and then the manifest is renamed into place; should that rename fail, the outputs are
    switched back. A kill between the two renames leaves new outputs with the old manifest, which is
    safe: the stamp is not yet written, so the next build redoes the work and gives every changed
    note a time newer still, which Anki applies."""
    publish.carry_over(build_dir, stage)
    staged = manifest.stage() if manifest is not None else None
    try:
        replaced = publish.switch(build_dir, stage)
    except BaseException:
        if staged is not None:
            staged.discard()
        raise
    if staged is not None:
        try:
            staged.commit()
        except BaseException:
            publish.switch_back(build_dir, replaced)
            raise
    publish.finish(build_dir, replaced)


def _output_order(config: Any) -> Callable[[str], int]:
    """The order outputs are reported in: the deck, then each sheet's HTML and PDF."""
    order = [DECK_NAME]
    for sheet in config.sheets:
        order += [f"{sheet.name}.html", f"{sheet.name}.pdf"]
    return order.index


