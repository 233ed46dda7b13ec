"""Running every card's checks in worker processes, each statement under a time limit.

Sympy is pure Python and some simplifications never return. Each card (its blocks share
definitions, so a card is one task) runs in a forked worker that reports when it starts and
finishes each statement. The limit counts the worker's CPU time (a profiling timer that ends the
worker), so a busy machine does not turn slow-but-fine claims into timeouts. The parent kills a
worker whose statement overruns a generous wall-clock backstop only if the worker has really used
its CPU time there (work stuck outside Python, where the timer's handler cannot run), or if it is
far past the backstop (stuck without using CPU); a worker merely starved by a busy machine is left
to finish. Either way the statement is recorded as timed out and the card resumes in a fresh worker
after it.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from dldeck.errors import Diagnostic, quote
from dldeck.heap import release_free_memory
from dldeck.model import Card, Collection
from dldeck.verify.claims import check_claim, one_line
from dldeck.verify.evaluate import Scope
from dldeck.verify.language import execute_definition, new_scope
from dldeck.verify.results import STATUSES, ClaimResult, VerifyReport  # noqa: F401 - STATUSES re-exported
from dldeck.verify.shown import FormulaNote, card_statements, note_result, origin, run_shown
from dldeck.verify.syntax import CheckError, Statement

MEMORY_HEADROOM = 4 * 1024**3  # per worker, on top of what the parent already uses
CPU_LIMIT_EXIT = 86  # exit status of a worker whose statement used up its CPU time
WALL_FACTOR, WALL_GRACE = 3.0, 10.0  # wall-clock backstop: 3 × the limit + 10 s
RECHECK = 0.5
STARVED_FACTOR = 10.0  # past this many backstops a statement is killed whatever CPU it used
READING = -1  # the statement index of a worker still reading its card
MAX_TIMEOUTS = 3  # after this many timed-out statements the remaining cards are reported, not checked


def wall_backstop(timeout: float) -> float:
    return timeout * WALL_FACTOR + WALL_GRACE


def _cpu_seconds(pid: int) -> float | None:
    """CPU time a process has used (Linux /proc), or None where that cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _stuck(slot: _Slot, now: float, timeout: float) -> bool:
    """Past the wall-clock backstop and either out of CPU time there or far past it."""
    elapsed = now - slot.started
    backstop = wall_backstop(timeout)
    if slot.task is None or slot.statement is None or elapsed <= backstop:
        return False
    if elapsed > backstop * STARVED_FACTOR:
        return True
    used = _cpu_seconds(slot.process.pid)
    return used is None or slot.cpu_started is None or used - slot.cpu_started > timeout


def _cpu_limit_reached(_signum: int, _frame: object) -> None:
    os._exit(CPU_LIMIT_EXIT)


@functools.cache
def _warm_up() -> None:
    """Load sympy's lazily imported simplification machinery and the TeX parser's tables once,
    before forking, so that every worker inherits them instead of paying inside a time limit."""
    import sympy

    from dldeck.verify.tex import parser

    x = sympy.Symbol("x", real=True)
    sympy.simplify(sympy.exp(x) / (1 + sympy.exp(x)) - 1 / (1 + sympy.exp(-x)))
    parser()


# --------------------------------------------------------------------------- one statement


def run_statement(item: Statement, scope: Scope, card: Card) -> ClaimResult | None:
    """Execute one statement in this process; definitions that succeed yield no result."""
    text = one_line(item.text)
    path = card.span.path
    where = origin(item)
    try:
        if where:
            return run_shown(item, scope, card)
        if item.kind == "claim":
            outcome = check_claim(item, scope)
            return ClaimResult(card.slug, path, item.line, text, outcome.status, outcome.message)
        execute_definition(item, scope)
        return None
    except CheckError as error:
        return ClaimResult(card.slug, path, item.line, text, "error", error.message, **where)
    except MemoryError:
        return ClaimResult(card.slug, path, item.line, text, "error",
                           f"out of memory evaluating {quote(text)}", **where)
    except RecursionError:
        return ClaimResult(card.slug, path, item.line, text, "error", f"expression too deep: {quote(text)}",
                           **where)
    except Exception as error:  # noqa: BLE001 - sympy raises anything; the author needs the line, not a trace
        why = f"sympy could not evaluate {quote(text)}: {type(error).__name__}: {error}"
        return ClaimResult(card.slug, path, item.line, text, "error", why, **where)


