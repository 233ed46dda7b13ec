"""Readers: Markdown content → the model. `read_collection` is the one entry point."""

from __future__ import annotations

from pathlib import Path

from dldeck.errors import BuildError, Diagnostic
from dldeck.model import Collection
from dldeck.source.glossary import load_glossary
from dldeck.source.lint import lint
from dldeck.source.reader import read_files

__all__ = ["read_collection"]


def read_collection(content_dir: Path) -> Collection:
    """Read and lint a content tree; raise BuildError with every problem found, not just the first."""
    if not content_dir.is_dir():
        raise BuildError([Diagnostic(str(content_dir), 0, "content directory not found")])
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
