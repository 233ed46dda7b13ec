"""The figures pass: validate every figure, compute its data, draw cache misses in parallel.

Validation and data run in this process (cheap, and every problem of the whole collection is
reported at once); drawing the SVGs, the slow part, runs on all cores; their PNG twins are then
rasterized here, all in one Typst compile (`raster`). Files are content-hashed, written to a
temporary name and renamed, and a cached file is trusted only if it still hashes to the checksum
recorded when it was drawn (`files`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
from yaml.nodes import Node

from dldeck.errors import BuildError, Diagnostic, quote
from dldeck.figures import raster, style
from dldeck.figures.files import checksum_path, is_complete, write_figure
from dldeck.figures.kinds import KINDS
from dldeck.figures.params import SpecError
from dldeck.figures.spec import FigureSpec, parse_figure, span_of
from dldeck.model import Card, Collection, FigureBlock, FigureKey, RenderedFigure
from dldeck.timelimit import TimeLimitExceeded, time_limit

FIGURE_TIME_LIMIT = 20.0  # seconds to parse and compute one figure's data

# Bump when drawing changes in a way the spec text does not show, so caches are not reused.
RENDERER_VERSION = "3"


@dataclass(frozen=True)
class Job:
    """One figure ready to draw: everything a worker process needs, and nothing more."""

    spec: FigureSpec
    data: Any
    digest: str

    @property
    def name(self) -> str:
        return f"fig-{self.digest[:20]}"


def definitions_text(card: Card) -> str:
    """The card's `assume` and `:=` statements: the only check lines a figure can depend on."""
    from dldeck.verify.syntax import CheckError, split_statements

    kept: list[str] = []
    for block in card.checks:
        try:
            statements = list(split_statements(block.source, block.line_of(0)))
        except CheckError:
            kept.append(block.source)
            continue
        for _, text in statements:
            stripped = text.strip()
            if stripped.startswith("assume") or ":=" in stripped:
                kept.append(stripped)
    return "\n".join(kept)