def _parse_error_result(card: Card, error: CheckError) -> ClaimResult:
    line = error.line or card.span.line
    return ClaimResult(card.slug, card.span.path, line, one_line(error.text), "error", error.message)


# --------------------------------------------------------------------------- worker side


def _limit_memory() -> None:
    try:
        import resource

        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[0])
        current = pages * os.sysconf("SC_PAGE_SIZE")
        limit = current + MEMORY_HEADROOM
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, OSError, ValueError):
        pass


@dataclass(frozen=True)
class _Outline:
    """What the parent needs of a statement the worker read: to blame it when the worker dies on it."""

    kind: str  # a Statement's kind ("claim", "assume", "define", "computed"), or "problem"
    line: int
    text: str
    where: dict[str, Any]


def _outline(item: Statement | CheckError | FormulaNote) -> _Outline:
    if isinstance(item, Statement):
        return _Outline(item.kind, item.line, one_line(item.text), origin(item))
    return _Outline("problem", item.line or 0, "", {})


def _worker(connection: Connection, cards: tuple[Card, ...], facts_root: Path | None, timeout: float,
            known: Mapping[tuple[str, int], ClaimResult]) -> None:
    """Receive (card index, first statement to report); send ("items", outlines) when a card starts,
    ("start", i) / ("result", i, r) per statement, ("done",) at its end.

    The worker reads the card's checks and formulas itself, so reading runs in parallel like the
    checking. Claims in `known` (results remembered from earlier builds) are reported, not run."""
    _limit_memory()
    signal.signal(signal.SIGPROF, _cpu_limit_reached)
    while True:
        task = connection.recv()
        if task is None:
            return
        card_index, resume_from = task
        card = cards[card_index]
        with _cpu_limit(timeout):
            items = list(card_statements(card))
        if resume_from == 0:
            connection.send(("items", [_outline(item) for item in items]))
        scope = new_scope(card, facts_root)
        for index, item in enumerate(items):
            if index < resume_from:
                if isinstance(item, Statement) and item.kind in ("assume", "define"):
                    with _cpu_limit(timeout):
                        run_statement(item, scope, card)  # rebuild the scope; errors were already reported
                continue
            if isinstance(item, CheckError):
                connection.send(("result", index, _parse_error_result(card, item)))
            elif isinstance(item, FormulaNote):
                connection.send(("result", index, note_result(item, card)))
            elif item.kind == "claim" and (card.slug, item.line) in known:
                connection.send(("result", index, known[(card.slug, item.line)]))
            else:
                connection.send(("start", index))
                with _cpu_limit(timeout):
                    result = run_statement(item, scope, card)
                connection.send(("result", index, result))
        connection.send(("done",))


@contextmanager
def _cpu_limit(seconds: float) -> Iterator[None]:
    """Arm the worker's CPU-time timer for one statement."""
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)


# --------------------------------------------------------------------------- parent side


@dataclass
class _Slot:
    process: Any
    connection: Connection
    task: tuple[int, int] | None = None
    statement: int | None = None
    started: float = 0.0
    cpu_started: float | None = None  # the worker's CPU seconds when its statement started
    ended: bool = False


