"""read → verify → figures → emit. The one place that knows the order of the passes.

Authors rebuild after every edit, so a build redoes only what the edit touched:

- a stamp of every input (content, configuration, dldeck's own code, options) and every output
  lets an unchanged rebuild stop before importing anything heavy ("up to date");
- claim results are cached per card, keyed by the card's check sources, its file, the facts, the
  time limit and the verifier's code, so an edit re-verifies only the cards it touched;
- figures are cached per card the same way (and their files by content hash, in figures/);
- formula conversions (KaTeX MathML, TeX → Typst) are cached per formula.

Caches live in `build/cache/` (see `dldeck.buildcache`); only successes are cached, so a failed
build never poisons them. Heavy libraries (sympy, matplotlib, typst) are imported inside the pass
that needs them, and only when it has work. Work runs side by side on all cores: while worker
processes verify claims, figures are drawn and formulas compiled in forked processes, and the PDF
is typeset in a thread while the deck and HTML are written (Typst runs without the interpreter
lock). Typst's thread pool does not survive a fork, so nothing is forked to use Typst once it ran.
Outputs are staged in a temporary folder and moved into `build/` only when every pass succeeded,
so a failed build leaves the previous outputs untouched.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dldeck import buildcache
from dldeck.errors import BuildError, Diagnostic
from dldeck.figures.files import is_complete
from dldeck.model import (
    Card,
    Cloze,
    Collection,
    Emph,
    FigureKey,
    Image,
    Link,
    ListBlock,
    Paragraph,
    Quote,
    RenderedFigure,
    Strong,
    Table,
)

BACKENDS = ("anki", "html", "pdf")
DECK_NAME = "dldeck.apkg"
MANIFEST_NAME = ".dldeck-manifest.json"
CONFIG_FILES = ("pyproject.toml", "dldeck.toml")
CLAIM_STATUSES = ("symbolic", "numeric", "failed", "timeout", "error")
CACHED_STATUSES = ("symbolic", "numeric")  # failures, errors and timeouts are always re-checked
# The parts of dldeck whose code decides claim results and figures: editing them invalidates those caches.
CHECK_CODE = ("verify", "model.py", "errors.py")
FIGURE_CODE = ("figures", "verify", "model.py", "fonts.py", "errors.py")

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass
class Work:
    """What a build actually did, not what it reused: how tests see that a cache was used."""

    verified: list[str] = field(default_factory=list)  # slugs whose claims were checked afresh
    figured: list[str] = field(default_factory=list)  # slugs whose figures were prepared afresh
    cache_status: dict[str, str] = field(default_factory=dict)  # cache name → "ok" or why discarded


@dataclass(frozen=True)
class CheckSummary:
    """What `dldeck check` reports: claim statuses and formulas compiled."""

    collection: Collection
    claim_counts: dict[str, int]
    formulas: int
    results: tuple = field(default=())
    work: Work = field(default_factory=Work)


@dataclass(frozen=True)
class BuildResult:
    """`summary` is None when the build was up to date and nothing was read."""

    summary: CheckSummary | None
    outputs: tuple[Path, ...]
    up_to_date: bool = False
    cards: int = 0
    claim_counts: dict[str, int] = field(default_factory=dict)
    formulas: int = 0
    work: Work = field(default_factory=Work)


# --------------------------------------------------------------------------- check


def check(content_dir: Path, build_dir: Path | None = None, *, timeout: float = 5.0,
          progress: Progress = _quiet) -> CheckSummary:
    """Read, lint, verify every claim and compile every formula; raise BuildError listing all problems."""
    memo = _FormulaMemo(build_dir) if build_dir is not None else None
    summary = _check(content_dir, build_dir, timeout=timeout, progress=progress, memo=memo)
    if memo is not None:
        memo.save(summary.collection)
    return summary


def _check(content_dir: Path, build_dir: Path | None, *, timeout: float, progress: Progress,
           memo: _FormulaMemo | None) -> CheckSummary:
    return _check_collection(_read(content_dir, progress), build_dir, timeout=timeout, progress=progress,
                             memo=memo, work=Work())


def _read(content_dir: Path, progress: Progress) -> Collection:
    from dldeck.source import read_collection

    progress("reading content")
    return read_collection(content_dir)


def _check_collection(collection: Collection, build_dir: Path | None, *, timeout: float, progress: Progress,
                      memo: _FormulaMemo | None, work: Work) -> CheckSummary:
    if memo is not None:
        memo.load(collection, work)  # before the formula job forks, so it reuses earlier conversions
    formulas = _FormulaJob(collection, build_dir)
    try:
        # While worker processes verify claims this process only waits: the formulas compile meanwhile.
        results, claim_diagnostics = _verify_claims(collection, build_dir, timeout, progress, work,
                                                    before_verifying=formulas.start_in_background)
        progress("compiling formulas")
        formula_report = formulas.finish()
    finally:
        formulas.close()
    diagnostics: list[Diagnostic] = [*claim_diagnostics, *formula_report.diagnostics]
    if diagnostics:
        raise BuildError(diagnostics)
    counts = {status: sum(1 for r in results if r.status == status) for status in CLAIM_STATUSES}
    return CheckSummary(collection, counts, formula_report.count, tuple(results), work)


class _FormulaJob:
    """Every formula through KaTeX and Typst: in a forked child while claims are verified, else here."""

    def __init__(self, collection: Collection, build_dir: Path | None) -> None:
        self.collection = collection
        self.build_dir = build_dir
        self._child: tuple[Any, Any] | None = None

    def start_in_background(self) -> None:
        import multiprocessing

        from dldeck.mathengines import engines

        if "fork" not in multiprocessing.get_all_start_methods():
            return
        if engines.typst_font_paths.cache_info().currsize:
            return  # Typst has compiled in this process: its thread pool does not survive a fork (hangs)
        context = multiprocessing.get_context("fork")
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=_formulas_in_child, args=(sender, self.collection, self.build_dir),
                                  daemon=True)
        process.start()
        sender.close()
        self._child = (process, receiver)

    def finish(self) -> Any:
        from dldeck.mathengines import compile_formulas, engines

        if self._child is not None:
            process, receiver = self._child
            self._child = None
            try:
                message = receiver.recv()
            except (EOFError, OSError):
                message = ("crash",)
            process.join()
            receiver.close()
            if message[0] == "ok":
                _, report, mathml, typst_math = message
                engines.MATHML_MEMO.update(mathml)  # the writers reuse the child's conversions
                engines.TYPST_MEMO.update(typst_math)
                return report
        # no child, or it died without a word: compile here, where any error surfaces as itself
        return compile_formulas(self.collection, cache_dir=self.build_dir)

    def close(self) -> None:
        if self._child is not None:
            process, receiver = self._child
            if process.is_alive():
                process.kill()
            process.join()
            receiver.close()
            self._child = None


def _formulas_in_child(sender: Any, collection: Collection, build_dir: Path | None) -> None:
    try:
        from dldeck.mathengines import compile_formulas, engines

        report = compile_formulas(collection, cache_dir=build_dir)
        sender.send(("ok", report, engines.MATHML_MEMO, engines.TYPST_MEMO))
    except BaseException as error:  # noqa: BLE001 - the parent compiles in-process to report it properly
        sender.send(("crash", f"{type(error).__name__}: {error}"))
    finally:
        sender.close()


def _facts_hash(collection: Collection) -> str:
    """Facts may be looked up by any card; where they live follows verify.language.facts_directory."""
    root = Path(collection.root)
    return buildcache.hash_json([buildcache.hash_tree(root / "_facts"),
                                 buildcache.hash_tree(root / "content" / "_facts")])


def _check_key(card: Card, facts: str, timeout: float) -> str:
    """Everything a card's claim results depend on, except where in its file the card sits."""
    base = card.checks[0].span.line
    return buildcache.hash_json({"path": card.span.path, "facts": facts, "timeout": float(timeout),
                                 "blocks": [[b.source, b.span.line - base] for b in card.checks]})


