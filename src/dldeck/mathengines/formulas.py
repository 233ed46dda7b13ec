"""Every formula of every card through both engines, and through Anki's own MathJax where Node.js
and the package are installed (`mathjax.py`), on every build, cached by content hash.

An unknown macro found here fails the build with `path:line:`, instead of showing up months later
as red text on a phone or a hole in the printed sheet.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from dldeck.atomicfile import write_atomically
from dldeck.errors import Diagnostic, quote
from dldeck.mathengines import mathjax
from dldeck.mathengines.engines import (
    KATEX_VERSION,
    MathEngineError,
    strip_cloze_markers,
    tex2typst_version,
    tex_to_mathml,
    tex_to_typst,
    typst_check_formulas,
    typst_version,
)
from dldeck.model import (
    Block,
    Card,
    Cloze,
    Collection,
    DisplayMath,
    Emph,
    Inline,
    Link,
    ListBlock,
    Math,
    Paragraph,
    Quote,
    SourceSpan,
    Strong,
    Table,
)

CACHE_FILE_NAME = "formulas.json"


@dataclass(frozen=True)
class FormulaUse:
    """One formula where it occurs: the same TeX in two cards is checked once, reported twice."""

    tex: str
    display: bool
    span: SourceSpan
    slug: str


@dataclass(frozen=True)
class FormulaReport:
    count: int  # formula occurrences checked
    diagnostics: tuple[Diagnostic, ...]
    notes: tuple[str, ...] = ()  # checks that could not run here, one line each

    @property
    def ok(self) -> bool:
        return not self.diagnostics


def engine_versions() -> str:
    return f"{KATEX_VERSION}|{tex2typst_version()}|{typst_version()}|{mathjax.version_tag()}"


def formula_key(tex: str, display: bool) -> str:
    payload = f"{engine_versions()}\0{'display' if display else 'inline'}\0{tex}"
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- collecting


def card_formulas(card: Card) -> Iterator[FormulaUse]:
    """Inline and display math in question, answer, extra and sources, cloze text included."""
    for node in _inline_nodes(card.question):
        if isinstance(node, Math):
            yield FormulaUse(node.tex, False, node.span, card.slug)
    for block in card.answer + card.extra + card.sources:
        yield from _block_formulas(block, card.slug)


def _block_formulas(block: Block, slug: str) -> Iterator[FormulaUse]:
    if isinstance(block, DisplayMath):
        yield FormulaUse(block.tex, True, block.span, slug)
        return
    for inlines in _block_inline_runs(block):
        for node in _inline_nodes(inlines):
            if isinstance(node, Math):
                yield FormulaUse(node.tex, False, node.span, slug)
    if isinstance(block, ListBlock):
        for item in block.items:
            for child in item:
                yield from _block_formulas(child, slug)
    elif isinstance(block, Quote):
        for child in block.children:
            yield from _block_formulas(child, slug)


def _block_inline_runs(block: Block) -> Iterator[tuple[Inline, ...]]:
    if isinstance(block, Paragraph):
        yield block.children
    elif isinstance(block, Table):
        yield from block.header
        for row in block.rows:
            yield from row


def _inline_nodes(inlines: Iterable[Inline]) -> Iterator[Inline]:
    for node in inlines:
        yield node
        if isinstance(node, Strong | Emph | Link | Cloze):
            yield from _inline_nodes(node.children)


def collection_formulas(collection: Collection) -> list[FormulaUse]:
    return [use for card in collection.cards for use in card_formulas(card)]


# --------------------------------------------------------------------------- checking


def compile_formulas(collection: Collection, cache_dir: Path | None = None) -> FormulaReport:
    """KaTeX, Anki's MathJax, then TeX→Typst and a Typst compile, for every formula; failures name card,
    file and line."""
    uses = collection_formulas(collection)
    cache = _load_cache(cache_dir)
    unique: dict[tuple[str, bool], str] = {}
    for use in uses:
        unique.setdefault((use.tex, use.display), formula_key(use.tex, use.display))
    pending = [formula for formula, key in unique.items() if key not in cache]

    failures: dict[tuple[str, bool], str] = {}
    katex_passed: list[tuple[str, bool]] = []
    converted: list[tuple[tuple[str, bool], str]] = []
    for tex, display in pending:
        try:
            tex_to_mathml(tex, display)
        except MathEngineError as exc:
            failures[(tex, display)] = (
                f"formula does not compile in KaTeX: {quote(tex)} — {exc.engine_message}"
            )
            continue
        katex_passed.append((tex, display))
        try:
            converted.append(((tex, display), tex_to_typst(tex)))
        except MathEngineError as exc:
            failures[(tex, display)] = (
                f"formula does not convert to Typst (tex2typst): {quote(tex)} — {exc.engine_message}"
            )
    results = typst_check_formulas([(typst_source, formula[1]) for formula, typst_source in converted])
    for (formula, typst_source), problem in zip(converted, results, strict=True):
        if problem is not None:
            failures[formula] = (
                f"formula does not compile in Typst: {quote(formula[0])} "
                f"(converted to {quote(typst_source)}) — {problem}"
            )

    notes = _check_in_anki_mathjax(katex_passed, failures)

    for formula in pending:
        if formula not in failures:
            cache.add(unique[formula])
    _save_cache(cache_dir, cache)

    diagnostics = [
        Diagnostic(use.span.path, use.span.line, f"{failures[(use.tex, use.display)]} [card {use.slug}]")
        for use in uses
        if (use.tex, use.display) in failures
    ]
    return FormulaReport(count=len(uses), diagnostics=tuple(sorted(set(diagnostics))), notes=notes)


def _check_in_anki_mathjax(formulas: list[tuple[str, bool]], failures: dict[tuple[str, bool], str]
                           ) -> tuple[str, ...]:
    """Records what Anki would show instead of a formula; a note when its MathJax cannot run here."""
    try:
        problems = mathjax.check([(strip_cloze_markers(tex), display) for tex, display in formulas])
    except mathjax.MathJaxUnavailable as exc:
        return (f"Anki's MathJax check skipped: {exc}",)
    engine = f"MathJax {mathjax.ANKI_MATHJAX_VERSION} as Anki 26.x sets it up"
    for formula, problem in zip(formulas, problems, strict=True):
        if problem is not None:
            message = f"formula shows wrong in Anki ({engine}): {quote(formula[0])} — {problem}"
            failures.setdefault(formula, message)
    return ()


# --------------------------------------------------------------------------- cache


def _load_cache(cache_dir: Path | None) -> set[str]:
    if cache_dir is None:
        return set()
    path = cache_dir / CACHE_FILE_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(data, dict) or data.get("engines") != engine_versions():
        return set()
    passed = data.get("passed", [])
    return {key for key in passed if isinstance(key, str)} if isinstance(passed, list) else set()


def _save_cache(cache_dir: Path | None, passed: set[str]) -> None:
    """Only successes are cached: a failing formula is re-checked, so its message is always fresh."""
    if cache_dir is None:
        return
    text = json.dumps({"engines": engine_versions(), "passed": sorted(passed)}, indent=0)
    write_atomically(cache_dir / CACHE_FILE_NAME, (text + "\n").encode("utf-8"))
