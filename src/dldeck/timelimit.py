"""A time limit for work done in the main process (reading Markdown, figure expressions).

Claims run in worker processes that are killed on overrun (verify/runner.py); reading and figure
specs run in the building process, where an interval timer interrupts pure-Python work. The limit
counts the process's CPU time, so a build on a busy machine is not refused for waiting its turn;
a wall-clock backstop at several times the limit still ends work that sleeps or blocks.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class TimeLimitExceeded(Exception):
    pass


WALL_FACTOR = 4.0  # the wall-clock backstop, as a multiple of the CPU-time limit


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise TimeLimitExceeded in the block after `seconds` of CPU time (or WALL_FACTOR times that of
    wall-clock time); a no-op outside the main thread."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(_signum: int, _frame: object) -> None:
        raise TimeLimitExceeded(f"took longer than {seconds:g} s")

    previous = {number: signal.signal(number, expire) for number in (signal.SIGPROF, signal.SIGALRM)}
    # Re-fire every 50 ms after the deadline: an exception raised while Python runs a finalizer
    # (a weakref callback, __del__) is swallowed, and one shot would then be lost.
    signal.setitimer(signal.ITIMER_PROF, seconds, 0.05)
    signal.setitimer(signal.ITIMER_REAL, seconds * WALL_FACTOR, 0.05)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        for number, handler in previous.items():
            signal.signal(number, handler)
