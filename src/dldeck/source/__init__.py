"""Readers: Markdown content → the model. `read_collection` is the one entry point."""

from __future__ import annotations

from pathlib import Path

from dldeck.errors import BuildError, Diagnostic, OutputError, printable
from dldeck.model import Collection
from dldeck.source.glossary import load_glossary
from dldeck.source.lint import lint
from dldeck.source.reader import read_files

__all__ = ["read_collection"]


def read_collection(content_dir: Path) -> Collection:
    """Read and lint a content tree; raise BuildError with every problem found, not just the first."""
    if not content_dir.is_dir():
        # The invocation, not the content, is wrong: nothing to point a path:line at (exit status 2).
        what = "is not a folder" if content_dir.exists() else "does not exist"
        raise OutputError(f"content folder {printable(str(content_dir))} {what} (give --content, or run "
                          "dldeck in the project folder)")
    diagnostics: list[Diagnostic] = []
    cards, files = read_files(content_dir, diagnostics)
    diagnostics.extend(lint(cards, load_glossary(content_dir, diagnostics)))
    if not cards and not diagnostics:
        # Building nothing would replace the previous outputs with an empty deck.
        diagnostics.append(Diagnostic(str(content_dir), 0, "no cards found: no *.md file here has a "
                                                           "'## Question {#slug}' heading"))
    if diagnostics:
        raise BuildError(diagnostics)
    return Collection(tuple(cards), str(content_dir.resolve()), tuple(files))
