"""When did each note's rendered content last change? A tracked JSON file remembers.

Anki updates an imported note only when the incoming note is newer than the one in the learner's
collection. A fixed build time would silently drop every edit; the wall clock would overwrite the
learner's own edits on every build and make builds irreproducible. So each note carries the time
its rendered content last changed: unchanged content keeps its recorded time, changed content gets
the build time (always strictly newer than before). The file is committed with the content so
every machine builds the same deck.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from dldeck.atomicfile import StagedWrite
from dldeck.contain import Refused, read_regular
from dldeck.errors import BuildError, Diagnostic

DEFAULT_MANIFEST_PATH = Path("content/.dldeck-manifest.json")
MANIFEST_VERSION = 1
MAX_MANIFEST_BYTES = 64 << 20
# The last second Python's datetime can show; note ids are `mtime * 1000 + n`, well inside int64.
MAX_MTIME = 253402300799


def build_time() -> int:
    """The build's notion of "now": SOURCE_DATE_EPOCH when set (reproducible builds), else the clock."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        return int(epoch)
    return int(time.time())


def rendered_hash(parts: Iterable[str]) -> str:
    """Hash of what the learner sees (rendered fields, tags, note type), so only visible changes count."""
    digest = hashlib.sha256()
    for part in parts:
        encoded = part.encode("utf-8")
        # Length-prefix each part so ("ab", "c") and ("a", "bc") differ.
        digest.update(len(encoded).to_bytes(8, "big"))
        digest.update(encoded)
    return digest.hexdigest()


@dataclass(frozen=True)
class ManifestEntry:
    hash: str
    mtime: int


class Manifest:
    """`slug → (hash, mtime)` for notes, `name → (hash, mtime)` for note types."""

    def __init__(
        self,
        path: Path,
        notes: dict[str, ManifestEntry] | None = None,
        note_types: dict[str, ManifestEntry] | None = None,
    ) -> None:
        self.path = Path(path)
        self.notes: dict[str, ManifestEntry] = dict(notes or {})
        self.note_types: dict[str, ManifestEntry] = dict(note_types or {})
        self._changed = False

    @classmethod
    def load(cls, path: Path = DEFAULT_MANIFEST_PATH) -> Manifest:
        """Read the manifest; a missing file is an empty manifest (first build). The file comes with
        content from strangers, so anything wrong with it is a `path:line:` BuildError."""
        path = Path(path)
        if not os.path.lexists(path):
            return cls(path)
        try:
            raw = read_regular(path, MAX_MANIFEST_BYTES).decode("utf-8")
        except Refused as refused:
            raise _problem(path, 1, f"cannot read the dldeck manifest: {refused}") from None
        except UnicodeDecodeError as error:
            raise _problem(path, 1, f"the dldeck manifest is not UTF-8 ({error.reason})") from None
        notes, note_types = _parse(path, raw)
        return cls(path, notes, note_types)
    def mtime_for(self, slug: str, rendered_hash: str, now: int) -> int:
        """The note's mtime: recorded if its rendering is unchanged, else `now` (strictly newer)."""
        return _update(self.notes, slug, rendered_hash, now, self._mark_changed)

    def note_type_mtime(self, name: str, rendered_hash: str, now: int) -> int:
        """Like `mtime_for`, for a note type: Anki applies template/CSS edits only when it is newer."""
        return _update(self.note_types, name, rendered_hash, now, self._mark_changed)

    def retain(self, slugs: Iterable[str]) -> None:
        """Forget the notes of cards no longer in the collection, so the file does not keep every
        deleted card forever. Note types are kept: they are few and never deleted by content."""
        kept = set(slugs)
        gone = [slug for slug in self.notes if slug not in kept]
        for slug in gone:
            del self.notes[slug]
        if gone:
            self._mark_changed()

    def newest_mtime(self) -> int | None:
        times = [entry.mtime for entry in (*self.notes.values(), *self.note_types.values())]
        return max(times) if times else None

    @property
    def changed(self) -> bool:
        return self._changed

    def _mark_changed(self) -> None:
        self._changed = True

    def to_json(self) -> str:
        data = {
            "version": MANIFEST_VERSION,
            "notes": {slug: {"hash": e.hash, "mtime": e.mtime} for slug, e in self.notes.items()},
            "note_types": {name: {"hash": e.hash, "mtime": e.mtime} for name, e in self.note_types.items()},
        }
        return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"

    def stage(self) -> StagedWrite | None:
        """Write the new manifest under a temporary name, only if something changed; the caller puts it
        in place with `commit()` once the outputs it describes are in place (see pipeline.publish)."""
        if not self._changed:
            return None
        text = self.to_json()
        if self.path.exists() and self.path.read_text(encoding="utf-8") == text:
            self._changed = False
            return None
        staged = StagedWrite(self.path, text.encode("utf-8"))
        self._changed = False
        return staged

    def save(self) -> bool:
        """Write atomically, only if something changed, so a no-op rebuild leaves the file alone."""
        staged = self.stage()
        if staged is None:
            return False
        staged.commit()
        return True


