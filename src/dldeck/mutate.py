"""Mutation testing of what the learner reads: does verification notice when a shown number or
operator changes?

One mutation at a time: a number in a formula goes up by one unit of its last digit (`2` → `3`,
`0.5` → `0.6`), or an operator of a formula flips (`+` ↔ `-`, `=` → `\\neq`, `\\neq` → `=`, `\\le` ↔
`\\ge`, `<` ↔ `>`). Only the mutated card is verified again, with the same runner and time limits as a
build, and judged as a build would judge it (`judge`): a mutant is *caught* when the card has a problem
the original had not — a failed claim, an error or a timeout anywhere in the card, and in strict mode
any formula no longer read as verified, a definition or an example value (unread, failing for some
values, undecidable) — or when a formula of the card that carried the ✓ lost it; *equivalent* when
the mutated formula reads as the same statements with the same outcomes, or the mutation only flips the
sign of a literal zero or of a product with a zero factor (`+0` ↔ `-0`, `+p\\cdot0`: the same number);
*still wrong* when it changes a formula shown
as a misconception (`% wrong:`) that is still proved wrong (not caught: the build proves it wrong, not
which wrong version was meant); *still true* when the changed formula is verified for all values (another
true statement: `o(112, 4, 2, 0) = 55` where a floor does not move; not caught — no verification can
call it wrong — and listed, since it often marks a claim worth tightening); and *survives* otherwise (a
formula that states no relation, such as an interval, survives every mutation: nothing checks it).

Not mutated: numbers typed in prose (nothing verifies them; `dldeck check` counts them as "literal"),
formulas marked `% exempt:`, and the expressions of computed numbers — the learner reads the computed
value, which cannot drift from its expression, not the expression itself.
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dldeck.model import Card, Collection, DisplayMath, Math
from dldeck.source.reader import shown_nodes
from dldeck.verify.results import AT_EXAMPLE

PROBLEMS = ("failed", "error", "timeout")
# A number not glued to a letter (so `W_1` keeps `1` as a number but `Conv2d`, `c1::` are not numbers).
_NUMBER = re.compile(r"(?<![A-Za-z0-9.])\d+(?:\.\d+)?(?![0-9])")
_TEX_OPERATORS = (
    (re.compile(r"\\neq?(?![A-Za-z])"), "="),
    (re.compile(r"\\leq?(?![A-Za-z])"), r"\ge"),
    (re.compile(r"\\geq?(?![A-Za-z])"), r"\le"),
    (re.compile(r"(?<![\\<>!:])=(?!=)"), r"\neq"),
    (re.compile(r"(?<!\\)<"), ">"),
    (re.compile(r"(?<!\\)>"), "<"),
    (re.compile(r"(?<![\\{])\+"), "-"),
    (re.compile(r"(?<![\\{])-(?![>-])"), "+"),
)
# The one-digit arguments of `\frac12`, `\tfrac14`, `\sqrt2` (glued to the command, so not a _NUMBER).
_DIGIT_ARGUMENTS = re.compile(r"\\(?:[dt]?frac(\d)(\d)?|sqrt(\d))")
_CLOZE_MARK = re.compile(r"\{\{c\d+::|\}\}")
# A literal zero as a whole operand (`+0`, `-0\cdot v`, `(1-0)`), not `0.5`, `05`, `0^x` or `0!`.
_ZERO_OPERAND = re.compile(r"\s*0(?![0-9.^!_])")


@dataclass(frozen=True)
class Mutation:
    card_index: int
    node: Math | DisplayMath
    original: str  # the formula's TeX
    mutant: str

    @property
    def where(self) -> str:
        return str(self.node.span)


@dataclass(frozen=True)
class Outcome:
    mutation: Mutation
    verdict: str  # "caught" | "survived" | "equivalent" | "still wrong" | "still true"
    relational: bool = False  # the formula states a relation (a survivor there is unguarded)


def bump(number: str) -> str:
    """One unit more in the last digit: `2` → `3`, `0.5` → `0.6`, `9` → `10`."""
    if "." in number:
        whole, fraction = number.split(".")
        scaled = int(whole + fraction) + 1
        text = str(scaled).rjust(len(fraction) + 1, "0")
        return f"{text[:-len(fraction)]}.{text[-len(fraction):]}"
    return str(int(number) + 1)


def _protected(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _CLOZE_MARK.finditer(text)]


def text_mutants(text: str) -> Iterator[str]:
    """Every single-change mutant of a formula: each number bumped, each operator flipped."""
    protected = _protected(text)

    def free(start: int, end: int) -> bool:
        return not any(a < end and start < b for a, b in protected)

    for match in _NUMBER.finditer(text):
        if free(match.start(), match.end()):
            yield text[:match.start()] + bump(match.group()) + text[match.end():]
    for match in _DIGIT_ARGUMENTS.finditer(text):
        for group in range(1, 4):
            start, end = match.span(group)
            if start >= 0 and free(start, end):
                number = bump(match.group(group))
                yield text[:start] + (number if len(number) == 1 else f"{{{number}}}") + text[end:]
    for pattern, replacement in _TEX_OPERATORS:
        for match in pattern.finditer(text):
            if free(match.start(), match.end()):
                # `=x` → `\neq x`, not the unknown command `\neqx`
                glued = replacement[-1].isalpha() and text[match.end():match.end() + 1].isalpha()
                yield text[:match.start()] + replacement + " " * glued + text[match.end():]


def zero_sign_flip(original: str, mutant: str) -> bool:
    """`+0` ↔ `-0`: adding or subtracting a literal zero is the same statement (`(1-0)\\theta_t` and
    `(1+0)\\theta_t`, `+ p\\cdot 0`), so such a mutant is equivalent by construction — no verification
    can tell."""
    if len(original) != len(mutant):
        return False
    changed = [i for i, (a, b) in enumerate(zip(original, mutant, strict=True)) if a != b]
    return (len(changed) == 1 and {original[changed[0]], mutant[changed[0]]} == {"+", "-"}
            and (_ZERO_OPERAND.match(original, changed[0] + 1) is not None
                 or _zero_product(_term(original, changed[0] + 1))))


def _term(text: str, start: int) -> str:
    """The term after a sign: up to the next `+`, `-`, relation or row break outside braces."""
    depth = 0
    for index in range(start, len(text)):
        char = text[index]
        if char in "{(":
            depth += 1
        elif char in "})":
            if depth == 0:
                return text[start:index]
            depth -= 1
        elif depth == 0 and (char in "+-=<>&" or text.startswith("\\\\", index)):
            return text[start:index]
    return text[start:]


def _zero_product(term: str) -> bool:
    """`p\\cdot 0`, `0\\times x`: a product with a literal zero factor (not `0.5`, `0^x`, `10`)."""
    factors = re.split(r"\\cdot|\\times", term)
    return len(factors) > 1 and any(re.fullmatch(r"\s*0\s*", factor) for factor in factors)


def mutations(collection: Collection, files: Sequence[str] = ()) -> list[Mutation]:
    """Every mutation of every shown formula that is not exempt, in reading order."""
    found: list[Mutation] = []
    for card_index, card in enumerate(collection.cards):
        if files and not any(_same_file(card.span.path, f) for f in files):
            continue
        for node in shown_nodes(card):
            if isinstance(node, Math | DisplayMath) and node.claim != "exempt":
                found += [Mutation(card_index, node, node.tex, m)
                          for m in text_mutants(node.tex)]
    return found


def _same_file(card_path: str, wanted: str) -> bool:
    card, want = Path(card_path).parts, Path(wanted).parts
    return card[-len(want):] == want or want[-len(card):] == card


def sample(found: Sequence[Mutation], count: int, seed: int) -> list[Mutation]:
    """A seeded sample, reported in reading order."""
    if count >= len(found):
        return list(found)
    chosen = random.Random(seed).sample(range(len(found)), count)
    return [found[i] for i in sorted(chosen)]


def swap(value: Any, target: object, new: object) -> Any:
    """`value` with the node `target` (by identity) replaced by `new`; untouched parts are shared."""
    if value is target:
        return new
    if isinstance(value, tuple):
        items = tuple(swap(item, target, new) for item in value)
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for field in dataclasses.fields(value):
            current = getattr(value, field.name)
            if isinstance(current, tuple) or dataclasses.is_dataclass(current):
                replaced = swap(current, target, new)
                if replaced is not current:
                    changes[field.name] = replaced
        return dataclasses.replace(value, **changes) if changes else value
    return value


def mutant_card(card: Card, mutation: Mutation) -> Card:
    return swap(card, mutation.node, dataclasses.replace(mutation.node, tex=mutation.mutant))


def _formula_index(card: Card) -> dict[tuple[int, str], int]:
    """Each shown formula of a card by (line, TeX) → its position among the card's formulas: a mutant
    changes one formula's TeX but not its position, so the original and the mutant compare by it."""
    index: dict[tuple[int, str], int] = {}
    formulas = [node for node in shown_nodes(card) if isinstance(node, Math | DisplayMath)]
    for position, node in enumerate(formulas):
        index.setdefault((node.span.line, node.tex), position)
    return index


