"""Markdown files → cards. The only module that knows about markdown-it tokens.

Problems found while reading (raw HTML, stray `$`, a card without id, bad front matter, an
unclosed fence) become diagnostics at the line of the offending element; the reader keeps going so
one run reports every problem of every file. Files come from strangers: each is at most
`MAX_FILE_BYTES`, reading is linear in its length, and nesting is bounded (`MAX_NESTING`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.container import container_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.front_matter import front_matter_plugin

from dldeck import safeyaml
from dldeck.contain import Refused, image_message, inside, read_content, read_image
from dldeck.errors import Diagnostic, quote
from dldeck.model import (
    Block,
    Card,
    CheckBlock,
    Cloze,
    Code,
    CodeBlock,
    Computed,
    DisplayMath,
    Emph,
    FigureBlock,
    Image,
    Inline,
    LineBreak,
    Link,
    ListBlock,
    Math,
    Paragraph,
    Quote,
    SourceSpan,
    Strong,
    Table,
    Text,
)
from dldeck.source.plugins import CLOZE_START, cloze_plugin, heading_attrs_plugin
from dldeck.timelimit import TimeLimitExceeded, time_limit
from dldeck.verify.numbers import FORMAT, FORMATS_HELP, split_computed

FRONT_MATTER_KEYS = {"deck", "tags", "sources", "notation"}
PARTS = ("extra", "sources")
MAX_FILE_BYTES = 1_000_000
READ_SECONDS = 20.0  # a real file reads in milliseconds; 1 MB of hostile markup in seconds
MAX_NESTING = 20  # markdown-it's own limit for blocks (commonmark preset); also ours for inline markup
RAW_HTML = "raw HTML is not allowed (content is text, not markup): "
CLAIM_MARKS = ("exempt", "wrong")
_MARKER = re.compile(r"\s*([A-Za-z][\w-]*)\s*:(.*)\Z", re.S)
_CHECK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


def make_parser() -> MarkdownIt:
    """The one markdown-it configuration of the dldeck dialect."""
    md = MarkdownIt("commonmark", {"html": True, "maxNesting": MAX_NESTING}).enable("table")
    # Escapes stay `text_special` tokens, so `\$` (a literal dollar) is told from a stray `$`.
    md.core.ruler.disable("text_join")
    _report_dropped_nesting(md)
    md.use(front_matter_plugin)
    md.use(dollarmath_plugin, allow_space=True, allow_digits=True, double_inline=True)
    for name in PARTS:
        md.use(container_plugin, name=name)
    md.use(heading_attrs_plugin)
    md.use(cloze_plugin)
    return md


def _report_dropped_nesting(md: MarkdownIt) -> None:
    """markdown-it silently drops blocks nested deeper than maxNesting: note the first such line."""
    tokenize = md.block.tokenize

    def guarded(state: Any, start: int, end: int) -> None:
        if state.level >= md.options.maxNesting and "too_deep" not in state.env:
            line = state.skipEmptyLines(start)
            if line < end and state.sCount[line] >= state.blkIndent:
                state.env["too_deep"] = line
        tokenize(state, start, end)

    md.block.tokenize = guarded  # type: ignore[method-assign]


@dataclass
class FileDefaults:
    deck: str
    tags: tuple[str, ...]
    sources: tuple[Block, ...]
    notation: dict[str, str] = field(default_factory=dict)


@dataclass
class _CardDraft:
    heading: Token
    question: tuple[Inline, ...]
    line: int
    section: str
    answer: list[Block] = field(default_factory=list)
    extra: list[Block] = field(default_factory=list)
    sources: list[Block] = field(default_factory=list)
    notation: dict[str, str] = field(default_factory=dict)


def is_cjk(char: str) -> bool:
    """CJK characters and punctuation: a line break between two of them is not a space."""
    if not char:
        return False
    name = unicodedata.name(char, "")
    return name.startswith(("CJK", "FULLWIDTH", "IDEOGRAPHIC", "HIRAGANA", "KATAKANA")) or (
        "\u3000" <= char <= "\u303f"
    )


def split_marker(tex: str) -> tuple[str, str, str, str]:
    """Strip a trailing `% exempt: reason` / `% wrong: reason` TeX comment from a formula.

    Returns (tex, claim, reason, problem); `problem` is non-empty for a marker without a reason,
    an unknown `% word:` or a marker that is not the end of the formula. `\\%` is a percent sign."""
    lines = tex.split("\n")
    for number, line in enumerate(lines):
        escaped = False
        for column, char in enumerate(line):
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == "%":
                match = _MARKER.match(line[column + 1:])
                if match is None:
                    break  # an ordinary TeX comment
                word, reason = match.group(1), " ".join(match.group(2).split())
                if word not in CLAIM_MARKS:
                    return tex, "auto", "", (f"unknown marker {quote('% ' + word + ':')} in a formula "
                                             "(known: `% exempt: <reason>`, `% wrong: <reason>`)")
                if not reason:
                    return tex, "auto", "", f"`% {word}:` needs a reason, e.g. `% {word}: quoted result`"
                if any(rest.strip() for rest in lines[number + 1:]):
                    return tex, "auto", "", f"`% {word}:` must end the formula"
                kept = "\n".join([*lines[:number], line[:column]]).strip()
                return kept, word, reason, ""
    return tex, "auto", "", ""


def deck_from_path(relative: Path) -> str:
    """Folders become the deck hierarchy when a file names no deck; `01-` order prefixes drop."""
    parts = [re.sub(r"^\d+[-_ ]", "", part) for part in relative.parent.parts]
    return "::".join(parts) if parts else re.sub(r"^\d+[-_ ]", "", relative.stem)


class FileReader:
    """Reads one Markdown file into card drafts, collecting diagnostics."""

    def __init__(self, md: MarkdownIt, path: Path, display_path: str, diagnostics: list[Diagnostic],
                 root: Path | None = None):
        self.md = md
        self.path = path
        self.root = root if root is not None else path.parent  # the content folder: files stay inside it
        self.display_path = display_path
        self.diagnostics = diagnostics
        self.figure_counter = 0
        self.lines: list[str] = []
        self.computed_counter = 0
        self.notation: dict[str, str] | None = None  # the current card's ```notation entries

    # ----------------------------------------------------------------- helpers
    def error(self, line: int, message: str) -> None:
        self.diagnostics.append(Diagnostic(self.display_path, line, message))

    def span(self, token: Token | None, fallback: int = 1) -> SourceSpan:
        line = token.map[0] + 1 if token is not None and token.map else fallback
        return SourceSpan(self.display_path, line)

    # ----------------------------------------------------------------- file
    def read(self, relative: Path, text: str) -> tuple[FileDefaults, list[_CardDraft]]:
        """The file's text (read through dldeck.contain by read_files) into card drafts."""
        text = text.removeprefix("\ufeff")  # a byte-order mark is not content
        self.lines = re.split(r"\r\n?|\n", text)  # as markdown-it splits them, so its maps index here
        env: dict[str, Any] = {}
        tokens = self.md.parse(text, env)
        if "too_deep" in env:
            self.error(env["too_deep"] + 1, f"lists and quotes nested deeper than {MAX_NESTING} levels: "
                                            "the rest of this block would be lost; flatten it")
        defaults = FileDefaults(deck_from_path(relative), (), ())
        if tokens and tokens[0].type == "front_matter":
            defaults = self.front_matter(tokens[0], defaults)
            tokens = tokens[1:]
        elif self.lines and self.lines[0].rstrip() == "---":
            self.error(1, "front matter opened here is never closed: end it with a line '---'")
            return defaults, []
        self.unclosed(tokens)
        return defaults, self.cards(tokens)

    def unclosed(self, tokens: list[Token]) -> None:
        """markdown-it closes a fence or `:::` block at the end of the file; for us that is an error."""
        for token in tokens:
            if token.map is None:
                continue
            if token.type == "fence":
                last = token.map[1] - 1
                closing = self.lines[last].lstrip(" \t>") if last > token.map[0] else ""
                marker = token.markup
                if not (closing.startswith(marker) and not closing.rstrip().strip(marker[0])):
                    self.error(token.map[0] + 1, f"fence {quote(marker + token.info)} opened here is never "
                                                 f"closed: end it with a line {marker}")
            elif token.type.startswith("container_") and token.type.endswith("_open"):
                end = token.map[1]
                if end >= len(self.lines) or not self.lines[end].lstrip(" \t>").startswith(":::"):
                    self.error(token.map[0] + 1, f"{quote(token.markup + ' ' + token.info)} opened here is "
                                                 "never closed: end it with a line :::")

    def front_matter(self, token: Token, defaults: FileDefaults) -> FileDefaults:
        try:
            data = safeyaml.load(token.content) or {}
        except safeyaml.YamlError as problem:
            self.error(2 + problem.line, f"front matter is not valid YAML: {problem.message}")
            return defaults
        if not isinstance(data, dict):
            self.error(1, f"front matter must be a mapping of keys ({', '.join(sorted(FRONT_MATTER_KEYS))})")
            return defaults
        for key in data:
            if key not in FRONT_MATTER_KEYS:
                known = ", ".join(sorted(FRONT_MATTER_KEYS))
                self.error(self.front_matter_line(token, str(key)),
                           f"unknown front matter key {key!r} (known: {known})")
        deck = data.get("deck", defaults.deck)
        if not isinstance(deck, str) or not deck.strip():
            self.error(self.front_matter_line(token, "deck"), "front matter 'deck' must be a text")
            deck = defaults.deck
        notation = self.notation_table(data.get("notation", {}), self.front_matter_line(token, "notation"),
                                       "front matter 'notation'")
        tags = self.string_list(token, data, "tags")
        sources_md = self.string_list(token, data, "sources")
        sources: list[Block] = []
        if sources_md:
            items = tuple(
                (Paragraph(self.inline_text(s, self.front_matter_line(token, "sources")),
                           SourceSpan(self.display_path, self.front_matter_line(token, "sources"))),)
                for s in sources_md
            )
            sources.append(ListBlock(False, items, SourceSpan(self.display_path,
                                                              self.front_matter_line(token, "sources"))))
        return FileDefaults(deck.strip(), tags, tuple(sources), notation)

    def notation_table(self, data: Any, line: int, what: str) -> dict[str, str]:
        """TeX snippet → check-language name; the formula reader reads the snippet as that name."""
        if not isinstance(data, dict):
            self.error(line, f"{what} must be a mapping of TeX snippets to check names, "
                             "e.g. `'\\hat{y}': yhat`")
            return {}
        table: dict[str, str] = {}
        for key, value in data.items():
            if not isinstance(key, str) or not key.strip():
                self.error(line, f"{what}: {key!r} is not a TeX snippet")
            elif not isinstance(value, str) or not _CHECK_NAME.match(value) or value.startswith("_"):
                self.error(line, f"{what}: {quote(key)} must map to a check-language name "
                                 f"(letters, digits, _), got {value!r}")
            else:
                table[key.strip()] = value
        return table

    def notation_block(self, token: Token, span: SourceSpan) -> None:
        if self.notation is None:
            self.error(span.line, "a ```notation block must be inside a card")
            return
        try:
            data = safeyaml.load(token.content) or {}
        except safeyaml.YamlError as problem:
            self.error(span.line + 1 + problem.line, f"notation block is not valid YAML: {problem.message}")
            return
        self.notation.update(self.notation_table(data, span.line, "notation block"))

    def front_matter_line(self, token: Token, key: str) -> int:
        for offset, line in enumerate(token.content.splitlines()):
            if line.startswith(f"{key}:"):
                return 2 + offset
        return 1

    def string_list(self, token: Token, data: dict[str, Any], key: str) -> tuple[str, ...]:
        value = data.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.error(self.front_matter_line(token, key), f"front matter {key!r} must be a list of texts")
            return ()
        return tuple(value)

    def inline_text(self, markdown: str, line: int) -> tuple[Inline, ...]:
        tokens = self.md.parseInline(markdown)
        return self.inlines(tokens[0].children or [], line) if tokens else ()

    # ----------------------------------------------------------------- cards
    def cards(self, tokens: list[Token]) -> list[_CardDraft]:
        drafts: list[_CardDraft] = []
        section = ""
        current: _CardDraft | None = None
        target: list[Block] | None = None
        i = 0
        while i < len(tokens):
            token = tokens[i]
            if token.type == "heading_open":
                inline = tokens[i + 1]
                line = self.span(token).line
                if "attrs_error" in token.meta:
                    self.error(line, f"heading attributes do not parse: {token.meta['attrs_error']}")
                if token.tag == "h1":
                    self.refuse_html(inline.children or [], line)
                    section = self.plain_text(inline.children or [])
                    current, target = None, None
                    self.notation = None
                elif token.tag == "h2":
                    self.figure_counter = 0  # figure indices count within a card: (slug, index) is the key
                    self.computed_counter = 0  # so do computed numbers
                    self.notation = {}
                    question = self.inlines(inline.children or [], line)
                    current = _CardDraft(token, question, line, section, notation=self.notation)
                    drafts.append(current)
                    target = current.answer
                else:
                    self.error(line, f"{token.tag} heading {quote(inline.content)} inside a card: cards are "
                                     "level-2 headings; use **bold** text for sub-headings")
                i += 3
                continue
            if token.type.startswith("container_") and token.type.endswith("_open"):
                name = token.type[len("container_"):-len("_open")]
                close = self.matching_close(tokens, i)
                if current is None:
                    self.error(self.span(token).line, f"'::: {name}' outside a card")
                else:
                    part = current.extra if name == "extra" else current.sources
                    part.extend(self.blocks(tokens[i + 1 : close]))
                i = close + 1
                continue
            end = self.block_end(tokens, i)
            blocks = self.blocks(tokens[i:end])
            if target is None:
                if any(not isinstance(b, Paragraph) or self.has_text(b) for b in blocks):
                    self.error(self.span(token).line,
                               "text outside a card: put it under a level-2 question heading")
            else:
                target.extend(blocks)
            i = end
        return drafts

    @staticmethod
    def has_text(block: Paragraph) -> bool:
        return any(not isinstance(c, Text) or c.text.strip() for c in block.children)

    @staticmethod
    def matching_close(tokens: list[Token], start: int) -> int:
        depth = 0
        for j in range(start, len(tokens)):
            depth += tokens[j].nesting
            if depth == 0:
                return j
        return len(tokens) - 1

    def block_end(self, tokens: list[Token], start: int) -> int:
        return self.matching_close(tokens, start) + 1 if tokens[start].nesting == 1 else start + 1

    # ----------------------------------------------------------------- blocks
    def blocks(self, tokens: list[Token], nested: bool = False) -> list[Block]:
        """Blocks of a card part; `nested` below a list item or quote, where claims are not read."""
        out: list[Block] = []
        i = 0
        while i < len(tokens):
            token = tokens[i]
            end = self.block_end(tokens, i)
            block = self.block(token, tokens[i + 1 : end - 1] if token.nesting == 1 else [], nested)
            if block is not None:
                out.append(block)
            i = end
        return out

    def block(self, token: Token, inner: list[Token], nested: bool = False) -> Block | None:
        span = self.span(token)
        kind = token.type
        if kind == "paragraph_open":
            inline = inner[0] if inner else None
            return Paragraph(self.inlines(inline.children or [], span.line) if inline else (), span)
        if kind in ("math_block", "math_block_label"):
            tex, claim, reason = self.marked(token.content.strip(), span.line)
            return DisplayMath(tex, span, claim, reason)  # type: ignore[arg-type]
        if kind == "fence":
            language = token.info.strip().split(" ")[0]
            if nested and language in ("check", "figure"):
                self.error(span.line, f"```{language} block inside a list or quote would be ignored: "
                                      "move it to the card's top level (not indented, no '>')")
                return None
            if language == "check":
                return CheckBlock(token.content, span)
            if language == "figure":
                self.figure_counter += 1
                return FigureBlock(token.content, span, self.figure_counter - 1)
            if language == "notation":
                self.notation_block(token, span)
                return None
            return CodeBlock(language, token.content, span)
        if kind == "code_block":
            return CodeBlock("", token.content, span)
        if kind in ("bullet_list_open", "ordered_list_open"):
            items = []
            i = 0
            while i < len(inner):
                end = self.matching_close(inner, i)
                items.append(tuple(self.blocks(inner[i + 1 : end], nested=True)))
                i = end + 1
            start = int(token.attrs.get("start", 1) or 1)
            return ListBlock(kind == "ordered_list_open", tuple(items), span, start)
        if kind == "blockquote_open":
            return Quote(tuple(self.blocks(inner, nested=True)), span)
        if kind == "table_open":
            return self.table(inner, span)
        if kind == "html_block":
            self.error(span.line, f"raw HTML is not allowed (content is text, not markup): "
                                  f"{quote(token.content)}")
            return None
        if kind == "hr":
            return None
        if kind.startswith("container_"):
            self.error(span.line, "'::: extra' and '::: sources' cannot be nested")
            return None
        self.error(span.line, f"unsupported Markdown element {kind!r}")
        return None

    def table(self, inner: list[Token], span: SourceSpan) -> Table:
        header: list[tuple[Inline, ...]] = []
        rows: list[tuple[tuple[Inline, ...], ...]] = []
        row: list[tuple[Inline, ...]] = []
        in_head = False
        for token in inner:
            if token.type == "thead_open":
                in_head = True
            elif token.type == "thead_close":
                in_head = False
            elif token.type == "tr_open":
                row = []
            elif token.type == "inline":
                row.append(self.inlines(token.children or [], self.span(token, span.line).line))
            elif token.type == "tr_close":
                if in_head:
                    header = row
                else:
                    rows.append(tuple(row))
        return Table(tuple(header), tuple(rows), span)

    # ----------------------------------------------------------------- inlines
    def inlines(self, children: list[Token], line: int) -> tuple[Inline, ...]:
        """Inline tokens → nodes in one linear pass. `line` is the first token's; each line break or
        newline inside a token moves it on, so a problem is reported on its own line."""
        following = self.following_chars(children)
        stack: list[tuple[str, list[Inline], Token]] = [("root", [], Token("root", "", 0))]
        excess = 0  # opening tokens beyond MAX_NESTING, flattened into their parent
        for index, token in enumerate(children):
            out = stack[-1][1]
            kind = token.type
            if kind == "text":
                if "$" in token.content:
                    self.error(line, f"unbalanced math delimiter '$' in {quote(token.content)} "
                                     "(write \\$ for a literal dollar sign)")
                out.append(Text(token.content, ((0, line),)))
            elif kind == "text_special":  # a backslash escape such as `\$`, or an entity: literal text
                out.append(Text(token.content, ((0, line),)))
            elif kind in ("math_inline", "math_inline_double"):
                if "\n" in token.content:
                    self.error(line, f"newline inside inline math {quote(token.content)}: "
                                     "keep $…$ on one line or use $$…$$")
                tex, claim, reason = self.marked(token.content.strip(), line)
                out.append(Math(tex, SourceSpan(self.display_path, line), claim, reason))  # type: ignore[arg-type]
            elif kind == "code_inline":
                out.append(self.code(token.content, line))
            elif kind == "softbreak":
                before = self.last_char(out)
                out.append(Text("" if is_cjk(before) and is_cjk(following[index]) else " ", ((0, line),)))
            elif kind == "hardbreak":
                out.append(LineBreak())
            elif kind == "image":
                self.refuse_html(token.children or [], line)
                out.append(self.image(token, line))
            elif kind == "html_inline":
                self.error(line, RAW_HTML + quote(token.content))
            elif kind.endswith("_open"):
                if len(stack) > MAX_NESTING:
                    if not excess:
                        self.error(line, f"emphasis, links or clozes nested deeper than {MAX_NESTING} levels")
                    excess += 1
                else:
                    stack.append((kind, [], token))
            elif kind.endswith("_close"):
                if excess:
                    excess -= 1
                else:
                    opened, inner, open_token = stack.pop()
                    node = self.container_inline(opened, tuple(self.merge(inner)), open_token)
                    stack[-1][1].append(node)
            else:
                self.error(line, f"unsupported inline element {kind!r}")
            line += token.content.count("\n") + (kind in ("softbreak", "hardbreak"))
        return tuple(self.merge(stack[0][1]))

    def refuse_html(self, children: list[Token], line: int) -> None:
        """Raw HTML in text that is read as plain text (section headings, image alt text)."""
        for token in children:
            if token.type == "html_inline":
                self.error(line, RAW_HTML + quote(token.content))
            line += token.content.count("\n") + (token.type in ("softbreak", "hardbreak"))

    def marked(self, tex: str, line: int) -> tuple[str, str, str]:
        kept, claim, reason, problem = split_marker(tex)
        if problem:
            self.error(line, f"{problem}: {quote(tex)}")
        return kept, claim, reason

    def code(self, text: str, line: int) -> Inline:
        """Inline code `= expr | format` is a computed number; any other inline code is code."""
        computed = split_computed(text)
        if computed is None:
            return Code(text)
        expression, spec = computed
        if not expression:
            self.error(line, f"computed number {quote(text)} has no expression after `=`")
        if not FORMAT.match(spec):
            self.error(line, f"unknown number format {quote(spec)} in {quote(text)} (use {FORMATS_HELP})")
        self.computed_counter += 1
        return Computed(expression, spec, SourceSpan(self.display_path, line), self.computed_counter - 1)

    def image(self, token: Token, line: int) -> Inline:
        """Images resolve against their Markdown file and must pass dldeck.contain (inside the content
        folder, a regular file, the image its name says): a bad one is an error now, not in Anki."""
        src = str(token.attrs.get("src", "") or "")
        alt = self.plain_text(token.children or [])
        if re.match(r"^[a-z]+:", src):
            self.error(line, f"image {quote(src)} must be a local file next to the Markdown file")
            return Text(alt)
        candidate = self.path.parent / src
        if not candidate.is_symlink() and not candidate.exists():
            self.error(line, f"image file not found: {quote(src)}")
            return Text(alt)
        try:
            resolved = inside(candidate, self.root)
            read_image(resolved, self.root)
        except Refused as refused:
            self.error(line, image_message(src, refused))
            return Text(alt)
        return Image(str(resolved), alt, SourceSpan(self.display_path, line))

    @staticmethod
    def container_inline(kind: str, children: tuple[Inline, ...], token: Token) -> Inline:
        if kind == "strong_open":
            return Strong(children)
        if kind == "em_open":
            return Emph(children)
        if kind == "link_open":
            return Link(str(token.attrs.get("href", "")), children)
        if kind == "cloze_open":
            return Cloze(int(token.meta["number"]), children, str(token.meta["hint"]))
        return Emph(children)

    @staticmethod
    def merge(nodes: list[Inline]) -> list[Inline]:
        """Adjacent texts joined in one pass (joining pairwise would be quadratic), empty ones dropped."""
        merged: list[Inline] = []
        run: list[Text] = []
        for node in [*nodes, None]:
            if isinstance(node, Text):
                run.append(node)
                continue
            if run:
                lines, shift = [], 0
                for piece in run:
                    lines.extend((offset + shift, number) for offset, number in piece.lines)
                    shift += len(piece.text)
                text = "".join(piece.text for piece in run)
                run.clear()
                if text:
                    merged.append(Text(text, tuple(lines)))
            if node is not None:
                merged.append(node)
        return merged

    @staticmethod
    def last_char(nodes: list[Inline]) -> str:
        for node in reversed(nodes):
            if isinstance(node, Text) and node.text:
                return node.text[-1]
            if not isinstance(node, Text):
                return ""
        return ""

    @staticmethod
    def following_chars(tokens: list[Token]) -> list[str]:
        """For each token, the first character of the text right after it ("" when markup follows)."""
        following = [""] * len(tokens)
        after = ""
        for index in range(len(tokens) - 1, -1, -1):
            following[index] = after
            token = tokens[index]
            if token.type not in ("text", "text_special"):
                after = ""
            elif token.content:
                after = token.content[0]
        return following

    @staticmethod
    def plain_text(children: list[Token]) -> str:
        kept = ("text", "text_special", "code_inline", "math_inline")
        return "".join(t.content for t in children if t.type in kept).strip()


