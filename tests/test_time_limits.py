"""Time limits inside time limits: the inner one never switches the outer one off or outlasts it."""

from __future__ import annotations

import multiprocessing
import signal
import time

import pytest

from dldeck.timelimit import TimeLimitExceeded, time_limit
from dldeck.verify.runner import CPU_LIMIT_EXIT, _cpu_limit, _cpu_limit_reached


def _spin(seconds: float) -> None:
    """Use `seconds` of CPU time (the limits count CPU time, not sleeping)."""
    until = time.process_time() + seconds
    while time.process_time() < until:
        pass


def test_an_inner_limit_that_ends_in_time_leaves_the_outer_one_counting() -> None:
    started = time.process_time()
    with pytest.raises(TimeLimitExceeded) as caught, time_limit(0.3):
        with time_limit(5):
            _spin(0.1)
        _spin(5)
    assert str(caught.value) == "took longer than 0.3 s"
    assert time.process_time() - started < 1.5
    assert signal.getitimer(signal.ITIMER_PROF) == (0.0, 0.0)  # nothing left armed
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_an_inner_limit_never_outlasts_the_outer_one() -> None:
    started = time.process_time()
    inner_stopped = []
    with pytest.raises(TimeLimitExceeded) as caught, time_limit(0.3):
        try:
            with time_limit(5):
                _spin(5)
        except TimeLimitExceeded:
            inner_stopped.append(time.process_time() - started)
        _spin(5)
    assert str(caught.value) == "took longer than 0.3 s"
    assert inner_stopped and inner_stopped[0] < 1.0  # at the outer deadline, not after its own 5 s
    assert time.process_time() - started < 1.5


def _statement_with_an_inner_limit() -> None:
    signal.signal(signal.SIGPROF, _cpu_limit_reached)
    with _cpu_limit(0.3):
        with time_limit(1.0):  # as a bound's extremum is looked for inside a claim's statement
            _spin(0.05)
        _spin(5)


def test_a_claim_workers_statement_limit_still_ends_it_after_an_inner_limit() -> None:
    worker = multiprocessing.get_context("fork").Process(target=_statement_with_an_inner_limit)
    started = time.monotonic()
    worker.start()
    worker.join(timeout=30)
    assert worker.exitcode == CPU_LIMIT_EXIT
    assert time.monotonic() - started < 4  # the statement's 0.3 s, not the 5 s it would have spun
