"""How much of what the learner reads was verified: per shown formula a verdict, the computed numbers,
and the number literals typed in prose. Kept apart from the claims pass so `check` can print it and
writers can mark what was verified without knowing how results are cached."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from dldeck.errors import Diagnostic, quote
from dldeck.model import Card, Collection, ComputedKey, Paragraph, Text, Verified

# A verdict per formula, from its statements' statuses (the first that applies wins).
FORMULA_VERDICTS = ("failed", "unread", "wrong", "exempt", "exempt expression", "unused", "verified",
                    "unused definition", "definition", "setting")
# Verdicts a strict build refuses besides failures: a formula not read, and a shown example value or
# definition no claim uses (a changed value or term would pass).
UNGUARDED = ("unread", "unused", "unused definition")
_PROBLEMS = ("failed", "error", "timeout")
# A number typed in prose: digits, with `,` or `.` between digit groups (`61,100,840`, `0.5`).
PROSE_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


@dataclass(frozen=True)
class FormulaVerdict:
    slug: str
    path: str
    line: int
    tex: str
    verdict: str  # one of FORMULA_VERDICTS
    message: str = ""


@dataclass(frozen=True)
class Coverage:
    formulas: tuple[FormulaVerdict, ...] = ()
    computed: int = 0
    cards: Sequence[Card] = ()  # whose prose numbers `literal` counts
    counts: dict[str, int] = field(default_factory=dict)

    @cached_property
    def literal(self) -> int:
        """Counted when asked (only `dldeck check` prints it): walking every card's text for it was
        about 0.05 s of every 5,000-card build."""
        return prose_literals(self.cards)

    def line(self) -> str:
        c = self.counts
        examples = c.get("setting", 0) + c.get("unused", 0)
        definitions = c.get("definition", 0) + c.get("unused definition", 0)
        relational = len(self.formulas) - c.get("exempt expression", 0)
        return (f"formulas: {relational} relational — {c.get('verified', 0)} verified, "
                f"{definitions} definitions ({c.get('unused definition', 0)} used by no claim), "
                f"{examples} example values "
                f"({c.get('unused', 0)} used by no claim), "
                f"{c.get('exempt', 0)} exempt, {c.get('wrong', 0)} wrong (proved wrong), "
                f"{c.get('unread', 0)} unread; {c.get('exempt expression', 0)} exempt expressions (no "
                f"relation); prose numbers: {self.computed} computed, {self.literal} literal")


_SAYS_WHY = frozenset((*UNGUARDED, *_PROBLEMS))  # statuses whose message a formula's verdict shows


def _verdict(statuses: set[str]) -> str:
    """A formula's verdict from the statuses of its statements (the first rule that applies)."""
    if not statuses.isdisjoint(_PROBLEMS):
        return "failed"
    if "unread" in statuses:
        return "unread"
    for status in ("wrong", "exempt", "exempt expression", "unused"):
        if status in statuses:
            return status
    if not statuses.isdisjoint(("symbolic", "numeric")):
        return "verified"
    for status in ("unused definition", "definition"):
        if status in statuses:
            return status
    return "setting"


def formula_verdicts(results: Iterable) -> tuple[FormulaVerdict, ...]:
    """One verdict per shown formula (statements of one formula share path, line and TeX)."""
    groups: dict[tuple[str, int, str], list] = {}
    slugs: dict[tuple[str, int, str], str] = {}
    for result in results:
        if result.source == "formula":
            key = (result.path, result.line, result.formula)
            groups.setdefault(key, []).append(result)
            slugs.setdefault(key, result.slug)
    verdicts = []
    for key, group in groups.items():
        statuses = {r.status for r in group}
        verdict = _verdict(statuses)
        message = ""
        if statuses & _SAYS_WHY:
            message = next((r.message for r in group if r.status in _SAYS_WHY and r.message), "")
        verdicts.append(FormulaVerdict(slugs[key], key[0], key[1], key[2], verdict, message))
    return tuple(sorted(verdicts, key=lambda v: (v.path, v.line, v.tex)))


def prose_literals(cards: Sequence[Card]) -> int:
    """Numbers typed in the text of questions, answers and extras (not sources, code or formulas)."""
    from dldeck.source.reader import walk_inlines

    count = 0
    for card in cards:
        for block in (Paragraph(card.question, card.span), *card.answer, *card.extra):
            for node in walk_inlines(block):
                if isinstance(node, Text):
                    count += len(PROSE_NUMBER.findall(node.text))
    return count


def coverage(collection: Collection, results: Sequence) -> Coverage:
    formulas = formula_verdicts(results)
    counts: dict[str, int] = {}
    for formula in formulas:
        counts[formula.verdict] = counts.get(formula.verdict, 0) + 1
    computed = sum(1 for r in results if r.source == "computed")
    return Coverage(formulas, computed, collection.cards, counts)


def verified(results: Sequence, formulas: Sequence[FormulaVerdict]) -> Verified:
    """What writers mark: formulas whose every relation was verified, and each computed number's text."""
    return Verified(
        frozenset((f.path, f.line, f.tex) for f in formulas if f.verdict == "verified"),
        {ComputedKey(r.slug, r.index): r.value for r in results
         if r.source == "computed" and r.status == "computed"},
    )


def unread_diagnostics(formulas: Sequence[FormulaVerdict]) -> list[Diagnostic]:
    """Strict mode: a relation the reader cannot read, and nobody exempted, is an error; so is an
    example value or definition no claim uses (a changed value or term would pass)."""
    return [
        Diagnostic(f.path, f.line, f"formula {quote(f.tex, 80)} is not read as a claim: {f.message}"
                   + ("" if "% exempt:" in f.message else HOW_TO_DECLARE)) if f.verdict == "unread"
        else Diagnostic(f.path, f.line, f"formula {quote(f.tex, 80)}: {f.message}")
        for f in formulas if f.verdict in UNGUARDED
    ]


HOW_TO_DECLARE = (" — declare its notation (`notation:` in the front matter or a ```notation block), "
                  "define the name, or end the formula with `% exempt: <reason>`")
