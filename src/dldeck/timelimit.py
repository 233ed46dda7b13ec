"""A wall-clock limit for work done in the main process (figure expressions).

Claims run in worker processes that are killed on overrun (verify/runner.py); figure specs are
evaluated in the building process, where an interval timer interrupts pure-Python sympy work.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class TimeLimitExceeded(Exception):
    pass


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise TimeLimitExceeded in the block after `seconds`; a no-op outside the main thread."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(_signum: int, _frame: object) -> None:
        raise TimeLimitExceeded(f"took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    # Re-fire every 50 ms after the deadline: an exception raised while Python runs a finalizer
    # (a weakref callback, __del__) is swallowed, and one shot would then be lost.
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.05)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
