"""Every formula of every card through both engines, and through Anki's own MathJax where Node.js
and the package are installed (`mathjax.py`), on every build, cached by content hash.

An unknown macro found here fails the build with `path:line:`, instead of showing up months later
as red text on a phone or a hole in the printed sheet.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from dldeck.atomicfile import write_atomically
from dldeck.contain import Refused, open_regular
from dldeck.errors import Diagnostic, quote
from dldeck.mathengines.engines import (
    KATEX_VERSION,
    MATHML_MEMO,
    TYPST_MEMO,
    MathEngineError,
    strip_cloze_markers,
    tex2typst_version,
    tex_to_mathml,
    tex_to_typst,
    typst_check_formulas,
    typst_version,
)
from dldeck.mathengines.mathjax import ANKI_MATHJAX_VERSION, MathJaxUnavailable
from dldeck.mathengines.mathjax import check as mathjax_check
from dldeck.mathengines.mathjax import version_tag as mathjax_version_tag
from dldeck.mathengines.whitelist import FormulaRefused, check_formula
from dldeck.model import Collection
from dldeck.source.outline import FormulaUse, card_formulas
from dldeck.timelimit import each_in_child

CACHE_FILE_NAME = "formulas.json"
FORMULA_TIME_LIMIT = 5.0  # wall-clock seconds to convert one formula (real ones take milliseconds)
MAX_FORMULA_TIMEOUTS = 3  # after this many overruns the remaining formulas are reported, not converted


@dataclass(frozen=True)
class FormulaReport:
    count: int  # formula occurrences checked
    diagnostics: tuple[Diagnostic, ...]
    notes: tuple[str, ...] = ()  # checks that could not run here, one line each

    @property
    def ok(self) -> bool:
        return not self.diagnostics


def engine_versions() -> str:
    return f"{KATEX_VERSION}|{tex2typst_version()}|{typst_version()}|{mathjax_version_tag()}"


_WITHOUT_TYPST = "without-typst:"  # prefix of the cache keys of formulas checked for a build without the PDF


def formula_key(tex: str, display: bool) -> str:
    payload = f"{engine_versions()}\0{'display' if display else 'inline'}\0{tex}"
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- collecting


def collection_formulas(collection: Collection) -> list[FormulaUse]:
    return [use for card in collection.cards for use in card_formulas(card)]


# --------------------------------------------------------------------------- checking


def compile_formulas(collection: Collection, cache_dir: Path | None = None, *,
                     typst: bool = True) -> FormulaReport:
    """The allow-list, KaTeX, Anki's MathJax, then TeX→Typst and a Typst compile, for every formula;
    failures name card, file and line. The allow-list runs on every build (it is cheap and not cached);
    the engines run on formulas not yet cached, each conversion under a time limit in a child process.
    `typst=False` (a build without the PDF): no conversion to Typst and no Typst compile."""
    uses = collection_formulas(collection)
    cache = _load_cache(cache_dir)
    failures, unique, pending = _triage(((use.tex, use.display) for use in uses), cache, typst)

    converted: list[tuple[tuple[str, bool], str]] = []
    katex_passed: list[tuple[str, bool]] = []
    outcomes = each_in_child(_convert if typst else _convert_without_typst, pending, FORMULA_TIME_LIMIT,
                             stop_after=MAX_FORMULA_TIMEOUTS) if pending else []
    for formula, (status, value) in zip(pending, outcomes, strict=True):
        if status == "ok" and value[0] == "converted":
            _, mathml, typst_source = value
            MATHML_MEMO[formula] = mathml  # the writers reuse the child's conversions
            if typst_source is not None:
                TYPST_MEMO[formula[0]] = typst_source
                converted.append((formula, typst_source))
            katex_passed.append(formula)
        elif status == "ok":
            failures[formula] = value[1]
        else:
            failures[formula] = _overrun_message(formula[0], status, value)
    results = typst_check_formulas([(typst_source, formula[1]) for formula, typst_source in converted])
    for (formula, typst_source), problem in zip(converted, results, strict=True):
        if problem is not None:
            failures[formula] = (
                f"formula does not compile in Typst: {quote(formula[0])} "
                f"(converted to {quote(typst_source)}) — {problem}"
            )
    notes = _check_in_anki_mathjax(katex_passed, failures)

    newly_passed = {unique[formula] for formula in pending if formula not in failures}
    if newly_passed - cache:  # nothing new passed: the cache file already says all it would
        _save_cache(cache_dir, cache | newly_passed)

    diagnostics = [
        Diagnostic(use.span.path, use.span.line, f"{failures[(use.tex, use.display)]} [card {use.slug}]")
        for use in uses
        if (use.tex, use.display) in failures
    ]
    return FormulaReport(count=len(uses), diagnostics=tuple(sorted(set(diagnostics))), notes=notes)


def _triage(formulas: Iterable[tuple[str, bool]], passed: set[str], typst: bool
            ) -> tuple[dict[tuple[str, bool], str], dict[tuple[str, bool], str], list[tuple[str, bool]]]:
    """The allow-list on each distinct formula: those it refuses (with why), those it lets through
    (with their cache keys) and, of these, the ones no earlier build passed (`pending`)."""
    failures: dict[tuple[str, bool], str] = {}
    unique: dict[tuple[str, bool], str] = {}
    for formula in formulas:
        if formula in failures or formula in unique:
            continue
        try:
            check_formula(formula[0])
        except FormulaRefused as refused:
            failures[formula] = f"formula refused: {refused}: {quote(formula[0])}"
            continue
        unique[formula] = formula_key(*formula)
    if not typst:  # a formula that passed every engine, or these, needs no check for a build without the PDF
        unique = {formula: _WITHOUT_TYPST + key for formula, key in unique.items()
                  if key not in passed and _WITHOUT_TYPST + key not in passed}
    return failures, unique, [formula for formula, key in unique.items() if key not in passed]


def all_passed_before(formulas: Iterable[tuple[str, bool]], cache_dir: Path | None, *,
                      typst: bool = True) -> bool:
    """Whether every formula passes the allow-list and passed the engines in an earlier build: then
    `compile_formulas` would convert nothing and find nothing, and `passed_report` is its report (an
    edit that adds no formula starts no child and walks no card for it)."""
    failures, _, pending = _triage(formulas, _load_cache(cache_dir), typst)
    return not failures and not pending


def passed_report(count: int) -> FormulaReport:
    """`compile_formulas`' report on `count` formula uses that all passed before."""
    return FormulaReport(count=count, diagnostics=(), notes=_check_in_anki_mathjax([], {}))


