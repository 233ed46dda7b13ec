"""The deck's language rules: one term per concept and curly quotes, read from `_glossary.toml`.

A deck written by several authors drifts into synonyms (降采样 / 下采样) and mixed punctuation; a
reviewer cannot keep 300 cards consistent by eye, so the preferred terms live in one reviewed file
and the lint applies them to every card's visible text.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from dldeck.errors import Diagnostic, quote

GLOSSARY_NAME = "_glossary.toml"
TOP_KEYS = {"curly_quotes", "term"}
TERM_KEYS = {"use", "not", "allow"}
_TOML_POSITION = re.compile(r"\(at line (\d+), column \d+\)|\(at end of document\)")
_TERM_HEADER = re.compile(r"^\s*\[\[\s*term\s*\]\]")


@dataclass(frozen=True)
class Term:
    """A preferred term, its variants, and phrases in which a variant is fine (a quoted title)."""

    use: str
    variants: tuple[str, ...]
    allow: tuple[str, ...] = ()


@dataclass(frozen=True)
class Glossary:
    terms: tuple[Term, ...] = ()
    curly_quotes: bool = False

    @cached_property
    def _variants(self) -> tuple[re.Pattern[str] | None, dict[str, Term]]:
        """One pattern for every variant (longest first), so a text is scanned once, not per term."""
        owner = {variant.lower(): term for term in self.terms for variant in term.variants}
        if not owner:
            return None, owner
        alternatives = "|".join(_pattern(v) for v in sorted(owner, key=len, reverse=True))
        return re.compile(alternatives, re.IGNORECASE), owner

    def problems(self, text: str) -> list[tuple[int, str]]:
        """(offset, message) for every variant and straight quote in one piece of visible text."""
        found: list[tuple[int, str]] = []
        pattern, owner = self._variants
        for match in pattern.finditer(text) if pattern else ():
            term = owner[match.group().lower()]
            start, end = match.span()
            fine = (m.span() for phrase in (term.use, *term.allow) for m in _compiled(phrase).finditer(text))
            if not any(a <= start and end <= b for a, b in fine):
                found.append((start, f"use “{term.use}” instead of “{match.group()}”"))
        if self.curly_quotes:
            found.extend(_straight_quotes(text))
        return sorted(found)


def _pattern(phrase: str) -> str:
    """Case-insensitive; a phrase that starts or ends with a Latin letter or digit matches whole words
    only, so `loss` is not found in `losses` (Chinese has no word boundaries to respect)."""
    pattern = re.escape(phrase)
    if phrase[:1].isascii() and phrase[:1].isalnum():
        pattern = r"(?<![A-Za-z0-9])" + pattern
    if phrase[-1:].isascii() and phrase[-1:].isalnum():
        pattern += r"(?![A-Za-z0-9])"
    return pattern


@lru_cache(maxsize=1024)
def _compiled(phrase: str) -> re.Pattern[str]:
    return re.compile(_pattern(phrase), re.IGNORECASE)


_QUOTE = re.compile(r"\"|(?<![A-Za-z0-9])'")


def _straight_quotes(text: str) -> list[tuple[int, str]]:
    """A `"` anywhere, and a `'` that opens a quotation (an apostrophe follows a letter: Adam's)."""
    found = []
    for match in _QUOTE.finditer(text):
        curly = "“…”" if match.group() == '"' else "‘…’"
        found.append((match.start(), f"use curly quotes {curly} instead of straight {match.group()} "
                                     f"in {quote(_around(text, match.start()))}"))
    return found


def _around(text: str, offset: int, width: int = 12) -> str:
    return text[max(0, offset - width): offset + width]


def load_glossary(content_dir: Path, diagnostics: list[Diagnostic]) -> Glossary:
    """The collection's `_glossary.toml`, or no rules when there is none; problems become diagnostics."""
    path = content_dir / GLOSSARY_NAME
    if not path.is_file():
        return Glossary()
    display = str(Path(content_dir.name) / GLOSSARY_NAME) if content_dir.name else GLOSSARY_NAME
    text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        position = _TOML_POSITION.search(str(error))
        line = int(position.group(1)) if position and position.group(1) else max(1, len(text.splitlines()))
        diagnostics.append(Diagnostic(display, line, f"glossary is not valid TOML: "
                                                     f"{_TOML_POSITION.sub('', str(error)).strip()}"))
        return Glossary()
    return _Checker(display, text.splitlines(), diagnostics).glossary(data)


class _Checker:
    """Validates the parsed TOML; tomllib keeps no positions, so lines are found in the text."""

    def __init__(self, display: str, lines: list[str], diagnostics: list[Diagnostic]):
        self.display = display
        self.lines = lines
        self.diagnostics = diagnostics
        self.headers = [n for n, line in enumerate(lines, 1) if _TERM_HEADER.match(line)]

    def error(self, line: int, message: str) -> None:
        self.diagnostics.append(Diagnostic(self.display, line, message))

    def key_line(self, key: str, start: int = 1) -> int:
        """The first line at or after `start` that assigns `key` (else `start`)."""
        pattern = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
        for number in range(start, len(self.lines) + 1):
            if pattern.match(self.lines[number - 1]):
                return number
        return start

    def glossary(self, data: dict[str, object]) -> Glossary:
        for key in sorted(set(data) - TOP_KEYS):
            self.error(self.key_line(key), f"unknown glossary key {key!r} (known: curly_quotes, [[term]])")
        curly = data.get("curly_quotes", False)
        if not isinstance(curly, bool):
            self.error(self.key_line("curly_quotes"), "curly_quotes must be true or false")
            curly = False
        entries = data.get("term", [])
        if not isinstance(entries, list):
            self.error(self.key_line("term"), "terms are written as [[term]] tables")
            entries = []
        placed = []
        for index, entry in enumerate(entries):
            line = self.headers[index] if index < len(self.headers) else 1
            term = self.term(line, entry)
            if term is not None:
                placed.append((line, term))
        self.conflicts(placed)
        return Glossary(tuple(term for _, term in placed), curly)

    def term(self, line: int, entry: object) -> Term | None:
        if not isinstance(entry, dict):
            self.error(line, "a [[term]] entry must be a table")
            return None
        for key in sorted(set(entry) - TERM_KEYS):
            self.error(self.key_line(key, line), f"unknown key {key!r} in [[term]] (known: use, not, allow)")
        use = entry.get("use")
        if not isinstance(use, str) or not use.strip():
            self.error(line, "[[term]] needs `use = \"preferred term\"`")
            return None
        variants = self.texts(entry, "not", line)
        if not variants:
            self.error(line, f"term {quote(use)} needs `not = [\"variant\", …]`")
            return None
        if any(variant.casefold() == use.casefold() for variant in variants):
            self.error(self.key_line("not", line), f"{quote(use)} is listed as its own variant")
            return None
        return Term(use, variants, self.texts(entry, "allow", line))

    def texts(self, entry: dict[str, object], key: str, line: int) -> tuple[str, ...]:
        value = entry.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.error(self.key_line(key, line), f"{key!r} must be a list of non-empty texts")
            return ()
        return tuple(value)

    def conflicts(self, placed: list[tuple[int, Term]]) -> None:
        """A variant of one term may not be another's preferred term, nor listed twice."""
        owner: dict[str, Term] = {}
        preferred = {term.use.casefold() for _, term in placed}
        for line, term in placed:
            for variant in term.variants:
                key = variant.casefold()
                if key in preferred:
                    self.error(line, f"{quote(variant)} is both a variant of {quote(term.use)} and a "
                                     "preferred term")
                elif key in owner:
                    self.error(line, f"variant {quote(variant)} is listed for {quote(owner[key].use)} "
                                     f"and {quote(term.use)}")
                else:
                    owner[key] = term
