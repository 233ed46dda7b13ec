"""Reading a figure block's YAML as data, keeping the line of every key and list item.

Two deliberate departures from plain YAML make the format's own examples work (see FORMAT.md,
"Figures"): a plain scalar keeps commas, brackets and colons inside parentheses, so
`plot: [sigma(x), diff(sigma(x), x)]` is a list of two expressions, not three fragments; and a
backslash inside a double-quoted string is literal unless it escapes `"` or `\\`, so
`"$\\theta$"` is LaTeX rather than a tab followed by `heta`. Everything else is YAML's safe
loader: data only, no tags that construct objects, and no anchors, aliases or deep nesting
(`dldeck.safeyaml.ContentLoader`, shared with front matter).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode
from yaml.scanner import ScannerError
from yaml.tokens import ScalarToken

from dldeck.safeyaml import ContentLoader, YamlError, marked_problem

_BREAKS = "\0 \t\r\n\x85\u2028\u2029"
MAX_FLOW_DEPTH = 20  # `[`/`{` nesting; PyYAML composes recursively and would overflow Python's stack


class FigureLoader(ContentLoader):
    """The content loader with expression-friendly plain scalars and LaTeX-friendly double quotes."""

    def scan_plain(self) -> ScalarToken:  # noqa: C901 - mirrors PyYAML's own scanner
        chunks: list[str] = []
        start_mark = self.get_mark()
        end_mark = start_mark
        indent = self.indent + 1
        spaces: list[str] = []
        depth = 0
        while True:
            length = 0
            if self.peek() == "#":
                break
            while True:
                ch = self.peek(length)
                if ch in _BREAKS:
                    break
                if depth > 0 and ch != ")":
                    if ch == "(":
                        depth += 1
                    length += 1
                    continue
                if ch == "(":
                    depth += 1
                elif ch == ")":
                    depth = max(0, depth - 1)
                elif ch == ":" and self.peek(length + 1) in _BREAKS + (",[]{}" if self.flow_level else ""):
                    break
                elif self.flow_level and ch in ",?[]{}":
                    break
                length += 1
            if length == 0:
                break
            self.allow_simple_key = False
            chunks.extend(spaces)
            chunks.append(self.prefix(length))
            self.forward(length)
            end_mark = self.get_mark()
            spaces = self.scan_plain_spaces(indent, start_mark)
            if not spaces or self.peek() == "#" or (not self.flow_level and self.column < indent):
                break
        return ScalarToken("".join(chunks), True, start_mark, end_mark)

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:  # noqa: N803 - PyYAML's name
        if self.flow_level >= MAX_FLOW_DEPTH:
            raise ScannerError(None, None, f"brackets nested deeper than {MAX_FLOW_DEPTH}", self.get_mark())
        super().fetch_flow_collection_start(TokenClass)

    def scan_flow_scalar_non_spaces(self, double: bool, start_mark: Any) -> list[str]:
        chunks: list[str] = []
        while True:
            length = 0
            while self.peek(length) not in "'\"\\\0 \t\r\n\x85\u2028\u2029":
                length += 1
            if length:
                chunks.append(self.prefix(length))
                self.forward(length)
            ch = self.peek()
            if not double and ch == "'" and self.peek(1) == "'":
                chunks.append("'")
                self.forward(2)
            elif (double and ch == "'") or (not double and ch in '"\\'):
                chunks.append(ch)
                self.forward()
            elif double and ch == "\\":
                following = self.peek(1)
                if following in '"\\':
                    chunks.append(following)
                    self.forward(2)
                elif following in "\r\n\x85\u2028\u2029\0":
                    raise ScannerError(
                        "while scanning a double-quoted scalar",
                        start_mark,
                        "a backslash may not end a line here",
                        self.get_mark(),
                    )
                else:
                    chunks.append("\\")
                    self.forward()
            else:
                return chunks


@dataclass(frozen=True)
class Entry:
    """One top-level key of the block: its value as data, its YAML node, and the key's line."""

    name: str
    value: Any
    node: Node
    key_line: int  # 0-based line inside the block


YamlProblem = YamlError  # its line is 0-based inside the block


def load_entries(source: str) -> list[Entry]:
    """Parse the block into top-level entries in source order; YamlProblem on anything else."""
    loader = FigureLoader(source)
    try:
        root = loader.get_single_node()
        if root is None:
            raise YamlProblem("empty figure block: give at least `kind:` or `plot:`", 0)
        if not isinstance(root, MappingNode):
            raise YamlProblem(
                "a figure block must be a YAML mapping of `key: value` lines", root.start_mark.line
            )
        entries: list[Entry] = []
        seen: dict[str, int] = {}
        for key_node, value_node in root.value:
            if (
                not isinstance(key_node, ScalarNode)
                or not isinstance(key_node.value, str)
                or not key_node.value
            ):
                raise YamlProblem("figure keys must be plain names", key_node.start_mark.line)
            name = key_node.value
            if name in seen:
                raise YamlProblem(
                    f"duplicate key «{name}» (first given on line {seen[name] + 1} of the block)",
                    key_node.start_mark.line,
                )
            seen[name] = key_node.start_mark.line
            value = loader.construct_object(value_node, deep=True)
            entries.append(Entry(name, value, value_node, key_node.start_mark.line))
        return entries
    except yaml.YAMLError as exc:
        problem = marked_problem(exc)
        raise YamlProblem(f"YAML: {problem.message}", problem.line) from None
    except RecursionError:  # block-style nesting thousands of levels deep
        raise YamlProblem("YAML: nested too deeply", 0) from None
    finally:
        loader.dispose()