def figure_digest(spec_source: str, definitions: str, kind: str) -> str:
    payload = json.dumps(
        {
            "renderer": RENDERER_VERSION,
            "matplotlib": matplotlib.__version__,
            "raster": raster.version(),
            "kind": kind,
            "spec": spec_source,
            "definitions": definitions,
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class _CardEvaluator:
    """Evaluates expressions with one card's definitions; the scope is built once, on demand."""

    def __init__(self, card: Card, facts_root: Path | None):
        self.card = card
        self.facts_root = facts_root
        self._scope: Any = None
        self._failure: BuildError | None = None

    def scope(self) -> Any:
        from dldeck.verify.shown import scope_for_card

        if self._failure is not None:
            raise self._failure
        if self._scope is None:
            try:
                self._scope = scope_for_card(self.card, self.facts_root)
            except BuildError as error:
                self._failure = error
                raise
        return self._scope

    def __call__(self, text: str, node: Node, block: FigureBlock) -> Any:
        from dldeck.verify.language import evaluate_expression

        return evaluate_expression(text, self.scope(), span_of(block, node))


def prepare(collection: Collection, facts_root: Path | None = None) -> list[Job]:
    """Validate every figure and compute its data (no drawing); BuildError lists all problems."""
    jobs, diagnostics = _validate(collection, facts_root)
    if diagnostics:
        raise BuildError(diagnostics)
    return jobs


def _validate(collection: Collection, facts_root: Path | None) -> tuple[list[Job], list[Diagnostic]]:
    jobs: list[Job] = []
    diagnostics: list[Diagnostic] = []
    ids: dict[str, FigureSpec] = {}
    for card in collection.cards:
        if not card.figures:
            continue
        evaluator = _CardEvaluator(card, facts_root)
        definitions = definitions_text(card)
        for block in card.figures:
            try:
                with time_limit(FIGURE_TIME_LIMIT):
                    spec = parse_figure(card, block, evaluator)
                    kind = KINDS[spec.kind]
                    try:
                        data = kind.compute(spec.params)
                    except SpecError as error:
                        diagnostics.append(spec.diagnostic(error))
                        continue
                    except TimeLimitExceeded:
                        raise
                    except Exception as error:  # noqa: BLE001 - sympy/numpy raise anything: a message, not a trace
                        diagnostics.append(Diagnostic(block.span.path, block.span.line,
                                                      f"cannot compute this {spec.kind} figure: "
                                                      f"{type(error).__name__}: {quote(str(error), 120)}"))
                        continue
            except BuildError as error:
                diagnostics.extend(error.diagnostics)
                continue
            except TimeLimitExceeded as error:
                diagnostics.append(Diagnostic(block.span.path, block.span.line,
                                              f"figure spec {error} to evaluate (time limit); simplify it"))
                continue
            if spec.figure_id:
                if spec.figure_id in ids:
                    first = ids[spec.figure_id]
                    diagnostics.append(
                        Diagnostic(
                            spec.path,
                            spec.line("id"),
                            f"figure id {quote(spec.figure_id)} already used at "
                            f"{first.path}:{first.line('id')}",
                        )
                    )
                ids.setdefault(spec.figure_id, spec)
            digest = figure_digest(block.source, definitions if kind.uses_expressions else "", spec.kind)
            jobs.append(Job(spec, data, digest))
    return jobs, sorted(set(diagnostics))


def draw_svg(kind_name: str, data: Any) -> bytes:
    """Draw one figure to SVG bytes under the pinned style."""
    kind = KINDS[kind_name]
    with style.figure(kind.size(data)) as fig:
        kind.draw(data, fig)
        return style.to_svg(fig)


def _draw_job(kind_name: str, data: Any) -> bytes | str:
    """Worker entry point: the SVG, or an error message instead of raising across processes."""
    try:
        return draw_svg(kind_name, data)
    except Exception as error:  # noqa: BLE001 - reported as a diagnostic on the figure's line
        return f"{type(error).__name__}: {error}"


def _draw_all(misses: list[tuple[Job, Path, Path]], workers: int) -> list[Diagnostic]:
    """Draw the SVGs (on `workers` processes), rasterize their PNGs here, write each pair; a batch at a
    time, so only one batch's SVGs and PNGs are in memory however many figures a build draws (all of
    them were held until the last was rasterized)."""
    diagnostics: list[Diagnostic] = []
    for _, svg, png in misses:
        for path in (svg, png, checksum_path(png)):
            path.unlink(missing_ok=True)
    parallel = workers > 1 and len(misses) > 1
    pool = ProcessPoolExecutor(max_workers=min(workers, len(misses))) if parallel else None
    try:
        for start in range(0, len(misses), raster.BATCH):
            diagnostics.extend(_draw_batch(misses[start : start + raster.BATCH], pool))
    finally:
        if pool is not None:
            pool.shutdown()
    return diagnostics


def _draw_batch(misses: list[tuple[Job, Path, Path]], pool: ProcessPoolExecutor | None) -> list[Diagnostic]:
    diagnostics: list[Diagnostic] = []
    calls = [(job.spec.kind, job.data) for job, _, _ in misses]
    if pool is None:
        results: Iterable[bytes | str] = [_draw_job(*call) for call in calls]
    else:
        results = list(pool.map(_draw_job, *zip(*calls, strict=True)))
    drawn: list[tuple[Job, Path, Path, bytes]] = []
    for (job, svg, png), result in zip(misses, results, strict=True):
        if isinstance(result, str):
            diagnostics.append(_cannot(job, "draw", result))
        else:
            drawn.append((job, svg, png, result))
    try:
        pngs = raster.rasterize([svg_bytes for *_, svg_bytes in drawn], style.PNG_DPI)
    except raster.RasterError as error:
        return diagnostics + [_cannot(job, "rasterize", str(error)) for job, *_ in drawn]
    for (_, svg, png, svg_bytes), png_bytes in zip(drawn, pngs, strict=True):
        write_figure(svg, png, svg_bytes, png_bytes)
    return diagnostics


def _cannot(job: Job, what: str, why: str) -> Diagnostic:
    return Diagnostic(job.spec.path, job.spec.line(), f"cannot {what} this {job.spec.kind} figure: {why}")


def render_figures(
    collection: Collection,
    build_dir: Path,
    *,
    jobs: int | None = None,
    facts_root: Path | None = None,
) -> dict[FigureKey, RenderedFigure]:
    """Render every figure block of the collection to `build_dir/figures`; BuildError on any problem."""
    planned = prepare(collection, facts_root)
    out_dir = Path(build_dir) / "figures"
    out_dir.mkdir(parents=True, exist_ok=True)
    results: dict[FigureKey, RenderedFigure] = {}
    misses: list[tuple[Job, Path, Path]] = []
    scheduled: set[str] = set()
    for job in planned:
        svg_path = out_dir / f"{job.name}.svg"
        png_path = out_dir / f"{job.name}.png"
        if job.name not in scheduled and not is_complete(svg_path, png_path):
            misses.append((job, svg_path, png_path))
            scheduled.add(job.name)
        kind = KINDS[job.spec.kind]
        results[job.spec.key] = RenderedFigure(
            key=job.spec.key,
            svg_path=str(svg_path),
            png_path=str(png_path),
            caption=job.spec.caption,
            alt=job.spec.caption or kind.describe(job.spec.params),
            figure_id=job.spec.figure_id,
        )
    failures = _draw_all(misses, jobs if jobs is not None else (os.cpu_count() or 1))
    if failures:
        raise BuildError(failures)
    return results
