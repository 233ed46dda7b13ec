"""Claims verified with a cache per card: an edit re-verifies only the cards it touched.

A card's claims are its check lines, its shown formulas and its computed numbers. Its results are
keyed by its check sources, its formulas' TeX and markers, which formulas share a sentence and which
are prose conditions, its computed expressions and notation
(positions relative to the card, so moving a card in its file keeps them), its file, the facts, the
time limit and the verifier's code. Only verdicts are cached as a card's results: failures and
errors are always re-checked, so their messages are fresh and a failed build never poisons the
cache. A claim that timed out is remembered under the same key, so a rebuild reports it again at
once instead of spending its time limit again, until the card, the facts, `--timeout` or the
verifier change. sympy is imported only when a card needs checking.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from dldeck.buildcache import rows_of
from dldeck.errors import Diagnostic
from dldeck.model import Card, Collection
from dldeck.pipeline.executor import Executor
from dldeck.pipeline.inputs import facts_hash
from dldeck.pipeline.outcome import Progress, Work

CLAIM_STATUSES = ("symbolic", "numeric", "failed", "timeout", "error")
# failures, errors and timeouts are always re-checked; the rest are verdicts worth keeping
CACHED_STATUSES = ("symbolic", "numeric", "definition", "unused definition", "wrong", "exempt",
                   "exempt expression", "setting", "unused", "unread", "computed")
_TIMEOUTS = "timeouts:"  # prefix of the cache entries that remember a card's timed-out claims
REMEMBERED = " (remembered from an earlier build: edit the card or raise --timeout to try again)"
# The parts of dldeck whose code decides claim results: editing them invalidates the cache.
CHECK_CODE = ("verify", "model.py", "errors.py", "pipeline/claims.py")


def verify_claims(collection: Collection, build_dir: Path | None, timeout: float, progress: Progress,
                  work: Work, before_verifying: Callable[[], None] | None = None
                  ) -> tuple[list[Any], list[Diagnostic]]:
    """Claims of cards whose checks changed are verified; the others come from the cache."""
    checked = [card for card in collection.cards if has_claims(card)]
    executor = Executor(build_dir if checked else None, "checks", code=CHECK_CODE, work=work)
    split, known = _restore(checked, collection, executor, build_dir, timeout, work)
    cached = {card.slug: restored for _, card, restored in split.reused}
    fresh, diagnostics, unfinished = _verify_distinct(collection, split.pending, timeout, known, progress,
                                                      work, before_verifying)
    for key, card in split.pending:
        card_results = fresh.get(card.slug, [])
        cached[card.slug] = card_results
        if card.slug in unfinished:
            continue  # verification stopped before its end (too many timeouts): nothing of it is a verdict
        if all(r.status in CACHED_STATUSES for r in card_results):
            executor.put(key, _entries(card, card_results))
        timed_out = [dataclasses.replace(r, message=r.message.removesuffix(REMEMBERED))
                     for r in card_results if r.status == "timeout"]
        if timed_out:
            executor.put(_TIMEOUTS + key, _entries(card, timed_out))
    executor.save()
    return [result for card in checked for result in cached[card.slug]], diagnostics


def _restore(checked: list[Card], collection: Collection, executor: Executor, build_dir: Path | None,
             timeout: float, work: Work) -> tuple[Any, dict[tuple[str, int], Any]]:
    """Which cards' results are cached (restored) and which must be verified, and the remembered
    timeouts of these by (slug, line). Every card's description and locations are dropped on return,
    before the workers fork: each would map them again (about 14 MB at 20,000 cards)."""
    from dldeck.pipeline.cardkeys import CardKeys

    facts = facts_hash(collection) if executor.cache is not None else ""
    described = CardKeys(build_dir if checked else None, "check-inputs", check_inputs, work,
                         locate=_locations)
    split = executor.split(checked, lambda card: [described(card), facts, float(timeout)],
                           lambda card, entry: _restore_results(card, entry,
                                                                where=described.located.get(card.slug)))
    described.save()
    known: dict[tuple[str, int], Any] = {}
    for key, card in split.pending:
        for result in executor.get(_TIMEOUTS + key, lambda entry, card=card: _restore_results(
                card, entry, "timeout", where=described.located.get(card.slug))) or ():
            known[(card.slug, result.line)] = dataclasses.replace(result, message=result.message + REMEMBERED)
    return split, known


def _verify_distinct(collection: Collection, pending: list[tuple[str, Card]], timeout: float,
                     known: dict[tuple[str, int], Any], progress: Progress, work: Work,
                     before_verifying: Callable[[], None] | None
                     ) -> tuple[dict[str, list[Any]], list[Diagnostic], set[str]]:
    """Results by card slug, diagnostics, and the slugs of cards whose verification did not finish
    (it stops after too many timeouts). Cards with the same claim inputs (the same key) are verified
    once: the others take the first one's verdicts, anchored to their own lines as a cached entry
    would be. A card whose twin did not end in verdicts only (a failure, an error, a timeout) is
    verified itself, so every message it prints is its own."""
    results: dict[str, list[Any]] = {}
    diagnostics: list[Diagnostic] = []
    unfinished: set[str] = set()

    def verify(cards: list[Card]) -> Any:
        from dldeck.verify import verify_collection

        report = verify_collection(dataclasses.replace(collection, cards=tuple(cards)), timeout=timeout,
                                   known=known, progress=lambda done, total: progress(
                                       f"verifying claims: {done}/{total} cards"))
        for result in report.results:
            results.setdefault(result.slug, []).append(result)
        diagnostics.extend(report.diagnostics)
        unfinished.update(report.not_run)
        work.verified.extend(card.slug for card in cards)
        return report

    first: dict[str, Card] = {}
    for key, card in pending:
        first.setdefault(key, card)
    if not first:
        return results, diagnostics, unfinished
    twins = len(pending) - len(first)
    progress(f"verifying claims of {len(first)} card{'s' * (len(first) != 1)}"
             + (f" ({twins} more claim the same as one of them)" if twins else ""))
    if before_verifying is not None:
        before_verifying()
    report = verify(list(first.values()))
    left, skipped = [], []
    for key, card in pending:
        if first[key] is card:
            continue
        if report.stopped is not None:  # it stopped early: nothing more is checked; its message counts these
            unfinished.add(card.slug)
            skipped.append(card)
            continue
        verdicts = results.get(first[key].slug, [])
        restored = (_restore_results(card, _entries(first[key], verdicts))
                    if all(r.status in CACHED_STATUSES for r in verdicts) else None)
        if restored is None:
            left.append(card)
        else:
            results[card.slug] = restored
    if skipped:
        diagnostics[diagnostics.index(report.stopped)] = _not_checked_with(report, skipped, first)
    if left:
        verify(left)
    return results, diagnostics, unfinished


def _not_checked_with(report: Any, skipped: list[Card], first: dict[str, Card]) -> Diagnostic:
    """The stopped verification's message, counting also the cards that share the checks of a card it
    verified (they were left for it, so none of their claims was checked)."""
    from dldeck.verify.runner import claim_places, not_checked

    by_slug = {card.slug: card for card in first.values()}
    unchecked = [*report.unchecked, *(place for card in skipped for place in claim_places(card))]
    return not_checked(unchecked, [*(by_slug[slug] for slug in report.not_run), *skipped])


def has_claims(card: Card) -> bool:
    """A card with a check block, a formula or a computed number has something to verify."""
    from dldeck.source.outline import outline

    return outline(card).claims


def _shown(card: Card) -> tuple[list[Any], dict[int, Any], list[int]]:
    """The card's formulas in reading order, its computed numbers by index, and how many check blocks
    come before each formula in that order (answer, then extra, wherever the extra sits in the file):
    definitions run in that order, so a check block moved across a formula changes what its names mean."""
    from dldeck.model import CheckBlock, Computed
    from dldeck.source.reader import shown_nodes

    formulas, computed, checks_before, checks = [], {}, [], 0
    for node in shown_nodes(card):
        if isinstance(node, Computed):
            computed[node.index] = node
        elif isinstance(node, CheckBlock):
            checks += 1
        else:
            formulas.append(node)
            checks_before.append(checks)
    return formulas, computed, checks_before


def _locations(card: Card) -> list[Any]:
    """Where the card's formulas ([line, TeX], in reading order), computed numbers ([index, line]) and
    first check block (its line: `_check_base`) are: kept with the card's check inputs, so restoring
    its results does not walk (or decode) the card again."""
    formulas, computed, _ = _shown(card)
    return [[[node.span.line, node.tex] for node in formulas],
            [[index, node.span.line] for index, node in sorted(computed.items())], _check_base(card)]


def _located(card: Card, where: Any) -> tuple[list[tuple[int, str]], dict[int, int], int]:
    """The formulas' (line, TeX), the computed numbers' lines by index and the check base: from kept
    `_locations`, or by walking the card when none were kept (or they are of the wrong shape)."""
    if not (isinstance(where, list) and len(where) == 3 and rows_of(where[0], int, str)
            and rows_of(where[1], int, int) and type(where[2]) is int):
        where = _locations(card)
    return [(line, tex) for line, tex in where[0]], {index: line for index, line in where[1]}, where[2]


def shown_items(card: Card) -> Iterator[list[Any]]:
    """What the learner reads that the verifier reads too: formulas with their markers, which of them
    share a sentence or a paragraph and which are prose conditions (`当 $x>0$ 时`), computed numbers
    (where they sit in the prose is not part of it: cached results find their lines again, see `_anchor`;
    only their order against the check blocks is)."""
    from dldeck.verify.sentences import Place, places

    formulas, computed, checks_before = _shown(card)
    where = places(card)
    sentences: dict[int, int] = {}  # numbered by first appearance: only which formulas share one counts
    paragraphs: dict[int, int] = {}  # the same for paragraphs (an example value holds for the rest of one)
    for node, checks in zip(formulas, checks_before, strict=True):
        place = where.get(id(node), Place(0, False))
        group = sentences.setdefault(place.sentence, len(sentences))
        paragraph = paragraphs.setdefault(place.run, len(paragraphs))
        yield [node.tex, node.claim, node.reason, group, place.condition, paragraph, checks]
    for index in sorted(computed):
        yield [computed[index].expression, computed[index].format, index]


def _check_base(card: Card) -> int:
    return card.checks[0].span.line if card.checks else card.span.line


def check_inputs(card: Card) -> dict[str, Any]:
    """Everything of a card its claim results depend on (the facts and the time limit aside), except
    which file holds it, where in its file the card sits and how much prose lies between its
    formulas: a prose edit re-verifies nothing, and two cards that claim the same are verified once."""
    base = _check_base(card)
    return {"blocks": [[b.source, b.span.line - base] for b in card.checks],
            "shown": list(shown_items(card)), "notation": list(card.notation)}


def _anchor(card: Card, result: Any, formulas: list[Any]) -> int:
    """Where a result is, in terms that survive prose edits: check lines relative to the first check
    block, formulas by their position among the card's formulas, computed numbers by their index."""
    if result.source == "formula":
        return next(i for i, node in enumerate(formulas)
                    if node.span.line == result.line and node.tex == result.formula)
    if result.source == "computed":
        return result.index
    return result.line - _check_base(card)


