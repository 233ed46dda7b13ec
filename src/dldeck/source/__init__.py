"""Readers: Markdown content → the model. `read_collection` is the one entry point."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Protocol

from dldeck import buildcache
from dldeck.errors import BuildError, Diagnostic, OutputError, printable
from dldeck.model import Card, Collection
from dldeck.source import codec
from dldeck.source.glossary import load_glossary
from dldeck.source.lint import lint_cards, unique_slugs
from dldeck.source.reader import content_files, file_bytes, make_parser, read_file

__all__ = ["ParsedFiles", "read_collection"]


class ParsedFiles(Protocol):
    """Where each file's read and linted cards are kept between builds (a pipeline Executor), so a
    build re-reads only the files whose bytes changed."""

    def key(self, inputs: Any) -> str: ...

    def get(self, key: str, restore: Callable[[Any], Any]) -> Any: ...

    def put(self, key: str, value: Any) -> None: ...


def read_collection(content_dir: Path, parsed: ParsedFiles | None = None,
                    fresh: list[str] | None = None) -> Collection:
    """Read and lint a content tree; raise BuildError with every problem found, not just the first.

    With `parsed`, a file whose bytes (and the glossary, and the images it shows) are unchanged
    since a build that found no problem in it is not read again; the files that were read are
    appended to `fresh`."""
    if not content_dir.is_dir():
        # The invocation, not the content, is wrong: nothing to point a path:line at (exit status 2).
        what = "is not a folder" if content_dir.exists() else "does not exist"
        raise OutputError(f"content folder {printable(str(content_dir))} {what} (give --content, or run "
                          "dldeck in the project folder)")
    diagnostics: list[Diagnostic] = []
    glossary = load_glossary(content_dir, diagnostics)
    root = str(content_dir.resolve())  # images are kept by their real path
    # Each file in order: its cached (card, digest) pairs, or its bytes and cache key to read it.
    slots: list[list[tuple[Card, str]] | _Unread] = []
    files: list[str] = []
    for path, relative, display in content_files(content_dir):
        files.append(display)
        data = file_bytes(content_dir, path, display, diagnostics)
        if data is None:
            continue
        key = ""
        if parsed is not None:
            key = parsed.key([root, display, relative.as_posix(), buildcache.sha256_bytes(data),
                              repr(glossary)])
            with buildcache.bulk():
                kept = parsed.get(key, _restore)
            if kept is not None:
                slots.append(kept)
                continue
        slots.append(_Unread(path, relative, display, data, key))
    unread = [slot for slot in slots if isinstance(slot, _Unread)]
    done = read_files(content_dir, unread, glossary, encode=parsed is not None)
    read_of = {id(slot): read for slot, read in zip(unread, done, strict=True)}
    cards: list[Card] = []
    for slot in slots:
        pairs: Iterable[tuple[Card, str]]
        if not isinstance(slot, _Unread):
            pairs = slot
        else:
            if fresh is not None:
                fresh.append(slot.display)
            read = read_of[id(slot)]
            if parsed is not None and not read.problems:
                images = {src: buildcache.hash_file(Path(src)) for src in read.images}
                parsed.put(slot.key, _entry(read, images))
            diagnostics.extend(read.problems)
            if read.cards is None:  # read in a forked reader
                pairs = zip(codec.unshelve_all(read.shelf, lazy=False), read.digests, strict=True)
            else:  # read here: the cards themselves (their digests are known if they were encoded)
                pairs = zip(read.cards, read.digests or [""] * len(read.cards), strict=True)
        for card, digest in pairs:
            card = codec.placed(card, len(cards))
            if digest:
                codec.remember(card, digest)
            cards.append(card)
    diagnostics.extend(unique_slugs(cards))
    if not cards and not diagnostics:
        # Building nothing would replace the previous outputs with an empty deck.
        diagnostics.append(Diagnostic(str(content_dir), 0, "no cards found: no *.md file here has a "
                                                           "'## Question {#slug}' heading"))
    if diagnostics:
        raise BuildError(diagnostics)
    return Collection(tuple(cards), root, tuple(files))


@dataclasses.dataclass(frozen=True)
class _Unread:
    """A content file to read: its bytes and the key its cards will be cached under."""

    path: Path
    relative: Path
    display: str
    data: bytes
    key: str


@dataclasses.dataclass(frozen=True)
class _Read:
    """A file's problems and, when it is to be cached or was read in a forked reader, its cards as
    `codec.shelve_all` text (cheap to send back), their digests and the image files they show."""

    problems: list[Diagnostic]
    shelf: str = ""
    digests: list[str] = dataclasses.field(default_factory=list)
    images: list[str] = dataclasses.field(default_factory=list)
    cards: tuple[Card, ...] | None = None  # read in this process: the cards themselves


PARALLEL_BYTES = 200_000  # below this much Markdown to read, forking readers costs more than it saves

_JOB: tuple[Path, list[_Unread], Any] | None = None  # what forked readers inherit instead of a pickle


def read_files(content_dir: Path, unread: list[_Unread], glossary: Any, encode: bool) -> list[_Read]:
    """Each file read and linted, in order: by one forked process per core when there is enough to
    read (a cold build of a large deck), else here."""
    global _JOB
    workers = min(os.cpu_count() or 1, len(unread))
    if workers > 1 and sum(len(item.data) for item in unread) >= PARALLEL_BYTES \
            and "fork" in multiprocessing.get_all_start_methods():
        _JOB = (content_dir, unread, glossary)
        try:
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
                chunk = max(1, len(unread) // (8 * workers))
                return list(pool.map(_read_nth, range(len(unread)), chunksize=chunk))
        except BrokenProcessPool:
            pass  # a reader died (out of memory, killed): read here, where the failure shows as itself
        finally:
            _JOB = None
    return [_read_one(content_dir, item, glossary, encode=encode, here=True) for item in unread]


def _read_nth(index: int) -> _Read:
    assert _JOB is not None
    content_dir, unread, glossary = _JOB
    return _read_one(content_dir, unread[index], glossary, encode=True, here=False)


_PARSER: list[Any] = []  # this process's markdown-it parser, made once


def _read_one(content_dir: Path, item: _Unread, glossary: Any, *, encode: bool, here: bool) -> _Read:
    if not _PARSER:
        _PARSER.append(make_parser())
    found: list[Diagnostic] = []
    cards = read_file(_PARSER[0], content_dir, item.path, item.relative, item.display, item.data, 0, found)
    found.extend(lint_cards(cards, glossary))
    objects = tuple(cards) if here else None
    if not encode:
        return _Read(found, cards=objects)
    encoded = codec.encode(tuple(cards))
    digests = [codec.encoded_digest(card) for card in encoded]
    return _Read(found, codec.shelve_all(cards, encoded), digests, sorted(_images(encoded)), objects)


def _images(encoded: Any) -> set[str]:
    """The files of every image the encoded cards show: reading checked them, so they are inputs."""
    found: set[str] = set()
    pending = [encoded]
    while pending:
        value = pending.pop()
        if isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, dict):
            for name, fields in value.items():
                if name == "Image" and fields and isinstance(fields[0], str):
                    found.add(fields[0])
                pending.append(fields)
    return found


def _entry(read: _Read, images: dict[str, str]) -> str:
    """A file's read-cache entry as one text: a JSON line of its cards' digests and the image files they
    show, then the `codec.shelve_all` text. A text is kept as itself in the cache (see
    `buildcache._envelope`), so reading it back parses the shelf once, not once inside the cache file
    and again when unshelved."""
    return json.dumps({"digests": read.digests, "images": images}, ensure_ascii=False) + "\n" + read.shelf


def _restore(entry: Any) -> list[tuple[Card, str]] | None:
    """A file's cached cards (their bodies still encoded) with their digests, if every image they show
    is still the file that was checked."""
    try:
        line, _, shelf = entry.partition("\n")
        kept = json.loads(line)
        images, digests = kept["images"], kept["digests"]
        if any(buildcache.hash_file(Path(src)) != digest for src, digest in images.items()):
            return None
        cards = codec.unshelve_all(shelf)
    except (TypeError, KeyError, ValueError, AttributeError):
        return None
    if not (isinstance(digests, list) and len(digests) == len(cards)
            and all(isinstance(digest, str) for digest in digests)):
        return None
    return list(zip(cards, digests, strict=True))
