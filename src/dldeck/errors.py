"""Diagnostics: every problem is reported as `path:line: message`, all of a run together."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Diagnostic:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{printable(self.path)}:{self.line}: {printable(self.message)}"


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


def printable(text: str) -> str:
    """Control and bidi-override characters written as escapes: a diagnostic quoting a stranger's
    text (or file name) stays one line and cannot send escape sequences to the terminal."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() or char == " " else _escape(char) for char in text)


def _escape(char: str) -> str:
    if unicodedata.category(char) == "Zs":  # an unusual space is harmless and readable as it is
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


class OutputError(Exception):
    """The machine, not the content, stops the build: a build folder that is read-only, full, or a
    file, or a content folder that does not exist. Reported as one line naming the folder, with
    exit status 2 (content errors exit 1)."""