def _entries(card: Card, results: list[Any]) -> list[list[Any]]:
    formulas, _, _ = _shown(card)
    return [[_anchor(card, r, formulas), r.text, r.status, r.message, r.source, r.formula, r.value, r.index]
            for r in results]


_ENTRY_TYPES = (int, str, str, str, str, str, str, int)  # a kept result: see `_entries`


def _restore_results(card: Card, entry: Any, *statuses: str, where: Any = None) -> list[Any] | None:
    """A cache entry as ClaimResults, or None if it is absent or not exactly of the expected shape.
    `where`: the card's kept `_locations`."""
    statuses = statuses or CACHED_STATUSES
    if not rows_of(entry, *_ENTRY_TYPES):
        return None
    from dldeck.verify.results import ClaimResult

    formulas, computed, base = _located(card, where)
    restored = []
    for item in entry:
        if item[2] not in statuses:
            return None
        anchor, text, status, message, source, formula, value, index = item
        if source == "formula":
            if not 0 <= anchor < len(formulas) or formulas[anchor][1] != formula:
                return None
            line = formulas[anchor][0]
        elif source == "computed":
            if anchor not in computed:
                return None
            line = computed[anchor]
        else:
            line = base + anchor
        restored.append(ClaimResult(card.slug, card.span.path, line, text, status, message, source,
                                    formula, value, index))
    return restored
