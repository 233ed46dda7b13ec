"""Time limits: for Python work in the main process (reading Markdown, figure expressions), and for
native calls (formula engines) run one by one in a child that is killed on overrun.

Claims run in worker processes that are killed on overrun (verify/runner.py); reading and figure
specs run in the building process, where an interval timer interrupts pure-Python work. The limit
counts the process's CPU time, so a build on a busy machine is not refused for waiting its turn;
a wall-clock backstop at several times the limit still ends work that sleeps or blocks.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from dldeck.heap import release_free_memory


class TimeLimitExceeded(Exception):
    pass


WALL_FACTOR = 4.0  # the wall-clock backstop, as a multiple of the CPU-time limit
OVERDUE = 1e-6  # seconds: an outer limit that ran out inside an inner one fires as soon as it is armed again


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise TimeLimitExceeded in the block after `seconds` of CPU time (or WALL_FACTOR times that of
    wall-clock time); a no-op outside the main thread.

    A limit inside another (a bound's extremum inside a claim worker's statement limit, a figure's
    definitions inside its spec's limit) never outlasts the outer one, and the outer one keeps
    counting: on leaving the block its timers are armed again with what is left of them, and one that
    ran out meanwhile fires at once (an inner limit that reset the timers would switch it off)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(_signum: int, _frame: object) -> None:
        raise TimeLimitExceeded(f"took longer than {seconds:g} s")

    outer = {timer: signal.getitimer(timer) for timer in (signal.ITIMER_PROF, signal.ITIMER_REAL)}
    started = {signal.ITIMER_PROF: time.process_time(), signal.ITIMER_REAL: time.monotonic()}
    previous = {number: signal.signal(number, expire) for number in (signal.SIGPROF, signal.SIGALRM)}
    # Re-fire every 50 ms after the deadline: an exception raised while Python runs a finalizer
    # (a weakref callback, __del__) is swallowed, and one shot would then be lost.
    for timer, limit in ((signal.ITIMER_PROF, seconds), (signal.ITIMER_REAL, seconds * WALL_FACTOR)):
        left = outer[timer][0]
        signal.setitimer(timer, min(limit, left) if left > 0 else limit, 0.05)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        for number, handler in previous.items():
            signal.signal(number, handler)
        spent = {signal.ITIMER_PROF: time.process_time() - started[signal.ITIMER_PROF],
                 signal.ITIMER_REAL: time.monotonic() - started[signal.ITIMER_REAL]}
        for timer, (left, interval) in outer.items():
            if left > 0:  # the outer limit goes on with what it had left (at once if nothing)
                signal.setitimer(timer, max(left - spent[timer], OVERDUE), interval)


def each_in_child(function: Callable[[Any], Any], items: Sequence[Any], seconds: float, *,
                  stop_after: int = 0) -> list[tuple[str, Any]]:
    """`function(item)` for every item, in a forked child, each under a wall-clock limit.

    For native code that never returns to Python (where `time_limit`'s signal waits forever) and may
    abort the process: an item that overruns, or whose call kills the child, is reported and the
    rest continue in a fresh child. Returns one outcome per item: ("ok", value), ("error", why) for
    an exception, ("timeout", None), ("crash", None) or, after `stop_after` timeouts (0: never),
    ("skipped", None). Without fork the items run here under `time_limit` (best effort).
    """
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        return [_call_here(function, item, seconds) for item in items]
    context = multiprocessing.get_context("fork")
    release_free_memory()
    outcomes: list[tuple[str, Any]] = []
    timeouts = 0
    while len(outcomes) < len(items):
        if stop_after and timeouts >= stop_after:
            outcomes.append(("skipped", None))
            continue
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=_serve, args=(sender, function, items, len(outcomes)), daemon=True)
        process.start()
        sender.close()
        try:
            while len(outcomes) < len(items):
                if not receiver.poll(seconds):
                    outcomes.append(("timeout", None))
                    timeouts += 1
                    break
                try:
                    outcomes.append(receiver.recv())
                except (EOFError, OSError):
                    outcomes.append(("crash", None))
                    break
        finally:
            if process.is_alive():
                process.kill()
            process.join()
            receiver.close()
    return outcomes


def _serve(sender: Any, function: Callable[[Any], Any], items: Sequence[Any], start: int) -> None:
    import faulthandler

    faulthandler.disable()  # a native crash is the parent's to report, at the item's line
    for item in items[start:]:
        try:
            sender.send(("ok", function(item)))
        except Exception as error:  # noqa: BLE001 - reported to the parent, which names the item
            sender.send(("error", f"{type(error).__name__}: {error}"))
    sender.close()


def _call_here(function: Callable[[Any], Any], item: Any, seconds: float) -> tuple[str, Any]:
    try:
        with time_limit(seconds):
            return ("ok", function(item))
    except TimeLimitExceeded:
        return ("timeout", None)
    except Exception as error:  # noqa: BLE001 - as in the child
        return ("error", f"{type(error).__name__}: {error}")
