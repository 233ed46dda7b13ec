"""Freed heap pages go back to the OS before a fork (dldeck.heap), so forked children do not map them."""

from __future__ import annotations

import subprocess
import sys

PROBE = r"""
from dldeck.heap import release_free_memory

def rss():
    return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) // 1024

blocks = [bytes(2048) for _ in range(100_000)]  # about 200 MB in malloc's heap, not mmap'd one by one
pin = bytearray(4096)  # above them, so glibc cannot give them back by lowering the top of its heap
del blocks
before = rss()
release_free_memory()
print(before, rss())
"""


def test_freed_heap_pages_are_given_back() -> None:
    if not sys.platform.startswith("linux"):
        return
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
    before, after = map(int, out.split())
    assert before - after > 100, (before, after)