def _verify_claims(collection: Collection, build_dir: Path | None, timeout: float, progress: Progress,
                   work: Work, before_verifying: Callable[[], None] | None = None
                   ) -> tuple[list[Any], list[Diagnostic]]:
    """Claims of cards whose checks changed are verified; the others come from the cache."""
    checked = [card for card in collection.cards if card.checks]
    keys: dict[str, str] = {}
    cached: dict[str, list[Any]] = {}
    cache = None
    if build_dir is not None and checked:
        cache = buildcache.JsonCache(build_dir, "checks", buildcache.tool_hash(*CHECK_CODE))
        work.cache_status["checks"] = cache.status
        facts = _facts_hash(collection)
        for card in checked:
            keys[card.slug] = key = _check_key(card, facts, timeout)
            restored = _restore_results(card, cache.get(key))
            if restored is None:
                cache.forget(key)  # absent, or of the wrong shape: never trusted
            else:
                cached[card.slug] = restored
    pending = [card for card in checked if card.slug not in cached]
    fresh: dict[str, list[Any]] = {}
    diagnostics: list[Diagnostic] = []
    if pending:
        from dldeck.verify import verify_collection

        progress(f"verifying claims of {len(pending)} cards")
        if before_verifying is not None:
            before_verifying()
        report = verify_collection(dataclasses.replace(collection, cards=tuple(pending)), timeout=timeout)
        for result in report.results:
            fresh.setdefault(result.slug, []).append(result)
        diagnostics.extend(report.diagnostics)
        work.verified.extend(card.slug for card in pending)
    results: list[Any] = []
    for card in checked:
        if card.slug in cached:
            results.extend(cached[card.slug])
            continue
        card_results = fresh.get(card.slug, [])
        results.extend(card_results)
        if cache is not None and all(r.status in CACHED_STATUSES for r in card_results):
            base = card.checks[0].span.line
            cache.put(keys[card.slug], [[r.line - base, r.text, r.status, r.message] for r in card_results])
    if cache is not None:
        cache.save()
    return results, diagnostics


