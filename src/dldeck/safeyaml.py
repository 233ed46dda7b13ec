"""The one YAML loader for content (front matter and figure specs): data only, and bounded.

PyYAML's safe loader builds no objects, but it still expands aliases (one 20 KB string aliased
5,000 times is 100 MB of data from a 40 KB file) and recurses once per nesting level (a few
thousand `[` overflow the stack). Content has no use for either, so anchors and aliases are
refused where they are written and nesting stops at `MAX_DEPTH`, each as a marked YAML error that
callers turn into a `path:line` diagnostic.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.nodes import Node
from yaml.scanner import ScannerError

MAX_DEPTH = 50
ALIAS_REFUSED = "YAML anchors and aliases (&name, *name) are not allowed: write the value out"


class ContentLoader(yaml.SafeLoader):
    """SafeLoader without anchors or aliases, and with a nesting limit."""

    _depth = 0

    def fetch_alias(self) -> None:
        raise ScannerError(None, None, ALIAS_REFUSED, self.get_mark())

    def fetch_anchor(self) -> None:
        raise ScannerError(None, None, ALIAS_REFUSED, self.get_mark())

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:  # noqa: N803 - PyYAML's name
        # The scanner looks ahead over every open `[`/`{` for a possible key, at a cost that grows
        # with the depth: refusing depth here keeps `[[[[…` linear, before the composer sees it.
        if self.flow_level >= MAX_DEPTH:
            raise ScannerError(None, None, f"YAML nested deeper than {MAX_DEPTH} levels", self.get_mark())
        super().fetch_flow_collection_start(TokenClass)

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise ComposerError(None, None, f"YAML nested deeper than {MAX_DEPTH} levels",
                                    self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class YamlError(Exception):
    """A YAML problem with its 0-based line inside the YAML text."""

    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.message = message
        self.line = line


def marked_problem(exc: yaml.YAMLError) -> YamlError:
    """PyYAML's error as a one-line message and the line it points at."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line if mark is not None else 0
        return YamlError(str(exc.problem or exc.context or "malformed YAML"), line)
    return YamlError(str(exc), 0)


def load(text: str) -> Any:
    """Parse YAML text as plain data with `ContentLoader`; YamlError on any problem."""
    loader = ContentLoader(text)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        raise marked_problem(exc) from None
    finally:
        loader.dispose()
