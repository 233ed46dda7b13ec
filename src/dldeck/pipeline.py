"""read → verify → figures → emit. The one place that knows the order of the passes.

Heavy libraries (sympy, matplotlib, typst) are imported inside the pass that needs them, so
`dldeck check` never loads matplotlib and a deck-only build never loads typst.
Outputs are staged in a temporary folder and moved into `build/` only when every pass
succeeded, so a failed build leaves the previous outputs untouched.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from dldeck.errors import BuildError, Diagnostic
from dldeck.model import Collection, FigureKey, RenderedFigure
from dldeck.source import read_collection

BACKENDS = ("anki", "html", "pdf")
DECK_NAME = "dldeck.apkg"
MANIFEST_NAME = ".dldeck-manifest.json"

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class CheckSummary:
    """What `dldeck check` reports: claim statuses and formulas compiled."""

    collection: Collection
    claim_counts: dict[str, int]
    formulas: int
    results: tuple = field(default=())


@dataclass(frozen=True)
class BuildResult:
    summary: CheckSummary
    outputs: tuple[Path, ...]


def check(content_dir: Path, build_dir: Path | None = None, *, timeout: float = 5.0,
          progress: Progress = _quiet) -> CheckSummary:
    """Read, lint, verify every claim and compile every formula; raise BuildError listing all problems."""
    progress("reading content")
    collection = read_collection(content_dir)
    return _verify(collection, build_dir, timeout=timeout, progress=progress)


def _verify(collection: Collection, build_dir: Path | None, *, timeout: float,
            progress: Progress) -> CheckSummary:
    from dldeck.mathengines import compile_formulas
    from dldeck.verify import verify_collection

    progress(f"verifying claims of {len(collection.cards)} cards")
    report = verify_collection(collection, timeout=timeout)
    progress("compiling formulas")
    formula_report = compile_formulas(collection, cache_dir=build_dir)
    diagnostics: list[Diagnostic] = [*report.diagnostics, *formula_report.diagnostics]
    if diagnostics:
        raise BuildError(diagnostics)
    statuses = ("symbolic", "numeric", "failed", "timeout", "error")
    counts = {status: report.count(status) for status in statuses}
    return CheckSummary(collection, counts, formula_report.count, tuple(report.results))


def build(content_dir: Path, build_dir: Path, *, only: Sequence[str] = BACKENDS, timeout: float = 5.0,
          project_dir: Path | None = None, progress: Progress = _quiet) -> BuildResult:
    """Build every requested output, all or nothing."""
    from dldeck.config import load_config

    unknown = sorted(set(only) - set(BACKENDS))
    if unknown:
        raise ValueError(f"unknown output {', '.join(unknown)} (choose from {', '.join(BACKENDS)})")
    project_dir = project_dir or content_dir.parent
    config = load_config(project_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    summary = check(content_dir, build_dir, timeout=timeout, progress=progress)
    collection = summary.collection
    figures = _figures(collection, build_dir, progress)
    with _staging(build_dir) as stage:
        outputs: list[str] = []
        manifest = None
        if "anki" in only:
            from dldeck.emit.anki import write_deck
            from dldeck.manifest import Manifest

            progress("writing the Anki deck")
            manifest = Manifest.load(content_dir / MANIFEST_NAME)
            write_deck(collection, figures, manifest, stage / DECK_NAME)
            outputs.append(DECK_NAME)
        date = _build_date()
        for sheet in config.sheets:
            if "html" in only:
                from dldeck.emit.html import write_html

                progress(f"writing {sheet.name}.html")
                write_html(collection, figures, sheet, config.title, stage / f"{sheet.name}.html", date)
                outputs.append(f"{sheet.name}.html")
            if "pdf" in only:
                from dldeck.emit.pdf import write_pdf

                progress(f"writing {sheet.name}.pdf")
                write_pdf(collection, figures, sheet, config.title, stage / f"{sheet.name}.pdf", date)
                outputs.append(f"{sheet.name}.pdf")
        for name in outputs:
            os.replace(stage / name, build_dir / name)
        if manifest is not None:
            manifest.save()
    return BuildResult(summary, tuple(build_dir / name for name in outputs))


def _figures(collection: Collection, build_dir: Path, progress: Progress) -> dict[FigureKey, RenderedFigure]:
    if not any(card.figures for card in collection.cards):
        return {}
    from dldeck.figures import render_figures

    progress(f"rendering {sum(len(c.figures) for c in collection.cards)} figures")
    return render_figures(collection, build_dir, facts_root=Path(collection.root))


def _build_date() -> str:
    import datetime

    from dldeck.manifest import build_time

    moment = datetime.datetime.fromtimestamp(build_time(), tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d")


@contextmanager
def _staging(build_dir: Path) -> Iterator[Path]:
    stage = Path(tempfile.mkdtemp(prefix=".staging-", dir=build_dir))
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)
