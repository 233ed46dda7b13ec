"""Diagnostics: every problem is reported as `path:line: message`, all of a run together."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Diagnostic:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class BuildError(Exception):
    """Raised with every diagnostic of a pass, so an author fixes them in one round."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = sorted(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


def quote(text: str, limit: int = 60) -> str:
    """Short, single-line quotation of offending source text for messages."""
    one_line = " ".join(text.split())
    if len(one_line) > limit:
        one_line = one_line[: limit - 1] + "…"
    return f"«{one_line}»"


class OutputError(Exception):
    """The machine, not the content, stops the build: a build folder that is read-only, full, or a
    file. Reported as one line naming the folder, with exit status 2 (content errors exit 1)."""