def _problem(path: Path, line: int, message: str) -> BuildError:
    return BuildError([Diagnostic(str(path), line, message)])


_CONFLICT = re.compile(r"^(<{7}|={7}|>{7})( |$)")
START_OVER = "fix it, or delete it to start over (every note then counts as changed once)"


def _parse(path: Path, raw: str) -> tuple[dict[str, ManifestEntry], dict[str, ManifestEntry]]:
    lines = raw.splitlines()
    for number, line in enumerate(lines, start=1):
        if _CONFLICT.match(line):
            raise _problem(path, number, "unresolved merge conflict markers in the dldeck manifest: "
                                         "keep, for each note, the entry with the larger mtime")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise _problem(path, error.lineno, f"the dldeck manifest is not valid JSON ({error.msg}); "
                                           f"{START_OVER}") from None
    except (ValueError, RecursionError) as error:  # e.g. an integer of more than 4300 digits
        message = f"the dldeck manifest cannot be read ({str(error)[:80]}); {START_OVER}"
        raise _problem(path, 1, message) from None
    if not isinstance(data, dict):
        raise _problem(path, 1, f"the dldeck manifest must be a JSON object; {START_OVER}")
    version = data.get("version", MANIFEST_VERSION)
    if version != MANIFEST_VERSION:
        raise _problem(path, _line_of(lines, "version"),
                       f"dldeck manifest version {version!r} is not {MANIFEST_VERSION}: it was written by "
                       "another version of dldeck")
    return (_entries(path, lines, data.get("notes", {}), "notes"),
            _entries(path, lines, data.get("note_types", {}), "note_types"))


def _line_of(lines: list[str], key: str) -> int:
    """The line of `"key":` in the file as dldeck writes it (one key per line), else 1."""
    needle = json.dumps(key, ensure_ascii=False) + ":"
    return next((number for number, line in enumerate(lines, start=1) if needle in line), 1)


def _entries(path: Path, lines: list[str], raw: object, table: str) -> dict[str, ManifestEntry]:
    if not isinstance(raw, dict):
        raise _problem(path, _line_of(lines, table), f"{table!r} must be an object of entries; {START_OVER}")
    entries: dict[str, ManifestEntry] = {}
    for key, value in raw.items():
        # the line is looked up only for an entry in error: a scan per entry is quadratic in the deck size
        if not isinstance(value, dict) or not isinstance(value.get("hash"), str):
            raise _problem(path, _line_of(lines, key),
                           f"entry {key!r} needs a text 'hash' and an integer 'mtime'; {START_OVER}")
        mtime = value.get("mtime")
        if isinstance(mtime, bool) or not isinstance(mtime, int) or not 0 <= mtime <= MAX_MTIME:
            raise _problem(path, _line_of(lines, key),
                           f"entry {key!r} has mtime {str(mtime)[:40]!r}: it must be a whole number of "
                           f"seconds from 0 to {MAX_MTIME} (the year 9999); {START_OVER}")
        entries[str(key)] = ManifestEntry(value["hash"], mtime)
    return entries


def _update(
    table: dict[str, ManifestEntry], key: str, new_hash: str, now: int, on_change: Callable[[], None]
) -> int:
    recorded = table.get(key)
    if recorded is not None and recorded.hash == new_hash:
        return recorded.mtime
    mtime = now if recorded is None else max(now, recorded.mtime + 1)
    table[key] = ManifestEntry(new_hash, mtime)
    on_change()
    return mtime

