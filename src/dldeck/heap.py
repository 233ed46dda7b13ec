"""Free heap memory handed back to the operating system before a fork.

A forked child maps every resident page of its parent, and the build's memory is measured over
the whole process tree: a page the parent has freed but glibc still holds is counted once more in
every child. Reading 20,000 cards leaves about 44 MB of such pages in the parent; it forks five
children while claims are verified (claim workers, the figure and formula children).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def _malloc_trim() -> object | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim
        return None


def release_free_memory() -> None:
    """Give free heap pages back to the OS (glibc's malloc_trim); a no-op where there is none."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)  # type: ignore[operator]
