"""The order of the passes — read → verify → figures → emit — what runs side by side, and staging:
outputs are written to a temporary folder and moved into `build/` only when every pass succeeded,
so a failed build leaves the previous outputs untouched. Each pass lives in a module of its own."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dldeck import buildcache
from dldeck.errors import BuildError, Diagnostic
from dldeck.model import Collection
from dldeck.pipeline.claims import CLAIM_STATUSES, verify_claims
from dldeck.pipeline.figures import FigurePass
from dldeck.pipeline.formulas import FormulaJob, FormulaMemo
from dldeck.pipeline.inputs import MANIFEST_NAME, build_date, build_inputs, images
from dldeck.pipeline.outcome import BuildResult, CheckSummary, Progress, Work, quiet

BACKENDS = ("anki", "html", "pdf")
DECK_NAME = "dldeck.apkg"


# --------------------------------------------------------------------------- check


def check(content_dir: Path, build_dir: Path | None = None, *, timeout: float = 5.0,
          progress: Progress = quiet) -> CheckSummary:
    """Read, lint, verify every claim and compile every formula; raise BuildError listing all problems."""
    memo = FormulaMemo(build_dir) if build_dir is not None else None
    summary = _check_collection(_read(content_dir, progress), build_dir, timeout=timeout, progress=progress,
                                memo=memo, work=Work())
    if memo is not None:
        memo.save(summary.collection)
    return summary


def _read(content_dir: Path, progress: Progress) -> Collection:
    from dldeck.source import read_collection

    progress("reading content")
    return read_collection(content_dir)


def _check_collection(collection: Collection, build_dir: Path | None, *, timeout: float, progress: Progress,
                      memo: FormulaMemo | None, work: Work) -> CheckSummary:
    if memo is not None:
        memo.load(collection, work)  # before the formula job forks, so it reuses earlier conversions
    formulas = FormulaJob(collection, build_dir)
    try:
        # While worker processes verify claims this process only waits: the formulas compile meanwhile.
        results, claim_diagnostics = verify_claims(collection, build_dir, timeout, progress, work,
                                                   before_verifying=formulas.start_in_background)
        progress("compiling formulas")
        formula_report = formulas.finish()
    finally:
        formulas.close()
    diagnostics: list[Diagnostic] = [*claim_diagnostics, *formula_report.diagnostics]
    if diagnostics:
        raise BuildError(diagnostics)
    counts = {status: sum(1 for r in results if r.status == status) for status in CLAIM_STATUSES}
    return CheckSummary(collection, counts, formula_report.count, tuple(results), work, formula_report.notes)


# --------------------------------------------------------------------------- build


def build(content_dir: Path, build_dir: Path, *, only: Sequence[str] = BACKENDS, timeout: float = 5.0,
          project_dir: Path | None = None, progress: Progress = quiet) -> BuildResult:
    """Build every requested output, all or nothing; return at once if nothing changed since last time."""
    unknown = sorted(set(only) - set(BACKENDS))
    if unknown:
        raise ValueError(f"unknown output {', '.join(unknown)} (choose from {', '.join(BACKENDS)})")
    project_dir = project_dir or content_dir.parent
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
    summary = result.summary
    assert summary is not None
    manifest = content_dir / MANIFEST_NAME
    read_elsewhere = [manifest] if manifest.exists() else []
    read_elsewhere += sorted({Path(image.src) for image in images(summary.collection)})
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
    collection = _read(content_dir, progress)
    work = Work()
    figure_pass = FigurePass(collection, build_dir, work)
    try:
        # Figures are drawn in a forked process while the claims are verified: both keep all cores busy.
        figure_pass.start(progress)
        diagnostics: list[Diagnostic] = []
        try:
            summary = _check_collection(collection, build_dir, timeout=timeout, progress=progress, memo=memo,
                                        work=work)
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
    with _staging(build_dir) as stage, ThreadPoolExecutor(max_workers=1) as typesetter:
        outputs: list[str] = []
        pdfs: list[Future] = []
        # Typst typesets without the interpreter lock: the PDFs compile while the deck and pages are written.
        if "pdf" in only:
            from dldeck.emit.pdf import write_pdf

            for sheet in config.sheets:
                progress(f"writing {sheet.name}.pdf")
                pdfs.append(typesetter.submit(write_pdf, collection, figures, sheet, config.title,
                                              stage / f"{sheet.name}.pdf", date))
        diagnostics: list[Diagnostic] = []
        manifest = None
        try:
            if "anki" in only:
                from dldeck.emit.anki import write_deck
                from dldeck.manifest import Manifest

                progress("writing the Anki deck")
                manifest = Manifest.load(content_dir / MANIFEST_NAME)
                write_deck(collection, figures, manifest, stage / DECK_NAME)
                outputs.append(DECK_NAME)
            for sheet in config.sheets:
                if "html" in only:
                    from dldeck.emit.html import write_html

                    progress(f"writing {sheet.name}.html")
                    write_html(collection, figures, sheet, config.title, stage / f"{sheet.name}.html", date)
                    outputs.append(f"{sheet.name}.html")
        except BuildError as error:
            diagnostics.extend(error.diagnostics)
        for sheet, pdf in zip(config.sheets, pdfs, strict=False):
            try:
                pdf.result()
                outputs.append(f"{sheet.name}.pdf")
            except BuildError as error:
                diagnostics.extend(error.diagnostics)
        if diagnostics:
            raise BuildError(diagnostics)
        outputs.sort(key=_output_order(config))
        for name in outputs:
            os.replace(stage / name, build_dir / name)
        if manifest is not None:
            manifest.retain(card.slug for card in collection.cards)
            manifest.save()
    memo.save(collection)
    return BuildResult(summary, tuple(build_dir / name for name in outputs), cards=len(collection.cards),
                       claim_counts=summary.claim_counts, formulas=summary.formulas, work=work)


def _output_order(config: Any) -> Callable[[str], int]:
    """The order outputs are reported in: the deck, then each sheet's HTML and PDF."""
    order = [DECK_NAME]
    for sheet in config.sheets:
        order += [f"{sheet.name}.html", f"{sheet.name}.pdf"]
    return order.index


@contextmanager
def _staging(build_dir: Path) -> Iterator[Path]:
    stage = Path(tempfile.mkdtemp(prefix=".staging-", dir=build_dir))
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)