def _finish(draft: _CardDraft, defaults: FileDefaults, display_path: str, order: int,
            diagnostics: list[Diagnostic]) -> Card | None:
    attrs = draft.heading.attrs
    slug = str(attrs.get("id", ""))
    if not slug:
        message = "card heading has no {#slug} id: add one, e.g. '## Question {#my-card}'"
        diagnostics.append(Diagnostic(display_path, draft.line, message))
        return None
    covers = tuple(str(attrs.get("covers", "")).replace(",", " ").split()) or (slug,)
    tags = defaults.tags + tuple(str(attrs.get("tags", "")).replace(",", " ").split())
    known = {"id", "covers", "tags"}
    for key in attrs:
        if key not in known:
            diagnostics.append(Diagnostic(display_path, draft.line,
                                          f"unknown heading attribute {key!r} (known: #id, covers, tags)"))
    is_cloze = _has_cloze(draft.answer) or _has_cloze(draft.extra)
    return Card(
        slug=slug,
        question=draft.question,
        answer=tuple(draft.answer),
        extra=tuple(draft.extra),
        sources=tuple(draft.sources) or defaults.sources,
        deck=defaults.deck,
        section=draft.section,
        tags=tuple(dict.fromkeys(tags)),
        covers=covers,
        kind="cloze" if is_cloze else "basic",
        span=SourceSpan(display_path, draft.line),
        order=order,
        notation=tuple(sorted({**defaults.notation, **draft.notation}.items())),
    )


