"""markdown-it plugins for the dldeck dialect: plain functions `plugin(md)`, as markdown-it-py does it.

- `heading_attrs_plugin`: `## Question {#slug covers="a b"}` → attributes on heading_open.
- `cloze_plugin`: Anki's `{{c1::text::hint}}` as cloze_open / cloze_close around parsed inline text.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from mdit_py_plugins.attrs.parse import ParseError
from mdit_py_plugins.attrs.parse import parse as parse_attrs

CLOZE_START = re.compile(r"\{\{c(\d+)::")


def heading_attrs_plugin(md: MarkdownIt) -> None:
    """Move a trailing `{…}` attribute list of a heading onto its heading_open token."""
    md.core.ruler.after("inline", "heading_attrs", _heading_attrs_rule)


def _heading_attrs_rule(state: StateCore) -> None:
    tokens = state.tokens
    for index, token in enumerate(tokens):
        if token.type != "heading_open" or index + 1 >= len(tokens):
            continue
        inline = tokens[index + 1]
        children = inline.children or []
        if not children or children[-1].type != "text":
            continue
        last = children[-1]
        text = last.content.rstrip()
        if not text.endswith("}"):
            continue
        brace = text.rfind("{")
        if brace < 0:
            continue
        try:
            consumed, attrs = parse_attrs(text[brace:])
        except ParseError as exc:
            token.meta["attrs_error"] = f"{exc}: {text[brace:]}"
            continue
        if brace + consumed + 1 != len(text):  # parse() returns the index of the closing brace
            continue
        for key, value in attrs.items():
            token.attrs[key] = value
        last.content = text[:brace].rstrip()
        inline.content = inline.content.rstrip()
        inline.content = inline.content[: inline.content.rfind("{")].rstrip()


def cloze_plugin(md: MarkdownIt) -> None:
    """Parse `{{cN::…}}` as inline markup, ending at the first `}}` exactly as Anki does."""
    md.inline.ruler.before("emphasis", "cloze", _cloze_rule)


def _cloze_rule(state: StateInline, silent: bool) -> bool:
    if not state.src.startswith("{{c", state.pos):
        return False
    match = CLOZE_START.match(state.src, state.pos)
    if match is None:
        return False
    # Once no `}}` follows some position, none follows any later one: remembering that keeps a
    # paragraph of many unclosed `{{c1::` linear instead of searching to its end from each of them.
    unclosed_from = state.env.get("cloze_unclosed", {}).get((state.src, state.posMax))
    if unclosed_from is not None and match.end() >= unclosed_from:
        return False
    end = state.src.find("}}", match.end(), state.posMax)
    if end < 0:
        state.env.setdefault("cloze_unclosed", {})[(state.src, state.posMax)] = match.end()
        return False
    if silent:
        return True
    body = state.src[match.end() : end]
    hint = ""
    content_end = end
    hint_at = body.rfind("::")
    if hint_at >= 0:
        hint = body[hint_at + 2 :]
        content_end = match.end() + hint_at
    opener = state.push("cloze_open", "span", 1)
    opener.meta = {"number": int(match.group(1)), "hint": hint}
    old_max = state.posMax
    state.pos = match.end()
    state.posMax = content_end
    state.md.inline.tokenize(state)
    state.posMax = old_max
    state.push("cloze_close", "span", -1)
    state.pos = end + 2
    return True