@dataclass(frozen=True)
class _Judged:
    """What a build would say about one card: its problems, and which of its formulas carry the ✓."""

    problems: frozenset[tuple[Any, ...]]
    verified: frozenset[int]
    relational: frozenset[int]  # formulas that state a relation (they have results)
    general: frozenset[int] = frozenset()  # verified for all values, not only at an example's values


def _judge(card: Card, results: Sequence[Any], strict: bool) -> _Judged:
    """A build's verdict on one card. Problems: failed claims, errors and timeouts anywhere in the card,
    and, in strict mode, every formula that is not read as verified, a definition, an example value,
    exempt or proved wrong. Formulas are named by position, check lines by line and message."""
    from dldeck.pipeline.coverage import UNGUARDED, formula_verdicts

    position = _formula_index(card)
    problems: set[tuple[Any, ...]] = set()
    verified: set[int] = set()
    relational: set[int] = set()
    for verdict in formula_verdicts(results):
        where = position[(verdict.line, verdict.tex)]
        relational.add(where)
        if verdict.verdict == "failed" or (strict and verdict.verdict in UNGUARDED):
            problems.add(("formula", where))
        elif verdict.verdict == "verified":
            verified.add(where)
    at_example = {position[(r.line, r.formula)] for r in results
                  if r.source == "formula" and r.message == AT_EXAMPLE and (r.line, r.formula) in position}
    for result in results:
        if result.source == "check" and result.status in PROBLEMS:
            problems.add(("check", result.line, result.message))
        elif result.source == "computed" and result.status in PROBLEMS:
            problems.add(("computed", result.index))
    return _Judged(frozenset(problems), frozenset(verified), frozenset(relational),
                   frozenset(verified - at_example))