def walk_inlines(node: object):
    """Every inline node below a block or inline, depth first (lint and cloze detection use it)."""
    if isinstance(node, Paragraph):
        for child in node.children:
            yield from walk_inlines(child)
    elif isinstance(node, ListBlock):
        for item in node.items:
            for block in item:
                yield from walk_inlines(block)
    elif isinstance(node, Quote):
        for block in node.children:
            yield from walk_inlines(block)
    elif isinstance(node, Table):
        for cell in node.header + tuple(c for row in node.rows for c in row):
            for child in cell:
                yield from walk_inlines(child)
    elif isinstance(node, (Strong, Emph, Link, Cloze)):
        yield node
        for child in node.children:
            yield from walk_inlines(child)
    elif isinstance(node, (Text, Code, Math, Computed, Image, LineBreak)):
        yield node


def shown_nodes(card: Card) -> Iterator[CheckBlock | Math | DisplayMath | Computed]:
    """Check blocks, formulas and computed numbers as a reader meets them: question, answer, extra
    (sources are citations, not claims). The claims pass reads a card in this order."""
    for node in card.question:
        yield from _shown_inlines(node)
    for block in card.answer + card.extra:
        yield from _shown_in_block(block)


def leaf_blocks(block: Block) -> Iterator[Block]:
    """The blocks inside lists and quotes, in reading order (a list or quote itself is not yielded)."""
    if isinstance(block, ListBlock):
        for item in block.items:
            for child in item:
                yield from leaf_blocks(child)
    elif isinstance(block, Quote):
        for child in block.children:
            yield from leaf_blocks(child)
    else:
        yield block


