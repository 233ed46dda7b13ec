"""Readers: Markdown content → the model. `read_collection` is the one entry point."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
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
    md = None
    cards: list[Card] = []
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
                for card, digest in kept:
                    card = dataclasses.replace(card, order=len(cards))
                    codec.remember(card, digest)
                    cards.append(card)
                continue
        md = md or make_parser()
        found: list[Diagnostic] = []
        file_cards = read_file(md, content_dir, path, relative, display, data, len(cards), found)
        found.extend(lint_cards(file_cards, glossary))
        if fresh is not None:
            fresh.append(display)
        if parsed is not None and not found:
            encoded = codec.encode(tuple(file_cards))
            images = {src: buildcache.hash_file(Path(src)) for src in sorted(_images(encoded))}
            digests = [codec.digest(card) for card in file_cards]
            parsed.put(key, {"cards": codec.dumps(encoded), "digests": digests, "images": images})
        diagnostics.extend(found)
        cards.extend(file_cards)
    diagnostics.extend(unique_slugs(cards))
    if not cards and not diagnostics:
        # Building nothing would replace the previous outputs with an empty deck.
        diagnostics.append(Diagnostic(str(content_dir), 0, "no cards found: no *.md file here has a "
                                                           "'## Question {#slug}' heading"))
    if diagnostics:
        raise BuildError(diagnostics)
    return Collection(tuple(cards), root, tuple(files))


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


def _restore(entry: Any) -> list[tuple[Card, str]] | None:
    """A file's cached cards with their digests, if every image they show is still the file that was
    checked."""
    try:
        images, encoded, digests = entry["images"], entry["cards"], entry["digests"]
        if any(buildcache.hash_file(Path(src)) != digest for src, digest in images.items()):
            return None
        cards = codec.loads(encoded)
    except (TypeError, KeyError, ValueError, AttributeError):
        return None
    if not (isinstance(digests, list) and len(digests) == len(cards)
            and all(isinstance(d, str) for d in digests) and all(isinstance(card, Card) for card in cards)):
        return None
    return list(zip(cards, digests, strict=True))