def _statements(results: Sequence[Any], node: Math | DisplayMath, text: str) -> tuple:
    """What the (mutated) formula states to the verifier: its statements as read, and how each ended."""
    return tuple((r.text, r.status) for r in results
                 if r.source == "formula" and r.line == node.span.line and r.formula == text)


def judge(before: _Judged, mutant: Card, mutation: Mutation, original: Sequence[Any],
          results: Sequence[Any], strict: bool = False) -> str:
    """caught, equivalent or survived, as a build of the mutant card would decide it; `before` is
    `_judge` of the unmutated card, whose results are `original`.

    Caught: the mutant card has a problem the original had not (see `_judge`; any formula of the card,
    not only the mutated one: a changed definition that breaks a later formula is caught), or a formula
    that carried the ✓ lost it, or holds now only at the example values of its paragraph where it held
    for all values. Equivalent: the mutated formula reads as the same statements with the
    same outcomes. Survived: anything else."""
    after = _judge(mutant, results, strict)
    if after.problems - before.problems or before.verified - after.verified \
            or before.general - after.general:
        return "caught"
    statements = _statements(original, mutation.node, mutation.original)
    if statements and _statements(results, mutation.node, mutation.mutant) == statements:
        return "equivalent"
    return "survived"


def run(collection: Collection, chosen: Sequence[Mutation], *, timeout: float = 5.0, strict: bool = False,
        progress: Callable[[int, int], None] | None = None) -> list[Outcome]:
    """Verify each mutant card on its own; compare with the unmutated card's own results."""
    from dldeck.verify import verify_collection

    # Per card, once: its own results and a build's verdict on them.
    baseline: dict[int, tuple[tuple[Any, ...], _Judged]] = {}
    outcomes: list[Outcome] = []
    for number, mutation in enumerate(chosen):
        card = collection.cards[mutation.card_index]
        if mutation.card_index not in baseline:
            alone = dataclasses.replace(collection, cards=(card,))
            own = tuple(verify_collection(alone, timeout=timeout, jobs=1).results)
            baseline[mutation.card_index] = own, _judge(card, own, strict)
        original, before = baseline[mutation.card_index]
        where = _formula_index(card)[(mutation.node.span.line, mutation.original)]
        if zero_sign_flip(mutation.original, mutation.mutant):
            verdict = "equivalent"
        else:
            mutant = mutant_card(card, mutation)
            results = verify_collection(dataclasses.replace(collection, cards=(mutant,)), timeout=timeout,
                                        jobs=1).results
            verdict = judge(before, mutant, mutation, original, results, strict)
            if verdict == "survived" and mutation.node.claim == "wrong":
                # a misconception changed is still proved wrong: the build guarantees it is wrong, not
                # which wrong version the author meant (not caught, and not an unguarded fact either)
                verdict = "still wrong"
            elif verdict == "survived" and _still_true(results, mutation):
                verdict = "still true"
        # A survivor in a formula that states a relation (it has results) is a shown fact nothing guards,
        # unlike one in an interval or a bare expression.
        outcomes.append(Outcome(mutation, verdict, where in before.relational))
        if progress is not None:
            progress(number + 1, len(chosen))
    return outcomes


def _still_true(results: Sequence[Any], mutation: Mutation) -> bool:
    """The changed formula is verified, for all values: the learner reads another true statement
    (`o(112, 4, 2, 0) = 55`, a floor that does not move), which no verification can call wrong."""
    own = [r for r in results if r.source == "formula" and r.line == mutation.node.span.line
           and r.formula == mutation.mutant]
    return bool(own) and all(r.status in ("symbolic", "numeric") and r.message != AT_EXAMPLE for r in own)


def summary(outcomes: Sequence[Outcome]) -> str:
    caught = sum(o.verdict == "caught" for o in outcomes)
    equivalent = sum(o.verdict == "equivalent" for o in outcomes)
    judged = len(outcomes) - equivalent
    unguarded = sum(o.verdict == "survived" and o.relational for o in outcomes)
    still_wrong = sum(o.verdict == "still wrong" for o in outcomes)
    still_true = sum(o.verdict == "still true" for o in outcomes)
    share = f"{100 * caught / judged:.0f}%" if judged else "–"
    return (f"{len(outcomes)} mutations, {caught} caught ({share} of {judged} non-equivalent), "
            f"{equivalent} equivalent, {unguarded} survived in relational formulas, "
            f"{still_true} still true, {still_wrong} misconceptions still wrong")
