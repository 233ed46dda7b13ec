"""Every formula through KaTeX (MathML) and Typst: compiled in a forked child while claims are
verified, and their conversions cached per formula across builds. When every formula passed the
engines in an earlier build (a prose edit), nothing is compiled and no child starts.

Typst's thread pool does not survive a fork (the child hangs), so once Typst has run in this
process (a long-lived `dldeck watch`, or tests) the formulas compile here instead.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dldeck.buildcache import bulk, sha256_bytes
from dldeck.model import Collection
from dldeck.pipeline.child import ChildProcess
from dldeck.pipeline.executor import Executor
from dldeck.pipeline.outcome import Work

if TYPE_CHECKING:
    from dldeck.mathengines.formulas import FormulaReport


class FormulaJob:
    """Every formula through KaTeX and Typst: in a forked child while claims are verified, else here;
    nothing at all when every formula passed in an earlier build."""

    def __init__(self, collection: Collection, build_dir: Path | None, *, typst: bool = True,
                 memo: FormulaMemo | None = None) -> None:
        """`memo`: where the collection's distinct formulas were already found (`FormulaMemo.load`)."""
        self.collection = collection
        self.build_dir = build_dir
        self.typst = typst  # False: no output needs Typst, so formulas are neither converted nor typeset
        self.memo = memo
        self._child: ChildProcess | None = None

    @cached_property
    def _uses_passed_before(self) -> int | None:
        """How many formula uses the collection has, when every formula passed the engines in an
        earlier build (None otherwise). Decided from the memo's distinct formulas, without walking any
        card or keeping its uses (the claim workers fork after this and would each map them)."""
        from dldeck.mathengines.formulas import all_passed_before

        if self.memo is None or self.build_dir is None:
            return None
        formulas, count = self.memo.distinct(self.collection)
        return count if all_passed_before(formulas, self.build_dir, typst=self.typst) else None

    def start_in_background(self) -> None:
        from dldeck.mathengines import engines

        if self._uses_passed_before is not None or engines.typst_ran_here():
            # nothing for the engines (finish reports at once), or Typst has compiled in this
            # process: its thread pool does not survive a fork (the child hangs)
            return
        # Not a daemon: each formula converts in a time-limited child of this child (timelimit.each_in_child).
        self._child = ChildProcess.start(_compile_with_conversions, self.collection, self.build_dir,
                                         self.typst, daemon=False)

    def finish(self) -> FormulaReport:
        from dldeck.mathengines import compile_formulas, engines
        from dldeck.mathengines.formulas import passed_report

        if self._child is not None:
            kind, payload = self._child.result()
            self._child = None
            if kind == "ok":
                report, mathml, typst_math = payload
                engines.MATHML_MEMO.update(mathml)  # the writers reuse the child's conversions
                engines.TYPST_MEMO.update(typst_math)
                return report
        elif self._uses_passed_before is not None:
            return passed_report(self._uses_passed_before)
        # no child, or it died without a word: compile here, where any error surfaces as itself
        return compile_formulas(self.collection, cache_dir=self.build_dir, typst=self.typst)

    def close(self) -> None:
        if self._child is not None:
            self._child.stop()
            self._child = None


def _compile_with_conversions(collection: Collection, build_dir: Path | None, typst: bool
                              ) -> tuple[FormulaReport, Any, Any]:
    """Child entry point: the report, and the conversions made, for the parent's memos."""
    from dldeck.mathengines import compile_formulas, engines

    report = compile_formulas(collection, cache_dir=build_dir, typst=typst)
    return report, engines.MATHML_MEMO, engines.TYPST_MEMO


class FormulaMemo:
    """Formula conversions (KaTeX MathML, TeX → Typst) of earlier builds, fed to the engines' memos."""

    def __init__(self, build_dir: Path) -> None:
        self.build_dir = build_dir
        self.executors: tuple[Executor, Executor] | None = None
        self._keys: dict[tuple[str, bool], tuple[str, str]] = {}  # each distinct formula's two keys
        self._of: Collection | None = None  # the collection `_keys` holds the formulas of
        self._count = 0  # how many formula uses the collection of `_keys` has

    def _open(self, work: Work | None = None) -> tuple[Executor, Executor]:
        if self.executors is None:
            from dldeck.mathengines.formulas import engine_versions

            version = engine_versions()
            self.executors = tuple(Executor(self.build_dir, name, code=("mathengines",), version=version,
                                            work=work) for name in ("mathml", "typst-math"))
        return self.executors

    def distinct(self, collection: Collection) -> tuple[list[tuple[str, bool]], int]:
        """The collection's distinct formulas, (TeX, display), and how many uses of them it has."""
        return list(self._formulas(collection)), self._count

    def _formulas(self, collection: Collection) -> dict[tuple[str, bool], tuple[str, str]]:
        """The collection's distinct formulas with their keys (found once, for load and save)."""
        from dldeck.source.outline import outline

        if collection is self._of:
            return self._keys
        found: dict[tuple[str, bool], tuple[str, str]] = {}
        count = 0
        for formula in (formula for card in collection.cards for formula in outline(card).formulas):
            count += 1
            if formula not in found:
                tex, display = formula
                # plain hashes of the TeX (and the display flag): this runs for every distinct formula
                found[formula] = self._keys.get(formula) or (
                    sha256_bytes(f"{'display' if display else 'inline'}\0{tex}".encode()),
                    sha256_bytes(tex.encode()))
        self._keys, self._of, self._count = found, collection, count
        return found

    def load(self, collection: Collection, work: Work) -> None:
        from dldeck.mathengines import engines

        mathml, typst_math = self._open(work)
        with bulk():  # what is found here lives as long as the build (see buildcache.bulk)
            for (tex, display), (mathml_key, typst_key) in self._formulas(collection).items():
                converted = mathml.get(mathml_key, _text)
                if converted is not None:
                    engines.MATHML_MEMO[(tex, display)] = converted
                converted = typst_math.get(typst_key, _text)
                if converted is not None:
                    engines.TYPST_MEMO[tex] = converted

    def save(self, collection: Collection) -> None:
        """Keep the conversions this collection uses (only those, so the cache does not grow forever)."""
        from dldeck.mathengines import engines

        mathml, typst_math = self._open()
        for (tex, display), (mathml_key, typst_key) in self._formulas(collection).items():
            converted = engines.MATHML_MEMO.get((tex, display))
            if converted is not None:
                mathml.put(mathml_key, converted)
            converted = engines.TYPST_MEMO.get(tex)
            if converted is not None:
                typst_math.put(typst_key, converted)
        mathml.save()
        typst_math.save()


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
