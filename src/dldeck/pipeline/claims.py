"""Claims verified with a cache per card: an edit re-verifies only the cards it touched.

A card's results are keyed by its check sources (positions relative to the card, so moving a card
in its file keeps them), its file, the facts, the time limit and the verifier's code. Only
successes are cached as a card's results: failures and errors are always re-checked, so their
messages are fresh and a failed build never poisons the cache. A claim that timed out is remembered
under the same key, so a rebuild reports it again at once instead of spending its time limit again,
until the card, the facts, `--timeout` or the verifier change. sympy is imported only when a card
needs checking.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dldeck import buildcache
from dldeck.errors import Diagnostic
from dldeck.model import Card, Collection
from dldeck.pipeline.inputs import facts_hash
from dldeck.pipeline.outcome import Progress, Work

CLAIM_STATUSES = ("symbolic", "numeric", "failed", "timeout", "error")
CACHED_STATUSES = ("symbolic", "numeric")  # failures, errors and timeouts are always re-checked
_TIMEOUTS = "timeouts:"  # prefix of the cache entries that remember a card's timed-out claims
REMEMBERED = " (remembered from an earlier build: edit the card or raise --timeout to try again)"
# The parts of dldeck whose code decides claim results: editing them invalidates the cache.
CHECK_CODE = ("verify", "model.py", "errors.py")


def verify_claims(collection: Collection, build_dir: Path | None, timeout: float, progress: Progress,
                  work: Work, before_verifying: Callable[[], None] | None = None
                  ) -> tuple[list[Any], list[Diagnostic]]:
    """Claims of cards whose checks changed are verified; the others come from the cache."""
    checked = [card for card in collection.cards if card.checks]
    keys: dict[str, str] = {}
    cached: dict[str, list[Any]] = {}
    known: dict[tuple[str, int], Any] = {}  # (slug, line) → a remembered timeout
    cache = None
    if build_dir is not None and checked:
        cache = buildcache.JsonCache(build_dir, "checks", buildcache.tool_hash(*CHECK_CODE))
        work.cache_status["checks"] = cache.status
        facts = facts_hash(collection)
        for card in checked:
            keys[card.slug] = key = _check_key(card, facts, timeout)
            restored = _restore_results(card, cache.get(key))
            if restored is None:
                cache.forget(key)  # absent, or of the wrong shape: never trusted
            else:
                cached[card.slug] = restored
                continue
            timed_out = _restore_results(card, cache.get(_TIMEOUTS + key), "timeout")
            if timed_out is None:
                cache.forget(_TIMEOUTS + key)
            for result in timed_out or ():
                remembered = dataclasses.replace(result, message=result.message + REMEMBERED)
                known[(card.slug, result.line)] = remembered
    pending = [card for card in checked if card.slug not in cached]
    fresh: dict[str, list[Any]] = {}
    diagnostics: list[Diagnostic] = []
    if pending:
        from dldeck.verify import verify_collection

        progress(f"verifying claims of {len(pending)} cards")
        if before_verifying is not None:
            before_verifying()
        report = verify_collection(dataclasses.replace(collection, cards=tuple(pending)), timeout=timeout,
                                   known=known)
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
        if cache is None:
            continue
        base = card.checks[0].span.line
        if all(r.status in CACHED_STATUSES for r in card_results):
            cache.put(keys[card.slug], [[r.line - base, r.text, r.status, r.message] for r in card_results])
        timed_out = [[r.line - base, r.text, r.status, r.message.removesuffix(REMEMBERED)]
                     for r in card_results if r.status == "timeout"]
        if timed_out:
            cache.put(_TIMEOUTS + keys[card.slug], timed_out)
    if cache is not None:
        cache.save()
    return results, diagnostics


def _check_key(card: Card, facts: str, timeout: float) -> str:
    """Everything a card's claim results depend on, except where in its file the card sits."""
    base = card.checks[0].span.line
    return buildcache.hash_json({"path": card.span.path, "facts": facts, "timeout": float(timeout),
                                 "blocks": [[b.source, b.span.line - base] for b in card.checks]})


def _restore_results(card: Card, entry: Any, *statuses: str) -> list[Any] | None:
    """A cache entry as ClaimResults, or None if it is absent or not exactly of the expected shape."""
    statuses = statuses or CACHED_STATUSES
    if not isinstance(entry, list):
        return None
    from dldeck.verify.results import ClaimResult

    base = card.checks[0].span.line
    restored = []
    for item in entry:
        if not (isinstance(item, list) and len(item) == 4 and isinstance(item[0], int)
                and all(isinstance(part, str) for part in item[1:]) and item[2] in statuses):
            return None
        offset, text, status, message = item
        restored.append(ClaimResult(card.slug, card.span.path, base + offset, text, status, message))
    return restored
