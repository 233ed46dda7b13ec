"""Build caches under `build/cache/`: what a rebuild may reuse, keyed by content hash.

Authors rebuild after every edit, so a build must redo only what an edit touched. Every cache
file starts with a JSON header that records its format version, the hash of the tool that wrote it,
an index of its entries and a digest of their bytes (see `_envelope`); a file that fails to parse,
whose digest does not match, or that was written by another version of dldeck is discarded and
rebuilt, never trusted. Files are written
to a temporary name and renamed, so a crash never leaves half a cache behind.

This module is imported on every `dldeck build`, including the no-op fast path, so it imports
nothing heavier than the standard library.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dldeck.atomicfile import write_atomically
from dldeck.contain import Refused, inside, open_regular

CACHE_VERSION = 2
CACHE_DIR_NAME = "cache"
STAMP_NAME = "stamp.json"
PACKAGE_DIR = Path(__file__).resolve().parent
_SOURCE_SUFFIXES = {".py", ".css", ".j2", ".typ", ".js", ".json", ".toml", ".lark"}


# --------------------------------------------------------------------------- hashing


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hash_file(path: Path) -> str:
    """Hash of a file's bytes; a missing or unusable file hashes as such, so it still counts. Only
    regular files are opened (see dldeck.contain): a FIFO or /dev/zero among the inputs cannot hang."""
    try:
        with open_regular(path) as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except Refused as error:
        return f"unusable:{error}"
    except OSError as error:
        return f"unreadable:{error.errno}"


def file_stamp(path: Path, *, follow_symlinks: bool = True) -> list[int]:
    """A file's size, modification and change times and inode, without reading it: any write to the
    file, or another file put in its place, changes them (the change time cannot be set back), so a
    file that still carries the stamp it had when a cache last looked at it need not be read again
    (a font of megabytes, a thousand figure files). OSError if it is missing."""
    stat = os.stat(path, follow_symlinks=follow_symlinks)
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]


@contextmanager
def bulk() -> Iterator[None]:
    """While many objects that all live on are made (a cache loaded, cards restored), the cyclic
    garbage collector is paused, and then everything alive is moved out of its sight (`gc.freeze`):
    it would walk them again and again and find nothing (at 5,000 cards that was most of the time of
    restoring them). `pipeline.build` gives them back to it (`gc.unfreeze`) when it ends."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if paused:
            gc.enable()


