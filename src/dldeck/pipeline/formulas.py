"""Every formula through KaTeX (MathML) and Typst: the allow-list here on every build, the engines
in a forked child while claims are verified, only on formulas they have not passed before (an edit
that adds none starts no child); their conversions are cached per formula across builds.

Typst's thread pool does not survive a fork (the child hangs), so once Typst has run in this
process (a long-lived `dldeck watch`, or tests) the formulas compile here instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dldeck.buildcache import bulk, sha256_bytes
from dldeck.model import Collection
from dldeck.pipeline.child import ChildProcess
from dldeck.pipeline.executor import Executor
from dldeck.pipeline.outcome import Work

if TYPE_CHECKING:
    from dldeck.mathengines.formulas import FormulaPlan, FormulaReport, FormulaUse


class FormulaJob:
    """Every formula through the allow-list here, and those the engines have not passed before through
    KaTeX and Typst: in a forked child while claims are verified, else here."""

    def __init__(self, collection: Collection, build_dir: Path | None, *, typst: bool = True,
                 uses: list[FormulaUse] | None = None) -> None:
        """`uses`: the collection's formulas if already found (`FormulaMemo.uses`), so they are not
        looked for twice."""
        self.collection = collection
        self.build_dir = build_dir
        self.typst = typst  # False: no output needs Typst, so formulas are neither converted nor typeset
        self._uses = uses
        self._plan: FormulaPlan | None = None
        self._child: ChildProcess | None = None

    def plan(self) -> FormulaPlan:
        from dldeck.mathengines.formulas import collection_formulas, plan_formulas

        if self._plan is None:
            uses = self._uses if self._uses is not None else collection_formulas(self.collection)
            self._plan = plan_formulas(uses, self.build_dir, typst=self.typst)
        return self._plan

    def start_in_background(self) -> None:
        from dldeck.mathengines import engines

        if not self.plan().pending or engines.typst_ran_here():
            # nothing for the engines (finish reports at once), or Typst has compiled in this
            # process: its thread pool does not survive a fork (the child hangs)
            return
        # Not a daemon: each formula converts in a time-limited child of this child (timelimit.each_in_child).
        self._child = ChildProcess.start(_convert_with_conversions, self.plan(), daemon=False)

    def finish(self) -> FormulaReport:
        from dldeck.mathengines import engines
        from dldeck.mathengines.formulas import convert_planned

        if self._child is not None:
            kind, payload = self._child.result()
            self._child = None
            if kind == "ok":
                report, mathml, typst_math = payload
                engines.MATHML_MEMO.update(mathml)  # the writers reuse the child's conversions
                engines.TYPST_MEMO.update(typst_math)
                return report
        # no child, or it died without a word: convert here, where any error surfaces as itself
        return convert_planned(self.plan())

    def close(self) -> None:
        if self._child is not None:
            self._child.stop()
            self._child = None


def _convert_with_conversions(plan: FormulaPlan) -> tuple[FormulaReport, Any, Any]:
    """Child entry point: the report, and the conversions made, for the parent's memos."""
    from dldeck.mathengines import engines
    from dldeck.mathengines.formulas import convert_planned

    report = convert_planned(plan)
    return report, engines.MATHML_MEMO, engines.TYPST_MEMO


class FormulaMemo:
    """Formula conversions (KaTeX MathML, TeX → Typst) of earlier builds, fed to the engines' memos."""

    def __init__(self, build_dir: Path) -> None:
        self.build_dir = build_dir
        self.executors: tuple[Executor, Executor] | None = None
        self._keys: dict[tuple[str, bool], tuple[str, str]] = {}  # each distinct formula's two keys
        self._of: Collection | None = None  # the collection `_keys` holds the formulas of
        self._uses: list[FormulaUse] = []
        self._uses_of: Collection | None = None  # the collection `_uses` are the formulas of

    def _open(self, work: Work | None = None) -> tuple[Executor, Executor]:
        if self.executors is None:
            from dldeck.mathengines.formulas import engine_versions

            version = engine_versions()
            self.executors = tuple(Executor(self.build_dir, name, code=("mathengines",), version=version,
                                            work=work) for name in ("mathml", "typst-math"))
        return self.executors

    def uses(self, collection: Collection) -> list[FormulaUse]:
        """Every formula of the collection where it occurs: looked for once per collection, for
        `load`, the formula job and `save`."""
        from dldeck.mathengines.formulas import collection_formulas

        if collection is not self._uses_of:
            self._uses, self._uses_of = collection_formulas(collection), collection
        return self._uses

    def _formulas(self, collection: Collection) -> dict[tuple[str, bool], tuple[str, str]]:
        """The collection's distinct formulas with their keys (found once, for load and save)."""
        if collection is self._of:
            return self._keys
        found: dict[tuple[str, bool], tuple[str, str]] = {}
        for use in self.uses(collection):
            formula = (use.tex, use.display)
            if formula not in found:
                # plain hashes of the TeX (and the display flag): this runs for every distinct formula
                found[formula] = self._keys.get(formula) or (
                    sha256_bytes(f"{'display' if use.display else 'inline'}\0{use.tex}".encode()),
                    sha256_bytes(use.tex.encode()))
        self._keys, self._of = found, collection
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