def _shown_in_block(block: Block) -> Iterator[CheckBlock | Math | DisplayMath | Computed]:
    for leaf in leaf_blocks(block):
        if isinstance(leaf, CheckBlock | DisplayMath):
            yield leaf
        else:
            yield from _shown_inlines(leaf)


def _shown_inlines(node: object) -> Iterator[Math | Computed]:
    for inline in walk_inlines(node):
        if isinstance(inline, Math | Computed):
            yield inline


def _has_cloze(blocks: list[Block]) -> bool:
    for block in blocks:
        if isinstance(block, DisplayMath) and CLOZE_START.search(block.tex):
            return True
        for node in walk_inlines(block):
            if isinstance(node, Cloze) or (isinstance(node, Math) and CLOZE_START.search(node.tex)):
                return True
    return False


def content_files(root: Path) -> list[tuple[Path, Path, str]]:
    """Every `*.md` under root in sorted path order (files starting with `_` or `.` are skipped), as
    (path, path relative to root, the path diagnostics show)."""
    paths = sorted(p for p in root.rglob("*.md")
                   if not any(part.startswith(("_", ".")) for part in p.relative_to(root).parts))
    found = []
    for path in paths:
        relative = path.relative_to(root)
        found.append((path, relative, str(Path(root.name) / relative) if root.name else str(relative)))
    return found