def _canonical(value: Any) -> str:
    """The one JSON text of a value that `hash_json` hashes."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def hash_json(value: Any) -> str:
    """Hash of a JSON-able value, independent of dict order."""
    return sha256_bytes(_canonical(value).encode("utf-8"))


def rows_of(value: Any, *types: type) -> bool:
    """Whether a JSON value read back from a cache is a list of rows, each of exactly these types:
    the shape check of a restored entry, made once per row, not once per part."""
    kinds = list(types)
    return type(value) is list and all(type(row) is list and list(map(type, row)) == kinds for row in value)


def tree_files(root: Path, *, skip: Iterable[str] = ()) -> Iterator[Path]:
    """Every file below root in a stable order, skipping the given names and `__pycache__`."""
    skipped = set(skip)
    if not root.is_dir():
        return
    for directory, folders, files in os.walk(root):
        folders[:] = sorted(f for f in folders if f != "__pycache__")
        for name in sorted(files):
            if name not in skipped:
                yield Path(directory) / name


def hash_tree(root: Path, *, skip: Iterable[str] = (), suffixes: set[str] | None = None) -> str:
    """One hash over every file's relative path and bytes: any edit, addition or removal changes it.
    A symlink that leads out of root is hashed by where it leads, never read."""
    digest = hashlib.sha256()
    for path in tree_files(root, skip=skip):
        if suffixes is not None and path.suffix not in suffixes:
            continue
        try:
            inside(path, root)
            state = hash_file(path)
        except Refused:
            state = f"outside:{os.path.realpath(path)}"
        digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
        digest.update(state.encode("utf-8") + b"\0")
    return digest.hexdigest()


_installed_cache: list[str] = []


def installed_distributions() -> list[str]:
    """Names of installed `*.dist-info` folders (they carry versions): a dependency upgrade shows."""
    if not _installed_cache:
        names: set[str] = set()
        for entry in sys.path:
            try:
                names.update(n for n in os.listdir(entry or ".") if n.endswith(".dist-info"))
            except OSError:
                continue
        _installed_cache.extend(sorted(names))
    return list(_installed_cache)


def tool_hash(*parts: str) -> str:
    """The version of the code that produced a cache entry: dldeck's own files (the named
    subpackages and modules, or all of them), the Python version and the installed distributions."""
    digest = hashlib.sha256()
    digest.update(f"{CACHE_VERSION}|{sys.version}".encode())
    for part in parts or ("",):
        target = PACKAGE_DIR / part
        if target.is_dir():
            digest.update(f"{part}:{hash_tree(target, suffixes=_SOURCE_SUFFIXES)}".encode())
        else:
            digest.update(f"{part}:{hash_file(target)}".encode())
    digest.update("\n".join(installed_distributions()).encode("utf-8"))
    return digest.hexdigest()


_VALUE = -1  # an index row's size for an entry that is a JSON value, not a text


def _envelope(tool: str, entries: dict[str, Any]) -> bytes:
    """A header line, then the entries' bytes: first every entry that is not a text, as one JSON array,
    then every text as its own UTF-8, one after another. The header holds the format version, the
    tool, the digest of the bytes after it, the JSON array's length and an index of the entries
    ([key, the text's length in bytes, or -1 for a value from the array], in order). A text is kept
    as itself, not as a JSON string, because the large caches hold texts (a card's HTML, a file's
    shelved cards): reading one back is a UTF-8 decode, not a parse."""
    index, values, texts = [], [], []
    for key, value in entries.items():
        if isinstance(value, str):
            data = value.encode("utf-8")
            index.append([key, len(data)])
            texts.append(data)
        else:
            index.append([key, _VALUE])
            values.append(value)
    array = _canonical(values).encode("utf-8")
    body = array + b"".join(texts)
    head = {"version": CACHE_VERSION, "tool": tool, "digest": sha256_bytes(body), "values": len(array),
            "index": index}
    return _canonical(head).encode("utf-8") + b"\n" + body


def _open_envelope(path: Path, tool: str) -> tuple[dict[str, Any] | None, str]:
    """The entries of a cache file, or None and why it cannot be trusted."""
    if not os.path.lexists(path):
        return None, "missing"
    try:
        with open_regular(path) as handle:  # a FIFO planted in build/ must not hang the build
            raw = handle.read()
    except Refused as refused:
        return None, f"unreadable ({refused})"
    except OSError as error:
        return None, f"unreadable ({error.strerror})"
    end = raw.find(b"\n")
    try:
        head = json.loads(raw[:end].decode("utf-8")) if end >= 0 else None
    except (UnicodeDecodeError, ValueError):
        head = None
    if not isinstance(head, dict):
        return None, "corrupt (no header)"
    if head.get("version") != CACHE_VERSION:
        return None, "stale (cache format changed)"
    if head.get("tool") != tool:
        return None, "stale (dldeck or a dependency changed)"
    index, array = head.get("index"), head.get("values")
    if not rows_of(index, str, int) or type(array) is not int or array < 0 \
            or any(size < _VALUE for _, size in index):
        return None, "corrupt (wrong shape)"
    body = memoryview(raw)[end + 1:]
    if array + sum(size for _, size in index if size != _VALUE) != len(body):
        return None, "corrupt (cut short)"
    if sha256_bytes(body) != head.get("digest"):
        return None, "corrupt (digest mismatch)"
    try:
        with bulk():
            values = json.loads(str(body[:array], "utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None, "corrupt (not JSON)"
    if type(values) is not list or len(values) != sum(size == _VALUE for _, size in index):
        return None, "corrupt (wrong shape)"
    entries: dict[str, Any] = {}
    start, taken = array, iter(values)
    try:
        for key, size in index:
            if size == _VALUE:
                entries[key] = next(taken)
            else:
                entries[key] = str(body[start:start + size], "utf-8")
                start += size
    except UnicodeDecodeError:
        return None, "corrupt (not UTF-8)"
    return entries, "ok"


class JsonCache:
    """`key → JSON value` in one file; entries not used by a build are dropped when it saves.

    `status` says whether the file was trusted ("ok") or why it was discarded; `hits` and `misses`
    count look-ups, so tests and `--verbose` output can show what a build reused.
    """

    def __init__(self, build_dir: Path, name: str, tool: str) -> None:
        self.path = Path(build_dir) / CACHE_DIR_NAME / f"{name}.json"
        self.tool = tool
        loaded, self.status = _open_envelope(self.path, tool)
        self._loaded: dict[str, Any] = loaded or {}
        self._used: dict[str, Any] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Any | None:
        if key in self._used:
            return self._used[key]
        value = self._loaded.get(key)
        if value is None:
            self.misses += 1
            return None
        self.hits += 1
        self._used[key] = value
        return value

    def put(self, key: str, value: Any) -> None:
        self._used[key] = value

    def forget(self, key: str) -> None:
        """Drop an entry that turned out unusable (e.g. its files are gone)."""
        self._used.pop(key, None)
        self._loaded.pop(key, None)

    def save(self) -> None:
        """Write the entries this build used or made, if that differs from what is on disk."""
        if self.status == "ok" and self._used == self._loaded:
            return
        write_atomically(self.path, _envelope(self.tool, dict(sorted(self._used.items()))))
        self._loaded = dict(self._used)
        self.status = "ok"


class ShardedCache:
    """A `JsonCache` split by key into 16 files (`<name>.<0-f>.json`): a large per-card cache whose
    few changed entries rewrite the files that hold them, not all of it. The same interface."""

    def __init__(self, build_dir: Path, name: str, tool: str) -> None:
        self.shards = {digit: JsonCache(build_dir, f"{name}.{digit}", tool) for digit in "0123456789abcdef"}
        self.status = next((shard.status for shard in self.shards.values() if shard.status != "ok"), "ok")

    def _shard(self, key: str) -> JsonCache:
        return self.shards.get(key[-1:]) or self.shards[hashlib.sha256(key.encode("utf-8")).hexdigest()[-1]]

    def get(self, key: str) -> Any | None:
        return self._shard(key).get(key)

    def put(self, key: str, value: Any) -> None:
        self._shard(key).put(key, value)

    def forget(self, key: str) -> None:
        self._shard(key).forget(key)

    def save(self) -> None:
        for shard in self.shards.values():
            shard.save()
        self.status = "ok"


# --------------------------------------------------------------------------- the no-op stamp


class Stamp:
    """What the last successful build read and wrote; if all of it is unchanged, there is no work.

    `inputs` is one hash over every input (content files, configuration, dldeck's own code and
    installed distributions, the options); `files` maps other files that were read (the
    manifest as written) and every output to their hashes.
    """

    def __init__(self, build_dir: Path) -> None:
        self.path = Path(build_dir) / CACHE_DIR_NAME / STAMP_NAME

    def load(self, tool: str) -> dict[str, Any] | None:
        entries, _ = _open_envelope(self.path, tool)
        return entries

    def matches(self, tool: str, inputs: str) -> dict[str, Any] | None:
        """The recorded summary when nothing changed since the last build, else None."""
        entries = self.load(tool)
        if entries is None or entries.get("inputs") != inputs:
            return None
        files = entries.get("files")
        summary = entries.get("summary")
        if not isinstance(files, dict) or not files or not isinstance(summary, dict):
            return None
        for name, recorded in files.items():
            if hash_file(Path(name)) != recorded:
                return None
        return summary

    def record(self, tool: str, inputs: str, files: Iterable[Path], summary: dict[str, Any]) -> None:
        entries = {"inputs": inputs, "files": {str(p): hash_file(p) for p in files}, "summary": summary}
        write_atomically(self.path, _envelope(tool, entries))

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