def _restore_results(card: Card, entry: Any) -> list[Any] | None:
    if not isinstance(entry, list):
        return None
    from dldeck.verify.results import ClaimResult

    base = card.checks[0].span.line
    restored = []
    for item in entry:
        if not (isinstance(item, list) and len(item) == 4 and isinstance(item[0], int)
                and all(isinstance(part, str) for part in item[1:]) and item[2] in CACHED_STATUSES):
            return None
        offset, text, status, message = item
        restored.append(ClaimResult(card.slug, card.span.path, base + offset, text, status, message))
    return restored


class _FormulaMemo:
    """Formula conversions (KaTeX MathML, TeX → Typst) of earlier builds, fed to the engines' memos."""

    def __init__(self, build_dir: Path) -> None:
        self.build_dir = build_dir
        self.caches: tuple[buildcache.JsonCache, buildcache.JsonCache] | None = None

    def _open(self) -> tuple[buildcache.JsonCache, buildcache.JsonCache]:
        if self.caches is None:
            from dldeck.mathengines.formulas import engine_versions

            tool = buildcache.tool_hash("mathengines") + "|" + engine_versions()
            self.caches = (buildcache.JsonCache(self.build_dir, "mathml", tool),
                           buildcache.JsonCache(self.build_dir, "typst-math", tool))
        return self.caches

    def load(self, collection: Collection, work: Work) -> None:
        from dldeck.mathengines import engines
        from dldeck.mathengines.formulas import collection_formulas

        mathml, typst_math = self._open()
        work.cache_status["mathml"] = mathml.status
        work.cache_status["typst-math"] = typst_math.status
        for use in collection_formulas(collection):
            converted = mathml.get(f"{int(use.display)}{use.tex}")
            if isinstance(converted, str):
                engines.MATHML_MEMO[(use.tex, use.display)] = converted
            converted = typst_math.get(use.tex)
            if isinstance(converted, str):
                engines.TYPST_MEMO[use.tex] = converted

    def save(self, collection: Collection) -> None:
        """Keep the conversions this collection uses (only those, so the cache does not grow forever)."""
        from dldeck.mathengines import engines
        from dldeck.mathengines.formulas import collection_formulas

        mathml, typst_math = self._open()
        for use in collection_formulas(collection):
            converted = engines.MATHML_MEMO.get((use.tex, use.display))
            if converted is not None:
                mathml.put(f"{int(use.display)}{use.tex}", converted)
            converted = engines.TYPST_MEMO.get(use.tex)
            if converted is not None:
                typst_math.put(use.tex, converted)
        mathml.save()
        typst_math.save()


# --------------------------------------------------------------------------- build


