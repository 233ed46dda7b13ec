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
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from dldeck.atomicfile import write_atomically

DEFAULT_MANIFEST_PATH = Path("content/.dldeck-manifest.json")
MANIFEST_VERSION = 1


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
        """Read the manifest; a missing file is an empty manifest (first build)."""
        path = Path(path)
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        try:
            data = json.loads(raw)
            notes = _entries(data.get("notes", {}))
            note_types = _entries(data.get("note_types", {}))
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            raise ValueError(
                f"{path}:1: unreadable dldeck manifest ({error}); delete it to start over"
            ) from error
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

    def save(self) -> bool:
        """Write atomically, only if something changed, so a no-op rebuild leaves the file alone."""
        if not self._changed:
            return False
        text = self.to_json()
        if self.path.exists() and self.path.read_text(encoding="utf-8") == text:
            self._changed = False
            return False
        write_atomically(self.path, text.encode("utf-8"))
        self._changed = False
        return True


def _entries(raw: object) -> dict[str, ManifestEntry]:
    if not isinstance(raw, dict):
        raise TypeError("expected an object of entries")
    return {str(key): ManifestEntry(str(value["hash"]), int(value["mtime"])) for key, value in raw.items()}


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

