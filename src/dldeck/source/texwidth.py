"""A cheap estimate of how wide a TeX formula is typeset, in em of the surrounding text.

The lint needs to know, without a browser, whether a formula fits a 360 px phone, where Anki's
MathJax 3 never breaks a line. This walks the TeX once and adds up glyph widths close to the
Computer Modern metrics MathJax uses (letters, operators with their spacing, fractions as their
wider part, scripts at 70 %, cases/aligned as their widest row). It errs on the wide side; it was
calibrated against Anki 26.9.3's own MathJax in Chromium at 17 px for every formula of the deck
(tests/test_layout_lint.py keeps a few of those measurements).
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\\[A-Za-z]+\*?|\\.|[^\s]|\s+")

_RELATIONS = frozenset(
    "= < > \\le \\ge \\leq \\geq \\approx \\ne \\neq \\to \\rightarrow \\leftarrow \\Rightarrow "
    "\\Leftarrow \\Leftrightarrow \\in \\notin \\sim \\mapsto \\equiv \\propto \\gets \\iff \\implies "
    "\\subset \\subseteq \\ll \\gg \\simeq \\cong \\mid \\coloneqq \\triangleq \\perp \\models".split()
)
_BINARY = frozenset("+ - * \\cdot \\times \\pm \\mp \\odot \\circ \\otimes \\oplus \\div \\ast \\cup \\cap "
                    "\\setminus \\land \\lor \\wedge \\vee".split())
_NAMED_FUNCTIONS = frozenset(
    "log ln exp sin cos tan tanh sinh cosh arctan lim max min sup inf arg det dim ker deg gcd Pr".split()
)
_LIMITS_BELOW = frozenset("max min lim sup inf arg".split())
_BIG_OPERATORS = {"\\sum": 1.45, "\\prod": 1.3, "\\int": 1.0, "\\oint": 1.0, "\\bigcup": 1.2,
                  "\\bigcap": 1.2, "\\coprod": 1.3}
_SPACES = {"\\quad": 1.0, "\\qquad": 2.0, "\\,": 0.167, "\\:": 0.222, "\\;": 0.278, "\\!": -0.167,
           "\\ ": 0.25, "~": 0.25, "\\enspace": 0.5, "\\thinspace": 0.167}
_SYMBOLS = {"\\infty": 1.0, "\\partial": 0.57, "\\nabla": 0.83, "\\ell": 0.42, "\\dots": 1.17,
            "\\ldots": 1.17, "\\cdots": 1.17, "\\vdots": 0.5, "\\ddots": 1.17, "\\|": 0.5, "\\{": 0.5,
            "\\}": 0.5, "\\lfloor": 0.45, "\\rfloor": 0.45, "\\lceil": 0.45, "\\rceil": 0.45,
            "\\langle": 0.39, "\\rangle": 0.39, "\\top": 0.78, "\\bot": 0.78, "\\prime": 0.3,
            "\\emptyset": 0.5, "\\forall": 0.56, "\\exists": 0.56, "\\neg": 0.67, "\\%": 0.83,
            "\\#": 0.83, "\\_": 0.5, "\\&": 0.78, "\\$": 0.5, "\\lvert": 0.28, "\\rvert": 0.28,
            "\\lVert": 0.5, "\\rVert": 0.5, "\\vert": 0.28, "\\Vert": 0.5, "\\backslash": 0.5,
            "\\checkmark": 0.83, "\\star": 0.5, "\\dagger": 0.44, "\\hbar": 0.56, "\\imath": 0.35}
_ONE_ARGUMENT_SAME_WIDTH = frozenset(
    "\\hat \\bar \\tilde \\vec \\dot \\ddot \\widehat \\widetilde \\overline \\underline \\mathbf "
    "\\boldsymbol \\bm \\mathit \\mathcal \\mathbb \\mathfrak \\mathscr \\mathsf \\displaystyle "
    "\\textstyle \\underbrace \\overbrace \\check \\breve \\acute \\grave \\mathring \\pmb".split()
)
_TEXT_COMMANDS = frozenset("\\text \\textrm \\textbf \\textit \\mbox \\mathrm \\operatorname \\texttt "
                           "\\textsf \\mathtt".split())
_DELIMITER_SIZES = {"\\left": 0.5, "\\right": 0.5, "\\middle": 0.5, "\\bigl": 0.45, "\\bigr": 0.45,
                    "\\Bigl": 0.6, "\\Bigr": 0.6, "\\biggl": 0.7, "\\biggr": 0.7, "\\Biggl": 0.8,
                    "\\Biggr": 0.8, "\\big": 0.45, "\\Big": 0.6, "\\bigg": 0.7, "\\Bigg": 0.8,
                    "\\bigm": 0.45, "\\Bigm": 0.6}
_FRACTIONS = {"\\frac": None, "\\dfrac": 1.0, "\\tfrac": 0.7, "\\cfrac": 1.0, "\\binom": None,
              "\\dbinom": 1.0, "\\tbinom": 0.7}
_NARROW = set("ijlt.,;:'!|")
_WIDE = set("mwMW")


def _char_width(char: str, text: bool) -> float:
    if ord(char) > 0x2E7F:  # CJK and full-width forms: one em
        return 1.0
    if char in _NARROW:
        return 0.3
    if char in _WIDE:
        return 0.85
    if char.isupper():
        return 0.72
    if char.isdigit():
        return 0.5
    if char == " ":
        return 0.25 if text else 0.0
    if char in "()[]":
        return 0.39
    if char.isalpha():
        return 0.5 if text else 0.53
    return 0.5


class _Reader:
    def __init__(self, tex: str) -> None:
        self.tokens = _TOKEN.findall(tex)
        self.position = 0

    def peek(self) -> str | None:
        while self.position < len(self.tokens) and self.tokens[self.position].isspace():
            self.position += 1
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> str | None:
        token = self.peek()
        if token is not None:
            self.position += 1
        return token

    def group_tokens(self) -> list[str]:
        """The tokens of the next argument: a braced group's inside, or one token."""
        token = self.take()
        if token is None:
            return []
        if token != "{":
            return [token]
        depth, out = 1, []
        while self.position < len(self.tokens):
            token = self.tokens[self.position]
            self.position += 1
            depth += 1 if token == "{" else -1 if token == "}" else 0
            if depth == 0:
                break
            out.append(token)
        return out

    def raw_group(self) -> str:
        return "".join(self.group_tokens())