def build_inputs(content_dir: Path, project_dir: Path, only: Sequence[str], timeout: float) -> str:
    """One hash over everything a build reads, except the manifest (which the build itself writes)."""
    return buildcache.hash_json({
        "content": buildcache.hash_tree(content_dir, skip=(MANIFEST_NAME,)),
        "content_dir": [str(content_dir), str(content_dir.resolve())],
        "config": {name: buildcache.hash_file(project_dir / name) for name in CONFIG_FILES},
        "only": sorted(only),
        "timeout": float(timeout),
        "date": _build_date(),
    })


def build(content_dir: Path, build_dir: Path, *, only: Sequence[str] = BACKENDS, timeout: float = 5.0,
          project_dir: Path | None = None, progress: Progress = _quiet) -> BuildResult:
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
    read_elsewhere += sorted({Path(image.src) for image in _images(summary.collection)})
    stamp.record(tool, inputs, [*read_elsewhere, *result.outputs],
                 {"outputs": [p.name for p in result.outputs], "cards": result.cards,
                  "claims": result.claim_counts, "formulas": result.formulas})
    return result


def _build(content_dir: Path, build_dir: Path, *, only: Sequence[str], timeout: float, project_dir: Path,
           progress: Progress) -> BuildResult:
    from dldeck.config import load_config

    config = load_config(project_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    memo = _FormulaMemo(build_dir)
    collection = _read(content_dir, progress)
    work = Work()
    figure_pass = _FigurePass(collection, build_dir, work)
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
    date = _build_date()
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


def _images(collection: Collection) -> Iterator[Image]:
    """Every image of the collection: files outside the content folder are inputs too."""
    for card in collection.cards:
        yield from _inline_images(card.question)
        for block in card.answer + card.extra + card.sources:
            yield from _block_images(block)


def _block_images(block: Any) -> Iterator[Image]:
    if isinstance(block, Paragraph):
        yield from _inline_images(block.children)
    elif isinstance(block, Table):
        for cell in (*block.header, *(cell for row in block.rows for cell in row)):
            yield from _inline_images(cell)
    elif isinstance(block, ListBlock):
        for item in block.items:
            for child in item:
                yield from _block_images(child)
    elif isinstance(block, Quote):
        for child in block.children:
            yield from _block_images(child)


def _inline_images(inlines: Sequence[Any]) -> Iterator[Image]:
    for node in inlines:
        if isinstance(node, Image):
            yield node
        elif isinstance(node, Strong | Emph | Link | Cloze):
            yield from _inline_images(node.children)


# --------------------------------------------------------------------------- figures


def _figure_key(card: Card, facts: str) -> str:
    return buildcache.hash_json({"slug": card.slug, "facts": facts,
                                 "checks": [b.source for b in card.checks],
                                 "figures": [[b.index, b.source] for b in card.figures]})


class _FigurePass:
    """Figures of unchanged cards come from the cache (if their files are whole); the rest are drawn,
    in a forked process when the platform allows, so that verification can run meanwhile."""

    def __init__(self, collection: Collection, build_dir: Path, work: Work) -> None:
        self.collection = collection
        self.build_dir = build_dir
        self.work = work
        self.cards = [card for card in collection.cards if card.figures]
        self.results: dict[FigureKey, RenderedFigure] = {}
        self.pending: list[Card] = []
        self.keys: dict[str, str] = {}
        self._child: tuple[Any, Any] | None = None
        self.cache = None
        if not self.cards:
            return
        self.cache = buildcache.JsonCache(build_dir, "figures", buildcache.tool_hash(*FIGURE_CODE))
        work.cache_status["figures"] = self.cache.status
        facts = _facts_hash(collection)
        out_dir = Path(build_dir) / "figures"
        for card in self.cards:
            self.keys[card.slug] = key = _figure_key(card, facts)
            restored = _restore_figures(card, self.cache.get(key), out_dir)
            if restored is None:
                self.cache.forget(key)
                self.pending.append(card)
            else:
                self.results.update(restored)

    def _pending_collection(self) -> Collection:
        return dataclasses.replace(self.collection, cards=tuple(self.pending))

    def start(self, progress: Progress) -> None:
        if not self.pending:
            return
        import multiprocessing

        progress(f"rendering {sum(len(c.figures) for c in self.pending)} figures")
        if "fork" not in multiprocessing.get_all_start_methods():
            return  # drawn in finish(), in this process
        context = multiprocessing.get_context("fork")
        receiver, sender = context.Pipe(duplex=False)
        # Not a daemon: the figures pass draws in a process pool of its own.
        process = context.Process(target=_render_in_child,
                                  args=(sender, self._pending_collection(), self.build_dir,
                                        Path(self.collection.root)))
        process.start()
        sender.close()
        self._child = (process, receiver)

    def finish(self) -> dict[FigureKey, RenderedFigure]:
        """All figures of the collection; BuildError lists every figure problem."""
        if self.cache is None:
            return {}
        if self.pending:
            fresh = self._collect()
            self.work.figured.extend(card.slug for card in self.pending)
            self.results.update(fresh)
            for card in self.pending:
                entry = [_figure_entry(self.results[FigureKey(card.slug, b.index)]) for b in card.figures]
                self.cache.put(self.keys[card.slug], entry)
        ids = [figure.figure_id for figure in self.results.values() if figure.figure_id]
        if len(ids) != len(set(ids)):
            # a figure id clashes across cached and fresh cards: the whole pass reports it with both lines
            from dldeck.figures import render_figures

            render_figures(self.collection, self.build_dir, facts_root=Path(self.collection.root))
            raise BuildError([Diagnostic(self.collection.root, 0, "figure ids are not unique")])
        self.cache.save()
        return {FigureKey(card.slug, b.index): self.results[FigureKey(card.slug, b.index)]
                for card in self.cards for b in card.figures}

    def _collect(self) -> dict[FigureKey, RenderedFigure]:
        if self._child is not None:
            process, receiver = self._child
            try:
                kind, payload = receiver.recv()
            except (EOFError, OSError):
                kind, payload = "crash", None
            process.join()
            self._child = None
            if kind == "ok":
                return payload
            if kind == "error":
                raise BuildError(payload)
        # no child, or it died without a word: draw here, where any error surfaces as itself
        from dldeck.figures import render_figures

        root = Path(self.collection.root)
        return render_figures(self._pending_collection(), self.build_dir, facts_root=root)

    def close(self) -> None:
        """Stop a child that is still drawing (the build was interrupted)."""
        if self._child is not None:
            process, receiver = self._child
            if process.is_alive():
                process.kill()
            process.join()
            receiver.close()
            self._child = None


def _render_in_child(sender: Any, collection: Collection, build_dir: Path, facts_root: Path) -> None:
    """Child entry point: the figures, or their diagnostics, back through the pipe."""
    try:
        from dldeck.figures import render_figures

        sender.send(("ok", render_figures(collection, build_dir, facts_root=facts_root)))
    except BuildError as error:
        sender.send(("error", list(error.diagnostics)))
    except BaseException as error:  # noqa: BLE001 - the parent redraws in-process to report it properly
        sender.send(("crash", f"{type(error).__name__}: {error}"))
    finally:
        sender.close()


def _figure_entry(figure: RenderedFigure) -> dict[str, Any]:
    return {"index": figure.key.index, "svg": Path(figure.svg_path).name, "png": Path(figure.png_path).name,
            "caption": figure.caption, "alt": figure.alt, "figure_id": figure.figure_id}


def _restore_figures(card: Card, entry: Any, out_dir: Path) -> dict[FigureKey, RenderedFigure] | None:
    if not isinstance(entry, list) or len(entry) != len(card.figures):
        return None
    restored: dict[FigureKey, RenderedFigure] = {}
    for block, item in zip(card.figures, entry, strict=True):
        fields = ("svg", "png", "caption", "alt", "figure_id")
        if not (isinstance(item, dict) and item.get("index") == block.index
                and all(isinstance(item.get(name), str) for name in fields)):
            return None
        svg, png = out_dir / item["svg"], out_dir / item["png"]
        if "/" in item["svg"] + item["png"] or not is_complete(svg, png):
            return None
        key = FigureKey(card.slug, block.index)
        restored[key] = RenderedFigure(key=key, svg_path=str(svg), png_path=str(png), caption=item["caption"],
                                       alt=item["alt"], figure_id=item["figure_id"])
    return restored


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
