"""Project configuration: `[tool.dldeck]` in pyproject.toml, or a `dldeck.toml` next to content/.

Keys of `dldeck.toml` override those of `[tool.dldeck]` (top-level key by key). Unknown keys are
errors, so a misspelt `colums = 4` does not silently give the default layout.

    title = "深度学习面试速查"
    content_dir = "content"
    build_dir = "build"
    strict = false                # true: an unread shown formula (not exempt), or an example value or
                                  # definition no claim uses, is an error

    [[sheets]]                    # in pyproject.toml: [[tool.dldeck.sheets]]
    name = "cheatsheet"           # output stem: build/cheatsheet.pdf, build/cheatsheet.html
    decks = ["深度学习面试::激活函数"]   # deck prefixes (a deck and its subdecks); optional
    tags = ["activation"]         # optional; a card goes in when it matches any deck or any tag
    paper = "a4"                  # a4 | letter
    orientation = "landscape"     # landscape | portrait
    columns = 3                   # 2–4
    include_extra = true
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from dldeck.contain import Refused, read_regular
from dldeck.errors import BuildError, Diagnostic
from dldeck.model import Card, Collection

DEFAULT_TITLE = "Deep-learning cheat sheet"
SHEET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")

Paper = Literal["a4", "letter"]
Orientation = Literal["landscape", "portrait"]


@dataclass(frozen=True)
class SheetConfig:
    name: str = "cheatsheet"
    decks: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    paper: Paper = "a4"
    orientation: Orientation = "landscape"
    columns: int = 3
    include_extra: bool = True

    def includes(self, card: Card) -> bool:
        """With neither decks nor tags everything goes in; otherwise any matching deck or tag."""
        if not self.decks and not self.tags:
            return True
        if any(card.deck == prefix or card.deck.startswith(prefix + "::") for prefix in self.decks):
            return True
        return any(tag in card.tags for tag in self.tags)

    def select(self, collection: Collection) -> tuple[Card, ...]:
        return tuple(card for card in collection.cards if self.includes(card))


@dataclass(frozen=True)
class Config:
    title: str = DEFAULT_TITLE
    content_dir: str = "content"
    build_dir: str = "build"
    sheets: tuple[SheetConfig, ...] = field(default_factory=lambda: (SheetConfig(),))
    source: str = ""  # the file(s) the settings came from, for messages
    strict: bool = False  # every relational formula must be read (or exempt): see docs/FORMAT.md


# --------------------------------------------------------------------------- sections of a sheet


@dataclass(frozen=True)
class SheetSection:
    """A topic on the sheet: a deck, optionally narrowed by the `#` section heading of its files."""

    deck: str
    section: str
    cards: tuple[Card, ...]


def group_sections(cards: Sequence[Card]) -> tuple[SheetSection, ...]:
    """Decks in order of first appearance, sections within a deck likewise; cards keep reading order."""
    order: dict[str, dict[str, list[Card]]] = {}
    for card in cards:
        order.setdefault(card.deck, {}).setdefault(card.section, []).append(card)
    return tuple(
        SheetSection(deck, section, tuple(section_cards))
        for deck, sections in order.items()
        for section, section_cards in sections.items()
    )


def deck_titles(decks: Sequence[str]) -> dict[str, str]:
    """Deck paths shown without the components every deck shares (`深度学习面试::激活函数` → `激活函数`)."""
    split = [deck.split("::") for deck in decks]
    common = 0
    if len(split) > 1:
        while all(len(parts) > common + 1 for parts in split) and len({p[common] for p in split}) == 1:
            common += 1
    elif split and len(split[0]) > 1:
        common = len(split[0]) - 1
    return {deck: " › ".join(parts[common:]) for deck, parts in zip(decks, split, strict=True)}


# --------------------------------------------------------------------------- loading


def load_config(project_dir: Path) -> Config:
    """Read and validate the configuration; raise BuildError naming file, line and key on any problem."""
    pyproject = project_dir / "pyproject.toml"
    standalone = project_dir / "dldeck.toml"
    settings: dict[str, Any] = {}
    origins: dict[str, tuple[Path, str]] = {}  # key → (file, table prefix) for messages
    diagnostics: list[Diagnostic] = []
    if pyproject.is_file():
        data = _read_toml(pyproject, diagnostics)
        tool = data.get("tool", {}) if isinstance(data, dict) else {}
        section = tool.get("dldeck", {}) if isinstance(tool, dict) else {}
        if not isinstance(section, dict):
            diagnostics.append(_diag(pyproject, "tool.dldeck", "must be a table"))
            section = {}
        for key, value in section.items():
            settings[key] = value
            origins[key] = (pyproject, "tool.dldeck.")
    if standalone.is_file():
        for key, value in _read_toml(standalone, diagnostics).items():
            settings[key] = value
            origins[key] = (standalone, "")
    config = _validate(settings, origins, diagnostics)
    if diagnostics:
        raise BuildError(diagnostics)
    return config


def _read_toml(path: Path, diagnostics: list[Diagnostic]) -> dict[str, Any]:
    try:
        return tomllib.loads(read_regular(path).decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None) or _line_from_message(str(exc))
        diagnostics.append(Diagnostic(str(path), line, f"not valid TOML: {exc}"))
    except (Refused, OSError, UnicodeDecodeError) as exc:
        diagnostics.append(Diagnostic(str(path), 1, f"cannot read configuration: {exc}"))
    return {}


def _line_from_message(message: str) -> int:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else 1


_TOP_KEYS = {"title", "content_dir", "build_dir", "sheets", "strict"}
_SHEET_KEYS = {"name", "decks", "tags", "paper", "orientation", "columns", "include_extra"}


def _validate(settings: dict[str, Any], origins: dict[str, tuple[Path, str]],
              diagnostics: list[Diagnostic]) -> Config:
    def problem(key: str, message: str, sheet_index: int | None = None, sheet_key: str = "") -> None:
        path, prefix = origins[key]
        shown = prefix + key + (f"[{sheet_index}].{sheet_key}" if sheet_index is not None else "")
        diagnostics.append(_diag(path, shown, message, sheet_index, sheet_key or key))

    for key in settings:
        if key not in _TOP_KEYS:
            problem(key, f"unknown key (known: {', '.join(sorted(_TOP_KEYS))})")
    title = settings.get("title", DEFAULT_TITLE)
    if not isinstance(title, str) or not title.strip():
        problem("title", f"must be a non-empty string, got {title!r}")
        title = DEFAULT_TITLE
    dirs: dict[str, str] = {}
    for key in ("content_dir", "build_dir"):
        value = settings.get(key, key.removesuffix("_dir"))
        if not isinstance(value, str) or not value.strip():
            problem(key, f"must be a non-empty path string, got {value!r}")
            value = key.removesuffix("_dir")
        dirs[key] = value

    strict = settings.get("strict", False)
    if not isinstance(strict, bool):
        problem("strict", f"must be true or false, got {strict!r}")
        strict = False

    sheets: list[SheetConfig] = []
    raw_sheets = settings.get("sheets")
    if raw_sheets is None:
        sheets.append(SheetConfig())
    elif not isinstance(raw_sheets, list) or not raw_sheets:
        problem("sheets", "must be a non-empty array of tables ([[sheets]])")
    else:
        seen: set[str] = set()
        for index, raw in enumerate(raw_sheets):
            sheet = _validate_sheet(raw, index, problem)
            if sheet is None:
                continue
            if sheet.name in seen:
                problem("sheets", f"duplicate sheet name {sheet.name!r}", index, "name")
            seen.add(sheet.name)
            sheets.append(sheet)

    sources = sorted({str(path) for path, _ in origins.values()})
    return Config(str(title), dirs["content_dir"], dirs["build_dir"], tuple(sheets), ", ".join(sources),
                  strict)


def _validate_sheet(raw: Any, index: int, problem: Any) -> SheetConfig | None:
    if not isinstance(raw, dict):
        problem("sheets", f"must be a table, got {raw!r}", index, "")
        return None
    ok = True

    def bad(key: str, message: str) -> None:
        nonlocal ok
        ok = False
        problem("sheets", message, index, key)

    for key in raw:
        if key not in _SHEET_KEYS:
            bad(key, f"unknown key (known: {', '.join(sorted(_SHEET_KEYS))})")
    defaults = SheetConfig()
    name = raw.get("name", defaults.name)
    if not isinstance(name, str) or not SHEET_NAME.fullmatch(name):
        bad("name", f"must be a file stem of letters, digits, '-', '_' or '.', got {name!r}")
    lists: dict[str, tuple[str, ...]] = {}
    for key in ("decks", "tags"):
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            bad(key, f"must be a list of non-empty strings, got {value!r}")
            value = []
        lists[key] = tuple(value)
    paper = raw.get("paper", defaults.paper)
    if paper not in ("a4", "letter"):
        bad("paper", f"must be \"a4\" or \"letter\", got {paper!r}")
    orientation = raw.get("orientation", defaults.orientation)
    if orientation not in ("landscape", "portrait"):
        bad("orientation", f"must be \"landscape\" or \"portrait\", got {orientation!r}")
    columns = raw.get("columns", defaults.columns)
    if isinstance(columns, bool) or not isinstance(columns, int) or not 2 <= columns <= 4:
        bad("columns", f"must be an integer from 2 to 4, got {columns!r}")
    include_extra = raw.get("include_extra", defaults.include_extra)
    if not isinstance(include_extra, bool):
        bad("include_extra", f"must be true or false, got {include_extra!r}")
    if not ok:
        return None
    return SheetConfig(name, lists["decks"], lists["tags"], paper, orientation, columns, include_extra)


def _diag(path: Path, shown_key: str, message: str, sheet_index: int | None = None,
          bare_key: str = "") -> Diagnostic:
    return Diagnostic(str(path), _key_line(path, bare_key or shown_key.rsplit(".", 1)[-1], sheet_index),
                      f"{shown_key}: {message}")


def _key_line(path: Path, key: str, sheet_index: int | None) -> int:
    """Best-effort line of `key = …` (within the n-th `[[…sheets]]` table when given); tomllib has none."""
    try:
        lines = read_regular(path).decode("utf-8").splitlines()
    except (Refused, OSError, UnicodeDecodeError):
        return 1
    start = 0
    if sheet_index is not None:
        header = re.compile(r"\s*\[\[\s*(tool\.dldeck\.)?sheets\s*\]\]")
        headers = [i for i, line in enumerate(lines) if header.match(line)]
        if sheet_index < len(headers):
            start = headers[sheet_index]
    if path.name == "pyproject.toml" and sheet_index is None:
        for i, line in enumerate(lines):
            if re.match(r"\s*\[\s*tool\.dldeck\s*\]", line):
                start = i
                break
    pattern = re.compile(rf"\s*{re.escape(key)}\s*=")
    for i in range(start, len(lines)):
        if pattern.match(lines[i]):
            return i + 1
    return start + 1
