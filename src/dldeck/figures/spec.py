"""From a ```figure block to a validated spec: the kind, its typed parameters and their lines."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from yaml.nodes import Node

from dldeck.errors import BuildError, Diagnostic, quote
from dldeck.figures.kinds import DEFAULT_KIND, KINDS
from dldeck.figures.params import Context, SpecError, Str, TexText, suggest
from dldeck.figures.yamlspec import Entry, YamlProblem, load_entries
from dldeck.model import Card, FigureBlock, FigureKey, SourceSpan

COMMON_KEYS = ("kind", "caption", "id")
_ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*\Z")
CAPTION = TexText(max_len=300)


@dataclass(frozen=True)
class FigureSpec:
    """A figure block after validation; `lines` maps (key, item index) to absolute source lines."""

    key: FigureKey
    kind: str
    params: Mapping[str, Any]
    caption: str
    figure_id: str
    block: FigureBlock
    lines: Mapping[tuple[str, int | None], int] = field(compare=False)

    @property
    def path(self) -> str:
        return self.block.span.path

    def line(self, key: str | None = None, index: int | None = None) -> int:
        if key is None:
            return self.block.span.line
        return self.lines.get((key, index), self.lines.get((key, None), self.block.span.line))

    def diagnostic(self, error: SpecError) -> Diagnostic:
        if error.node is not None:
            line = self.block.line_of(error.node.start_mark.line)
        else:
            line = self.line(error.key, error.index)
        return Diagnostic(self.path, line, _prefixed(error))


def _prefixed(error: SpecError) -> str:
    if error.key is None:
        return error.message
    where = error.key if error.index is None else f"{error.key}[{error.index}]"
    return f"figure `{where}`: {error.message}"


def _node_lines(entry: Entry, block: FigureBlock) -> dict[tuple[str, int | None], int]:
    lines = {(entry.name, None): block.line_of(entry.key_line)}
    items = entry.node.value if isinstance(entry.node.value, list) else []
    for index, item in enumerate(items):
        if isinstance(item, Node):
            lines[(entry.name, index)] = block.line_of(item.start_mark.line)
    return lines


Evaluator = Callable[[str, Node, FigureBlock], Any]


def parse_figure(card: Card, block: FigureBlock, evaluate: Evaluator | None) -> FigureSpec:
    """Validate one block against its kind's key table; BuildError lists every problem in it."""
    path = block.span.path
    try:
        entries = load_entries(block.source)
    except YamlProblem as problem:
        raise BuildError([Diagnostic(path, block.line_of(problem.line), problem.message)]) from None

    diagnostics: list[Diagnostic] = []
    lines: dict[tuple[str, int | None], int] = {}
    for entry in entries:
        lines.update(_node_lines(entry, block))
    by_name = {entry.name: entry for entry in entries}

    kind_name = DEFAULT_KIND
    if "kind" in by_name:
        entry = by_name["kind"]
        if not isinstance(entry.value, str) or entry.value not in KINDS:
            shown = entry.value if isinstance(entry.value, str) else str(entry.value)
            message = (
                f"unknown figure kind {quote(shown)}{suggest(shown, list(KINDS))}; "
                f"known kinds: {', '.join(sorted(KINDS))}"
            )
            raise BuildError([Diagnostic(path, block.line_of(entry.key_line), message)])
        kind_name = entry.value
    kind = KINDS[kind_name]

    def fail(error: SpecError, entry: Entry) -> None:
        error.key = entry.name
        line = block.line_of((error.node or entry.node).start_mark.line)
        diagnostics.append(Diagnostic(path, line, _prefixed(error)))

    def evaluate_here(text: str, node: Node) -> Any:
        if evaluate is None:  # pragma: no cover - render_figures always passes one
            raise SpecError("expressions are not available here", node=node)
        return evaluate(text, node, block)

    ctx = Context(evaluate=evaluate_here)
    caption = ""
    figure_id = ""
    params: dict[str, Any] = {}
    for entry in entries:
        if entry.name == "kind":
            continue
        try:
            if entry.name == "caption":
                caption = CAPTION.parse(entry.value, entry.node, ctx)
            elif entry.name == "id":
                figure_id = Str(max_len=80).parse(entry.value, entry.node, ctx)
                if not _ID.match(figure_id):
                    raise SpecError(f"{quote(figure_id)} is not a lowercase kebab-case id", node=entry.node)
            elif entry.name in kind.keys:
                params[entry.name] = kind.keys[entry.name].parse(entry.value, entry.node, ctx)
            else:
                known = sorted(kind.keys) + list(COMMON_KEYS)
                message = (
                    f"unknown key {quote(entry.name)} for figure kind {kind_name}"
                    f"{suggest(entry.name, known)}; keys: {', '.join(known)}"
                )
                diagnostics.append(Diagnostic(path, block.line_of(entry.key_line), message))
        except SpecError as error:
            fail(error, entry)
        except BuildError as error:  # an expression the check language refused
            diagnostics.extend(error.diagnostics)
    for name, key in kind.keys.items():
        if name in params or name in by_name:
            continue
        if key.required:
            diagnostics.append(
                Diagnostic(path, block.span.line, f"figure kind {kind_name} needs `{name}:` ({key.describe})")
            )
        else:
            params[name] = key.default
    if diagnostics:
        raise BuildError(diagnostics)
    return FigureSpec(
        key=FigureKey(card.slug, block.index),
        kind=kind_name,
        params=params,
        caption=caption,
        figure_id=figure_id,
        block=block,
        lines=lines,
    )


def span_of(block: FigureBlock, node: Node) -> SourceSpan:
    return SourceSpan(block.span.path, block.line_of(node.start_mark.line))