class _Measure:
    def __init__(self, display: bool) -> None:
        self.display = display

    def sub(self, tokens: list[str], scale: float) -> float:
        reader = _Reader("")
        reader.tokens, reader.position = tokens, 0
        return self.row(reader, scale)

    def row(self, reader: _Reader, scale: float) -> float:
        width = 0.0
        while (token := reader.take()) is not None:
            width += self.atom(token, reader, scale)
        return width

    def script(self, reader: _Reader, scale: float) -> float:
        """A sub- and/or superscript after a base: the wider of the two."""
        widest = 0.0
        while reader.peek() in ("_", "^", "'"):
            mark = reader.take()
            if mark == "'":
                widest = max(widest, 0.3 * scale)
                continue
            widest = max(widest, self.sub(reader.group_tokens(), max(0.5, scale * 0.7)))
        return widest

    def atom(self, token: str, reader: _Reader, scale: float) -> float:
        spacing = scale >= 0.99
        if token == "{":
            reader.position -= 1
            return self.sub(reader.group_tokens(), scale) + self.script(reader, scale)
        if token in ("_", "^"):
            reader.position -= 1
            return self.script(reader, scale)
        if token == "'":
            return 0.3 * scale
        if token in _SPACES:
            return _SPACES[token] * scale
        if token in _RELATIONS:
            return (0.78 + (0.556 if spacing else 0.0)) * scale
        if token in _BINARY:
            return (0.78 + (0.444 if spacing else 0.0)) * scale
        if token in (",", ";"):
            return (0.28 + 0.167) * scale
        if token in _BIG_OPERATORS:
            base = _BIG_OPERATORS[token] * (1.0 if self.display and scale >= 0.99 else 0.75) * scale
            limits = self.script(reader, scale)
            below = self.display and scale >= 0.99 and token != "\\int"
            return (max(base, limits) if below else base + limits) + 0.167 * scale
        if token.startswith("\\") and token[1:] in _NAMED_FUNCTIONS:
            name = sum(_char_width(c, True) for c in token[1:]) * scale
            limits = self.script(reader, scale)
            below = token[1:] in _LIMITS_BELOW and self.display and scale >= 0.99
            return (max(name, limits) if below else name + limits) + 0.167 * scale
        if token in _FRACTIONS:
            fixed = _FRACTIONS[token]
            full = self.display and scale >= 0.99  # \frac in a display keeps text size, once
            inner = scale * fixed if fixed else (scale if full else max(0.5, scale * 0.7))
            top_width = self.sub(reader.group_tokens(), inner)
            bottom_width = self.sub(reader.group_tokens(), inner)
            return max(top_width, bottom_width) + 0.24 * scale + self.script(reader, scale)
        if token == "\\sqrt":
            index = 0.0
            if reader.peek() == "[":
                reader.take()
                while reader.take() not in (None, "]"):
                    index += 0.35 * scale
            return self.sub(reader.group_tokens(), scale) + 0.85 * scale + index + self.script(reader, scale)
        if token in _TEXT_COMMANDS:
            text = reader.raw_group()
            plain = re.sub(r"\\[A-Za-z]+|[{}\\]", "", text)
            width = sum(_char_width(c, True) for c in plain) * scale
            if token == "\\operatorname":
                width += 0.167 * scale
            return width + self.script(reader, scale)
        if token in _ONE_ARGUMENT_SAME_WIDTH:
            if token in ("\\displaystyle", "\\textstyle"):
                return 0.0
            return self.sub(reader.group_tokens(), scale) + self.script(reader, scale)
        if token in _DELIMITER_SIZES:
            delimiter = reader.take()
            return (0.0 if delimiter == "." else _DELIMITER_SIZES[token]) * scale + self.script(reader, scale)
        if token == "\\begin":
            return self.environment(reader.raw_group(), reader, scale)
        if token in ("\\end", "&", "\\\\", "}", "\\limits", "\\nolimits", "\\notag", "\\nonumber"):
            return 0.0
        if token.startswith("\\"):
            width = _SYMBOLS.get(token)
            if width is None:
                width = 0.75 if token[1:2].isupper() else 0.6
            return width * scale + self.script(reader, scale)
        return _char_width(token, False) * scale + self.script(reader, scale)

    def environment(self, name: str, reader: _Reader, scale: float) -> float:
        body: list[str] = []
        depth = 1
        while (token := reader.take()) is not None:
            if token == "\\begin":
                depth += 1
            elif token == "\\end":
                depth -= 1
                if depth == 0:
                    reader.raw_group()
                    break
            body.append(token)
        rows: list[list[list[str]]] = [[[]]]
        depth = 0
        for token in body:
            depth += 1 if token in ("{", "\\begin") else -1 if token in ("}", "\\end") else 0
            if depth == 0 and token == "\\\\":
                rows.append([[]])
            elif depth == 0 and token == "&":
                rows[-1].append([])
            else:
                rows[-1][-1].append(token)
        columns: list[float] = []
        for row in rows:
            for index, cell in enumerate(row):
                width = self.sub(cell, scale)
                if index >= len(columns):
                    columns.append(width)
                else:
                    columns[index] = max(columns[index], width)
        gaps = 1.0 if name in ("cases", "dcases", "array") else 0.0 if name.startswith("align") else 1.0
        width = sum(columns) + gaps * max(0, len(columns) - 1) * scale
        if name in ("cases", "dcases"):
            width += 0.9 * scale
        elif name.endswith("matrix") and name != "matrix":
            width += 0.9 * scale
        return width + self.script(reader, scale)


def width_em(tex: str, display: bool) -> float:
    """The estimated typeset width of `tex`, in em of the text around it."""
    reader = _Reader(tex)
    return _Measure(display).row(reader, 1.0)


def top_level(tex: str) -> str:
    """The formula without its braced groups and environment bodies: what sits on the main line."""
    out: list[str] = []
    depth = 0
    for token in _TOKEN.findall(tex):
        if token in ("{", "\\begin"):
            depth += 1
        elif token in ("}", "\\end"):
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(token)
    return "".join(out)