def file_bytes(root: Path, path: Path, display: str, diagnostics: list[Diagnostic]) -> bytes | None:
    """A content file's bytes, or None with a diagnostic: a symlinked .md that leads out of the
    content folder, a folder, FIFO or dangling link named *.md, or a huge file is refused unread."""
    try:
        return read_content(path, root, MAX_FILE_BYTES)
    except Refused as refused:
        problem = f"cannot read this file: {refused}"
    except OSError as exc:
        problem = f"cannot read the file: {exc.strerror or exc}"
    diagnostics.append(Diagnostic(display, 1, problem))
    return None


def read_file(md: MarkdownIt, root: Path, path: Path, relative: Path, display: str, data: bytes,
              first_order: int, diagnostics: list[Diagnostic]) -> list[Card]:
    """One file's cards, numbered from `first_order`; its problems are added to `diagnostics`."""
    reader = FileReader(md, path, display, diagnostics, root)
    problem = ""
    try:
        text = data.decode("utf-8")
        with time_limit(READ_SECONDS):
            defaults, drafts = reader.read(relative, text)
    except TimeLimitExceeded:
        problem = f"reading took longer than {READ_SECONDS:g} s: split the file or simplify its markup"
    except UnicodeDecodeError as exc:
        problem = f"file is not UTF-8 text: {exc.reason}"
    except OSError as exc:
        problem = f"cannot read the file: {exc.strerror or exc}"
    if problem:
        diagnostics.append(Diagnostic(display, 1, problem))
        return []
    cards: list[Card] = []
    for draft in drafts:
        card = _finish(draft, defaults, display, first_order + len(cards), diagnostics)
        if card is not None:
            cards.append(card)
    return cards


def read_files(root: Path, diagnostics: list[Diagnostic]) -> tuple[list[Card], list[str]]:
    """Read every content file (see `content_files`) into cards, in order."""
    md = make_parser()
    cards: list[Card] = []
    files: list[str] = []
    for path, relative, display in content_files(root):
        files.append(display)
        data = file_bytes(root, path, display, diagnostics)
        if data is not None:
            cards.extend(read_file(md, root, path, relative, display, data, len(cards), diagnostics))
    return cards, files
