"""Mutation testing of what the learner reads: does verification notice when a shown number or
operator changes?

One mutation at a time: a number in a formula or in a computed number's expression goes up by one
unit of its last digit (`2` → `3`, `0.5` → `0.6`), or an operator of a formula flips (`+` ↔ `-`,
`=` → `\\neq`, `\\neq` → `=`, `\\le` ↔ `\\ge`, `<` ↔ `>`). Only the mutated card is verified again, with
the same runner and time limits as a build. A mutant is *caught* when verification reports a problem,
*equivalent* when it reads as the same claims (a formula that states something) or prints the same
text (a computed number), and *survives* otherwise (a formula that states no relation, such as an
interval, survives every mutation: nothing checks it). A verified formula whose mutant is no longer
verified counts as caught: it loses its ✓, and strict mode refuses it. Numbers typed in prose are not
mutated: nothing verifies them, which is what `dldeck check` counts as "literal". Formulas marked
`% exempt:` are skipped for the same reason.
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dldeck.model import Card, Collection, Computed, DisplayMath, Math
from dldeck.source.reader import shown_nodes

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
_CLOZE_MARK = re.compile(r"\{\{c\d+::|\}\}")


@dataclass(frozen=True)
class Mutation:
    card_index: int
    node: Math | DisplayMath | Computed
    original: str  # the formula's TeX, or the computed number's expression
    mutant: str

    @property
    def where(self) -> str:
        return str(self.node.span)


@dataclass(frozen=True)
class Outcome:
    mutation: Mutation
    verdict: str  # "caught" | "survived" | "equivalent"


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


def text_mutants(text: str, operators: bool) -> Iterator[str]:
    """Every single-change mutant of a formula (numbers and operators) or expression (numbers)."""
    protected = _protected(text)

    def free(start: int, end: int) -> bool:
        return not any(a < end and start < b for a, b in protected)

    for match in _NUMBER.finditer(text):
        if free(match.start(), match.end()):
            yield text[:match.start()] + bump(match.group()) + text[match.end():]
    if not operators:
        return
    for pattern, replacement in _TEX_OPERATORS:
        for match in pattern.finditer(text):
            if free(match.start(), match.end()):
                yield text[:match.start()] + replacement + text[match.end():]


def mutations(collection: Collection, files: Sequence[str] = ()) -> list[Mutation]:
    """Every mutation of every shown formula (not exempt) and computed number, in reading order."""
    found: list[Mutation] = []
    for card_index, card in enumerate(collection.cards):
        if files and not any(_same_file(card.span.path, f) for f in files):
            continue
        for node in shown_nodes(card):
            if isinstance(node, Computed):
                found += [Mutation(card_index, node, node.expression, m)
                          for m in text_mutants(node.expression, operators=False)]
            elif isinstance(node, Math | DisplayMath) and node.claim != "exempt":
                found += [Mutation(card_index, node, node.tex, m)
                          for m in text_mutants(node.tex, operators=True)]
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
    node = mutation.node
    if isinstance(node, Computed):
        return swap(card, node, dataclasses.replace(node, expression=mutation.mutant))
    return swap(card, node, dataclasses.replace(node, tex=mutation.mutant))


def _signature(results: Sequence[Any], node: Math | DisplayMath | Computed, text: str) -> tuple:
    """What the (mutated) text means to the verifier: its statements, or the computed number's text."""
    if isinstance(node, Computed):
        return tuple(r.value for r in results if r.source == "computed" and r.index == node.index)
    return tuple((r.text, r.status == "unread") for r in results
                 if r.source == "formula" and r.line == node.span.line and r.formula == text)


def _problems(results: Sequence[Any]) -> set[tuple[int, str]]:
    return {(r.line, r.message) for r in results if r.status in PROBLEMS}


def _verified(results: Sequence[Any], node: Math | DisplayMath | Computed, text: str) -> bool:
    """The formula carried the ✓: every relation it states was verified."""
    statuses = [r.status for r in results
                if r.source == "formula" and r.line == node.span.line and r.formula == text]
    return bool(statuses) and all(status in ("symbolic", "numeric", "definition") for status in statuses) \
        and any(status != "definition" for status in statuses)


def run(collection: Collection, chosen: Sequence[Mutation], *, timeout: float = 5.0,
        progress: Callable[[int, int], None] | None = None) -> list[Outcome]:
    """Verify each mutant card on its own; compare with the unmutated card's own results."""
    from dldeck.verify import verify_collection

    baseline: dict[int, tuple] = {}
    outcomes: list[Outcome] = []
    for number, mutation in enumerate(chosen):
        card = collection.cards[mutation.card_index]
        if mutation.card_index not in baseline:
            alone = dataclasses.replace(collection, cards=(card,))
            baseline[mutation.card_index] = tuple(verify_collection(alone, timeout=timeout, jobs=1).results)
        mutant = mutant_card(card, mutation)
        results = verify_collection(dataclasses.replace(collection, cards=(mutant,)), timeout=timeout,
                                    jobs=1).results
        original = baseline[mutation.card_index]
        lost_mark = (_verified(original, mutation.node, mutation.original)
                     and not _verified(results, mutation.node, mutation.mutant))
        if _problems(results) - _problems(original) or lost_mark:
            verdict = "caught"
        elif (_signature(original, mutation.node, mutation.original)
              and _signature(results, mutation.node, mutation.mutant)
              == _signature(original, mutation.node, mutation.original)):
            verdict = "equivalent"
        else:
            verdict = "survived"
        outcomes.append(Outcome(mutation, verdict))
        if progress is not None:
            progress(number + 1, len(chosen))
    return outcomes


def summary(outcomes: Sequence[Outcome]) -> str:
    caught = sum(o.verdict == "caught" for o in outcomes)
    equivalent = sum(o.verdict == "equivalent" for o in outcomes)
    judged = len(outcomes) - equivalent
    share = f"{100 * caught / judged:.0f}%" if judged else "–"
    return (f"{len(outcomes)} mutations, {caught} caught ({share} of {judged} non-equivalent), "
            f"{equivalent} equivalent")