def _check_in_anki_mathjax(formulas: list[tuple[str, bool]], failures: dict[tuple[str, bool], str]
                           ) -> tuple[str, ...]:
    """Records what Anki would show instead of a formula; a note when its MathJax cannot run here."""
    try:
        problems = mathjax_check([(strip_cloze_markers(tex), display) for tex, display in formulas])
    except MathJaxUnavailable as exc:
        return (f"Anki's MathJax check skipped: {exc}",)
    engine = f"MathJax {ANKI_MATHJAX_VERSION} as Anki 26.x sets it up"
    for formula, problem in zip(formulas, problems, strict=True):
        if problem is not None:
            message = f"formula shows wrong in Anki ({engine}): {quote(formula[0])} — {problem}"
            failures.setdefault(formula, message)
    return ()


def _convert(formula: tuple[str, bool], typst: bool = True) -> tuple[str, str, str | None] | tuple[str, str]:
    """("converted", MathML, Typst or None) or ("failed", message): run in the time-limited child."""
    tex, display = formula
    try:
        mathml = tex_to_mathml(tex, display)
    except MathEngineError as exc:
        return ("failed", f"formula does not compile in KaTeX: {quote(tex)} — {exc.engine_message}")
    if not typst:
        return ("converted", mathml, None)
    try:
        return ("converted", mathml, tex_to_typst(tex))
    except MathEngineError as exc:
        return ("failed",
                f"formula does not convert to Typst (tex2typst): {quote(tex)} — {exc.engine_message}")


def _convert_without_typst(formula: tuple[str, bool]) -> tuple[str, str, str | None] | tuple[str, str]:
    return _convert(formula, typst=False)


def _overrun_message(tex: str, status: str, why: object) -> str:
    if status == "timeout":
        return (f"formula took longer than {FORMULA_TIME_LIMIT:g} s to convert (time limit): "
                f"{quote(tex)}; simplify it")
    if status == "skipped":
        return (f"formula not converted: {MAX_FORMULA_TIMEOUTS} formulas already hit the time limit: "
                f"{quote(tex)}")
    if status == "crash":
        return f"the formula engines crashed on {quote(tex)}; simplify it"
    return f"the formula engines failed on {quote(tex)}: {why}"


# --------------------------------------------------------------------------- cache


def _load_cache(cache_dir: Path | None) -> set[str]:
    if cache_dir is None:
        return set()
    path = cache_dir / CACHE_FILE_NAME
    try:
        with open_regular(path) as handle:  # a FIFO planted in build/ must not hang the build
            data = json.loads(handle.read().decode("utf-8"))
    except (Refused, OSError, ValueError):
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