def _context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def verify_collection(
    collection: Collection, *, timeout: float = 5.0, jobs: int | None = None,
    max_timeouts: int = MAX_TIMEOUTS, known: Mapping[tuple[str, int], ClaimResult] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> VerifyReport:
    """Check every claim of every card, in parallel, each statement under `timeout` seconds.

    After `max_timeouts` timed-out statements (0: never) verification stops: content with many
    slow claims fails in bounded time, and what was not checked is reported in one message.
    `known` maps (slug, line) of claims to results remembered from earlier builds (timeouts): those
    claims are reported as remembered and not run again. `progress(done, total)` hears each card
    finished: a cold build of the real content verifies for half a minute.
    """
    facts_root = Path(collection.root) if collection.root else None
    known = known or {}
    cards = collection.cards
    results: dict[tuple[int, int], ClaimResult] = {}
    outlines: dict[int, list[_Outline]] = {}  # per card, from its worker
    queue: deque[tuple[int, int]] = deque((card_index, 0) for card_index in range(len(cards)))
    completed: set[int] = set()
    if queue:
        _warm_up()
        workers = max(1, min(jobs or os.cpu_count() or 1, len(queue)))
        _run_tasks(cards, facts_root, outlines, queue, results, workers, timeout, completed, max_timeouts,
                   known, progress or (lambda done, total: None))

    ordered = tuple(results[key] for key in sorted(results))
    diagnostics = [
        Diagnostic(result.path, result.line, result.message)
        for result in ordered
        if result.status in ("failed", "timeout", "error")
    ]
    not_run = [index for index in range(len(cards)) if index not in completed
               and any(o.kind != "problem" for o in _outlines_of(cards, outlines, index))]
    unchecked = _unchecked(cards, outlines, results, not_run)
    stopped = not_checked(unchecked, [cards[index] for index in not_run], max_timeouts) if not_run else None
    return VerifyReport(ordered, tuple(diagnostics) + ((stopped,) if stopped else ()),
                        tuple(cards[index].slug for index in not_run), tuple(unchecked), stopped)


def _outlines_of(cards: tuple[Card, ...], outlines: dict[int, list[_Outline]], index: int) -> list[_Outline]:
    """A card's outline; read here only for a card no worker reached (verification stopped early)."""
    if index not in outlines:
        outlines[index] = [_outline(item) for item in card_statements(cards[index])]
    return outlines[index]


def _unchecked(cards: tuple[Card, ...], outlines: dict[int, list[_Outline]],
               results: dict[tuple[int, int], ClaimResult], not_run: list[int]) -> list[tuple[str, int]]:
    """Where the claims are that verification did not reach (it stopped early), card by card."""
    return [(cards[card_index].span.path, item.line)
            for card_index in not_run
            for index, item in enumerate(outlines[card_index])
            if item.kind == "claim" and (card_index, index) not in results]


def claim_places(card: Card) -> list[tuple[str, int]]:
    """Where a card's claims are (what `_unchecked` counts of a card no worker reached)."""
    return [(card.span.path, item.line) for item in map(_outline, card_statements(card))
            if item.kind == "claim"]


def not_checked(unchecked: list[tuple[str, int]], cards: list[Card], max_timeouts: int = MAX_TIMEOUTS
                ) -> Diagnostic:
    """One message, at the first claim not checked, for every claim and card verification did not
    reach; the build adds the cards that share a claimed card's checks (verified once for all)."""
    path, line = min(unchecked) if unchecked else (cards[0].span.path, cards[0].span.line)
    return Diagnostic(path, line, f"{len(unchecked)} claims of {len(cards)} cards not checked: "
                                  f"{max_timeouts} statements timed out, so verification stopped; "
                                  "fix those first")


def _run_tasks(
    cards: tuple[Card, ...],
    facts_root: Path | None,
    outlines: dict[int, list[_Outline]],
    queue: deque[tuple[int, int]],
    results: dict[tuple[int, int], ClaimResult],
    workers: int,
    timeout: float,
    completed: set[int],
    max_timeouts: int,
    known: Mapping[tuple[str, int], ClaimResult],
    progress: Callable[[int, int], None],
) -> None:
    context = _context()
    release_free_memory()

    def start_worker() -> _Slot:
        parent_end, child_end = context.Pipe()
        process = context.Process(target=_worker, daemon=True,
                                  args=(child_end, cards, facts_root, timeout, known))
        process.start()
        child_end.close()
        return _Slot(process, parent_end)

    timeouts = 0

    def overran(slot: _Slot, why: str) -> int:
        """Record the overrun; the number of timed-out statements so far."""
        recorded = _record_overrun(slot, cards, outlines, results, queue, timeout, why, completed)
        return timeouts + (recorded is not None and recorded.status == "timeout")

    slots = [start_worker() for _ in range(workers)]
    reported = 0
    try:
        while (queue or any(slot.task for slot in slots)) and not (max_timeouts and timeouts >= max_timeouts):
            for slot in slots:
                if slot.task is None and queue:
                    slot.task = queue.popleft()
                    # a card's first task starts by reading it: that too is under the wall-clock backstop
                    slot.statement = READING if slot.task[1] == 0 else None
                    slot.started = time.monotonic()
                    slot.cpu_started = _cpu_seconds(slot.process.pid)
                    slot.connection.send(slot.task)
            busy = [slot for slot in slots if slot.task is not None]
            now = time.monotonic()
            backstop = wall_backstop(timeout)
            # past its backstop a starved worker is looked at again every RECHECK seconds
            deadlines = [max(slot.started + backstop, now + RECHECK) for slot in busy
                         if slot.statement is not None]
            wait_for = max(0.0, min(deadlines) - now) if deadlines else timeout
            ready = wait([slot.connection for slot in busy], timeout=wait_for)
            for slot in busy:
                if slot.connection in ready:
                    _receive(slot, outlines, results, completed)
            now = time.monotonic()
            for position, slot in enumerate(slots):
                if _stuck(slot, now, timeout):
                    timeouts = overran(slot, "timeout")
                    _stop(slot)
                    slots[position] = start_worker()
                elif slot.task is not None and (
                    slot.ended or (not slot.process.is_alive() and not slot.connection.poll())
                ):
                    slot.process.join(timeout=5)
                    cpu_limit = slot.process.exitcode == CPU_LIMIT_EXIT
                    timeouts = overran(slot, "timeout" if cpu_limit else "crash")
                    _stop(slot)
                    slots[position] = start_worker()
            if len(completed) != reported:
                reported = len(completed)
                progress(reported, len(cards))
    finally:
        for slot in slots:
            try:
                slot.connection.send(None)
            except (BrokenPipeError, OSError):
                pass
        for slot in slots:
            slot.process.join(timeout=1)
            _stop(slot)


def _receive(
    slot: _Slot,
    outlines: dict[int, list[_Outline]],
    results: dict[tuple[int, int], ClaimResult],
    completed: set[int],
) -> None:
    while slot.task is not None and slot.connection.poll():
        try:
            message = slot.connection.recv()
        except (EOFError, OSError):
            slot.ended = True  # the worker is gone: its pipe stays "readable" at EOF, so remember it
            return
        if message[0] == "items":
            outlines[slot.task[0]] = message[1]
            slot.statement = None
        elif message[0] == "start":
            slot.statement = message[1]
            slot.started = time.monotonic()
            slot.cpu_started = _cpu_seconds(slot.process.pid)
        elif message[0] == "result":
            card_index = slot.task[0]
            if message[2] is not None:
                results[(card_index, message[1])] = message[2]
            slot.statement = None
        elif message[0] == "done":
            completed.add(slot.task[0])
            slot.task = None
            slot.statement = None


def _record_overrun(
    slot: _Slot,
    cards: tuple[Card, ...],
    outlines: dict[int, list[_Outline]],
    results: dict[tuple[int, int], ClaimResult],
    queue: deque,
    timeout: float,
    why: str,
    completed: set[int],
) -> ClaimResult | None:
    """Mark the running statement, then resume the card after it (or give up on a broken scope)."""
    assert slot.task is not None
    card_index, resume_from = slot.task
    card = cards[card_index]
    index = slot.statement
    slot.task = None
    if index == READING or card_index not in outlines:
        what = f"timed out after {timeout:g} s" if why == "timeout" else "the checker crashed"
        completed.add(card_index)
        result = ClaimResult(card.slug, card.span.path, card.span.line, card.slug,
                             "timeout" if why == "timeout" else "error",
                             f"{what} reading the card's checks and formulas")
        results[(card_index, READING)] = result
        return result
    outline = outlines[card_index]
    if index is None:  # died between statements (e.g. rebuilding the scope): nothing to blame
        index = next((i for i, item in enumerate(outline[resume_from:], start=resume_from)
                      if item.kind != "problem" and (card_index, i) not in results), None)
        if index is None:
            completed.add(card_index)
            return None
    item = outline[index]
    if why == "timeout":
        message = f"timed out after {timeout:g} s: {quote(item.text)}"
        # a shown formula that sympy cannot decide in time is not verified, like one it cannot read
        status = "unread" if item.where.get("source") == "formula" else "timeout"
    else:
        message = f"the checker crashed (out of memory?) on {quote(item.text)}"
        status = "error"
    result = ClaimResult(card.slug, card.span.path, item.line, item.text, status, message, **item.where)
    results[(card_index, index)] = result
    if item.kind not in ("assume", "define"):
        queue.appendleft((card_index, index + 1))
        return result
    # Later statements may use what this one defines; running them would give misleading errors.
    for later in range(index + 1, len(outline)):
        other = outline[later]
        if other.kind not in ("problem", "assume", "define") and (card_index, later) not in results:
            results[(card_index, later)] = ClaimResult(
                card.slug, card.span.path, other.line, other.text, "error",
                f"not checked: the definition on line {item.line} did not finish", **other.where)
    completed.add(card_index)
    return result


def _stop(slot: _Slot) -> None:
    if slot.process.is_alive():
        slot.process.kill()
    slot.process.join(timeout=5)
    slot.connection.close()
