"""The TeX reader's tokenizer: TeX math → the grammar's tokens (tex.lark).

Commands are classified here (names, functions, relations, structure), sizes like \\left and
\\bigl and spacing are dropped, subscripts, primes and labels are folded into names, bars are told
apart, environments become rows and cases, notation snippets become names, and macro commands
(\\def, \\catcode, …) are refused before anything is read.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from lark import Token

from dldeck.errors import quote
from dldeck.verify.syntax import MAX_NESTING, CheckError

MAX_FORMULA_TOKENS = 2_000

DECLARE_HINT = "add it to `notation:` in the front matter, or define it"

# --------------------------------------------------------------------------- the default notation

GREEK = {
    **{
        name: name
        for name in (
            "alpha beta gamma delta epsilon zeta eta theta iota kappa mu nu xi omicron rho sigma tau "
            "upsilon phi chi psi omega Gamma Delta Theta Xi Pi Sigma Upsilon Phi Psi Omega"
        ).split()
    },
    "varepsilon": "epsilon",
    "vartheta": "theta",
    "varrho": "rho",
    "varsigma": "sigma",
    "varphi": "phi",
    "lambda": "lam",  # `lambda` is a Python keyword, so not a check-language name
    "Lambda": "Lam",
    "pi": "pi",
    "infty": "oo",
}

FUNCTION_COMMANDS = {
    "sin": "sin", "cos": "cos", "tan": "tan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh",
    "exp": "exp", "ln": "log", "log": "log", "arctan": "atan", "sgn": "sign",
    "max": "Max", "min": "Min", "det": "det",
}  # fmt: skip

DECORATIONS = {"hat": "hat", "widehat": "hat", "bar": "bar", "overline": "bar", "tilde": "tilde"}

RELATIONS = {
    "=": "==", "<": "<", ">": ">", "ne": "!=", "neq": "!=", "lt": "<", "gt": ">", "le": "<=",
    "leq": "<=", "leqslant": "<=", "ge": ">=", "geq": ">=", "geqslant": ">=", "approx": "approx",
    "coloneqq": "==", "≤": "<=", "≥": ">=", "≠": "!=", "≈": "approx",
}  # fmt: skip

SPACING = {",", ";", "!", ":", ">", " ", "displaystyle", "textstyle", "nonumber", "limits"}
SIZES = {
    "left", "right", "middle", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr",
    "biggl", "biggr", "Biggl", "Biggr",
}  # fmt: skip
ROW_OPERATORS = ("+", "-", "\\cdot", "\\times")  # a row starting with one continues the row above
ROW_ENVIRONMENTS = {"aligned", "align", "align*", "split", "gathered", "gather", "gather*",
                    "equation", "equation*", "alignedat"}  # fmt: skip
CASE_ENVIRONMENTS = {"cases", "dcases"}
MATRIX_ENVIRONMENTS = {"pmatrix", "bmatrix", "matrix"}  # entries by `&`, rows by `\\`: Matrix([[…], …])
# `A^\top`, `A^{\mathsf T}`: a transpose. `^T` stays a power: `w^T` over T steps is as common as a
# transpose, and a reader cannot tell them apart.
TRANSPOSES = (["\\top"], ["{", "\\top", "}"], ["\\intercal"], ["{", "\\intercal", "}"],
              ["\\mathsf", "{", "T", "}"], ["{", "\\mathsf", "{", "T", "}", "}"], ["\\mathsf", "T"])
MACROS = {
    "def", "gdef", "edef", "xdef", "let", "newcommand", "renewcommand", "providecommand",
    "DeclareMathOperator", "catcode", "csname", "endcsname", "expandafter", "input", "include",
    "write", "immediate", "openout", "read", "makeatletter", "usepackage", "begingroup", "endgroup",
    "futurelet", "afterassignment", "uppercase", "lowercase", "newenvironment", "href", "url",
}  # fmt: skip
# `w \leftarrow w - \eta g`: an assignment in an algorithm, not a relation (the same letter names two
# values); refused with a message saying how to state it.
UPDATES = {"leftarrow", "gets", "longleftarrow", "Leftarrow"}
OTHER_RELATIONS = {
    "in", "ll", "gg", "lesssim", "gtrsim", "equiv", "sim", "simeq", "propto", "not", "subset",
    "subseteq", "supset", "notin", "cong", "doteq", "triangleq", "ni", *UPDATES,
}  # fmt: skip
_TWO_ARGUMENTS = {"frac", "dfrac", "tfrac", "cfrac", "binom", "dbinom", "tbinom"}
ELLIPSES = {"cdots", "ldots", "dots", "vdots", "ddots", "dotsb", "dotsc", "dotsm"}
VECTORS = {"mathbf", "boldsymbol", "bm", "vec", "mathbfit"}
SEPARATING_WORDS = {"and", "，", ",", "、", "且", "和", "以及", "where", "其中", "时", "for all"}
CONDITION_WORDS = {"if", "for", "when", "当", "若", "如果"}
OTHERWISE_WORDS = {"otherwise", "else", "其他", "否则", "其余"}

_LITERAL_TOKENS = {
    "+": "PLUS", "-": "MINUS", "−": "MINUS", "*": "TIMES", "×": "TIMES", "·": "TIMES", "/": "DIV",
    "^": "CARET", "_": "UNDERSCORE", "!": "BANG", "(": "LPAR", ")": "RPAR", "[": "LBRACK",
    "]": "RBRACK", "{": "LBRACE", "}": "RBRACE", ",": "COMMA", ";": "SEP", "\\{": "LSET",
    "\\}": "RSET", "\\%": "PERCENT", "cdot": "TIMES", "times": "TIMES", "div": "DIV",
    "to": "TO", "rightarrow": "TO", "in": "IN", "frac": "FRAC", "dfrac": "FRAC", "tfrac": "FRAC",
    "cfrac": "FRAC", "sqrt": "SQRT", "binom": "BINOM", "dbinom": "BINOM", "tbinom": "BINOM",
    "sum": "SUM", "prod": "PROD", "lim": "LIM", "partial": "PARTIAL", "quad": "SEP",
    "qquad": "SEP", "lfloor": "FLOOR_OPEN", "rfloor": "FLOOR_CLOSE", "lceil": "CEIL_OPEN",
    "rceil": "CEIL_CLOSE", "lvert": "ABS_OPEN", "rvert": "ABS_CLOSE",
}  # fmt: skip

# --------------------------------------------------------------------------- raw lexemes

_RAW = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<command>\\[A-Za-z]+\*?)"
    r"|(?P<symbol>\\[^A-Za-z])"
    r"|(?P<number>\d+(?:\{,\}\d{3})*(?:\.\d+)?|\.\d+)"
    r"|(?P<char>.)",
    re.S,
)


@dataclass(frozen=True)
class _Lexeme:
    kind: str  # "command" | "symbol" | "number" | "char" | "name" (a notation replacement)
    text: str
    pos: int


def _lexemes(tex: str) -> list[_Lexeme]:
    found = []
    for match in _RAW.finditer(tex):
        kind = match.lastgroup or "char"
        if kind != "space":
            text = match.group().rstrip("*") if kind == "command" else match.group()
            found.append(_Lexeme(kind, text, match.start()))
    return found


def _apply_notation(lexemes: list[_Lexeme], notation: Mapping[str, str]) -> list[_Lexeme]:
    """Replace each notation key (matched lexeme by lexeme, longest first) by one name."""
    if not notation:
        return lexemes
    keys = sorted(
        ((tuple(x.text for x in _lexemes(key)), value) for key, value in notation.items() if key.strip()),
        key=lambda item: -len(item[0]),
    )
    result: list[_Lexeme] = []
    index = 0
    while index < len(lexemes):
        for pattern, value in keys:
            end = index + len(pattern)
            if tuple(x.text for x in lexemes[index:end]) == pattern:
                result.append(_Lexeme("name", value, lexemes[index].pos))
                index = end
                break
        else:
            result.append(lexemes[index])
            index += 1
    return result


_GROUP_SPACES = {"\\,", "\\:", "\\;", "\\ ", "~"}  # what may stand between groups of digits (`1\\,000`)
_INTEGER_GROUP = re.compile(r"\d{3}(?:\.\d+)?")
_FRACTION_GROUP = re.compile(r"\d{1,3}")


def _digit_groups(lexemes: list[_Lexeme]) -> list[_Lexeme]:
    """`1\\,000`, `1~000`, `1 000` and `3.141\\,59` are one number each, as `1{,}000` is: digits
    grouped by a space. Read as two numbers they were a product, `1·000 = 0`, and `1\\,000 = 0` held.
    A number that is a script's or a fraction's argument is not grouped (`x^2\\,000` stays apart, and
    the tokenizer refuses two numbers side by side)."""
    result: list[_Lexeme] = []
    index = 0
    while index < len(lexemes):
        lexeme = lexemes[index]
        before = result[-1].text if result else ""
        argument = before in ("^", "_") or before[1:] in _TWO_ARGUMENTS
        if lexeme.kind != "number" or argument or len(lexeme.text.split(".")[0]) > 3:
            result.append(lexeme)
            index += 1
            continue
        text, end = lexeme.text, lexeme.pos + len(lexeme.text)
        at = index + 1
        while True:
            gap = at
            while gap < len(lexemes) and lexemes[gap].text in _GROUP_SPACES:
                gap += 1
            following = lexemes[gap] if gap < len(lexemes) else None
            spaced = gap > at or (following is not None and following.pos > end)
            group = _FRACTION_GROUP if "." in text else _INTEGER_GROUP
            if following is None or following.kind != "number" or not spaced \
                    or not group.fullmatch(following.text):
                break
            text, end, at = text + following.text, following.pos + len(following.text), gap + 1
        result.append(_Lexeme("number", text, lexeme.pos))
        index = at
    return result


def _single_digit_arguments(lexemes: list[_Lexeme]) -> list[_Lexeme]:
    """As in TeX, an unbraced argument is one digit: `x^23` is x²·3, `\\frac123` is ½·3."""
    closing: dict[int, int] = {}
    opened: list[int] = []
    for index, lexeme in enumerate(lexemes):
        if lexeme.text == "{":
            opened.append(index)
        elif lexeme.text == "}" and opened:
            closing[opened.pop()] = index
    singles: dict[int, int] = {}  # index of a number → how many leading digits stand alone
    for index, lexeme in enumerate(lexemes):
        arguments = 1 if lexeme.text in ("^", "_") else 2 if lexeme.text[1:] in _TWO_ARGUMENTS else 0
        at = index + 1
        while arguments and at < len(lexemes):
            if lexemes[at].kind == "number":
                taken = min(arguments, len(lexemes[at].text))
                singles[at] = taken
                arguments -= taken
                at += 1
            else:
                at = closing.get(at, at) + 1
                arguments -= 1
    result: list[_Lexeme] = []
    for index, lexeme in enumerate(lexemes):
        count = singles.get(index, 0)
        text = lexeme.text
        if count and text[:count].isdigit() and len(text) > 1:
            result.extend(_Lexeme("number", text[i], lexeme.pos + i) for i in range(count))
            if text[count:]:
                result.append(_Lexeme("number", text[count:], lexeme.pos + count))
        else:
            result.append(lexeme)
    return result


# --------------------------------------------------------------------------- tokens


_OPERAND_ENDS = {
    "NUMBER", "NAME", "RPAR", "RBRACK", "RBRACE", "RSET", "ABS_CLOSE", "FLOOR_CLOSE", "CEIL_CLOSE",
    "BANG", "PERCENT",
}  # fmt: skip


class Tokenizer:
    """TeX lexemes → grammar tokens: commands classified, names with subscripts and primes folded,
    sizes and spacing dropped, bars told apart, environments turned into rows and cases."""

    def __init__(self, tex: str, line: int, notation: Mapping[str, str], functions: Collection[str]):
        self.tex = tex
        self.line = line
        self.functions = functions
        self.lex = _single_digit_arguments(_apply_notation(_digit_groups(_lexemes(tex)), notation))
        self.index = 0
        self.tokens: list[Token] = []
        self.environments: list[str] = []
        self.bars = 0

    def error(self, message: str) -> CheckError:
        return CheckError(message, self.line)

    def peek(self, offset: int = 0) -> _Lexeme | None:
        at = self.index + offset
        return self.lex[at] if at < len(self.lex) else None

    def emit(self, kind: str, value: str, pos: int) -> None:
        end = self.lex[self.index - 1].pos + len(self.lex[self.index - 1].text) if self.index else pos + 1
        self.tokens.append(
            Token(kind, value, start_pos=pos, end_pos=max(end, pos + 1), line=self.line, column=pos + 1)
        )

    def guard(self) -> None:
        """Refusals that hold whatever the formula says: macro definitions and deep nesting."""
        if len(self.lex) > MAX_FORMULA_TOKENS:
            raise self.error(f"formula has more than {MAX_FORMULA_TOKENS} symbols")
        depth = 0
        for lexeme in self.lex:
            if lexeme.kind == "command" and lexeme.text[1:] in MACROS:
                raise self.error(f"TeX macro commands are not read in formulas: {quote(lexeme.text)}")
            if lexeme.text in ("{", "(", "[", "\\{", "\\left"):
                depth += 1
                if depth > MAX_NESTING:
                    raise self.error(f"formula nested deeper than {MAX_NESTING} levels")
            elif lexeme.text in ("}", ")", "]", "\\}", "\\right"):
                depth -= 1

    def states_relation(self) -> bool:
        """Whether the formula says `=`, `<`, `\\in`, `\\approx`, `\\ll`, …: a claim, read or not."""
        return any(
            lexeme.text in RELATIONS
            or (
                lexeme.kind == "command"
                and (lexeme.text[1:] in RELATIONS or lexeme.text[1:] in OTHER_RELATIONS)
            )
            for lexeme in self.lex
        )

    def run(self) -> list[Token]:
        while self.index < len(self.lex):
            self.step()
        return self.tokens

    # ----------------------------------------------------------------- one lexeme

    def step(self) -> None:
        lexeme = self.lex[self.index]
        self.index += 1
        text, pos = lexeme.text, lexeme.pos
        if lexeme.kind == "name":
            self.name(lexeme.text, pos)
        elif lexeme.kind == "number":
            self.number(text, pos)
        elif lexeme.kind == "command":
            self.command(text[1:], pos)
        elif lexeme.kind == "symbol":
            self.symbol(text, pos)
        else:
            self.char(text, pos)

    def number(self, text: str, pos: int) -> None:
        previous = self.lex[self.index - 2] if self.index >= 2 else None
        split = (previous is not None and previous.kind == "number"
                 and previous.pos + len(previous.text) == pos)
        # Two numbers side by side are no product a reader means (`2\,5`, `x^2 0`, `1000\,000` not grouped
        # in threes), except where TeX splits one run of digits (`x^23` is x²·3, `\frac123` is ½·3) and an
        # operator's script is followed by its argument (`\log_2 8`, with no `\,` or `~` between).
        script = (len(self.tokens) > 2 and self.tokens[-2].type in ("CARET", "UNDERSCORE")
                  and self.tokens[-3].type == "FUNC" and previous is not None and previous.kind == "number")
        if len(text) > 1 and text[0] == "0" and text[1].isdigit():  # `000` alone: `x^2 000` read as x²·0
            raise self.error(f"a number with a leading zero: {quote(text)}: group digits in threes after a "
                             "first group of one to three (1\\,000 or 1{,}000)")
        if self.tokens and self.tokens[-1].type == "NUMBER" and not split and not script:
            raise self.error(
                f"two numbers side by side: {quote(self.tex[self.tokens[-1].start_pos:pos + len(text)])}: "
                "write a product with \\cdot or \\times, and group digits in threes (1\\,000 or 1{,}000)")
        self.emit("NUMBER", text.replace("{,}", ""), pos)

    def char(self, text: str, pos: int) -> None:
        if text.isascii() and text.isalpha():
            self.name(text, pos)
        elif text == "|":
            self.bar(pos)
        elif text in RELATIONS:
            self.relation(RELATIONS[text], pos)
        elif text == ":" and self.peek() is not None and self.peek().text == "=":  # type: ignore[union-attr]
            self.index += 1
            self.relation("==", pos)
        elif text == ":" and self.signature():
            return
        elif text == "&":
            self.ampersand(pos)
        elif text == "%":
            raise self.error(
                "a `%` comment inside a formula: only `% exempt:` / `% wrong:` markers at the end"
            )
        elif text == "'":
            raise self.error(
                f"a prime needs its variable, as in f'(x): {quote(self.tex[max(0, pos - 10) : pos + 5])}"
            )
        elif text == ".":
            self.emit("SEP", text, pos)
        elif text == "~":
            return
        elif text == "^" and (self.direction(pos) or self.transpose(pos)):
            return
        elif text == "∞":
            self.name("oo", pos)
        elif text in _LITERAL_TOKENS:
            self.emit(_LITERAL_TOKENS[text], text, pos)
        else:
            raise self.error(f"cannot read {quote(text)} in a formula")

    def symbol(self, text: str, pos: int) -> None:
        if text == "\\;" and self.between_operands():
            self.emit("SEP", text, pos)  # `f(1) = 1 \\; f(2) = 8`: a thick space between two statements
            return
        if text[1:] in SPACING:
            return
        if text == "\\\\":
            self.row_break(pos)
        elif text == "\\|":
            raise self.error("a norm ‖x‖ cannot be verified on scalars; " + DECLARE_HINT)
        elif text in _LITERAL_TOKENS:
            self.emit(_LITERAL_TOKENS[text], text, pos)
        else:
            raise self.error(f"cannot read {quote(text)} in a formula: {DECLARE_HINT}")

    def command(self, name: str, pos: int) -> None:
        if name in MACROS:
            raise self.error(f"TeX macro commands are not read in formulas: {quote(chr(92) + name)}")
        if name in UPDATES:
            raise self.error(
                f"an update rule ({quote(chr(92) + name)}) is not a relation: the same name stands for the "
                "old and the new value; give the new value its own name (`\\hat\\mu_{\\text{new}} = …`), "
                "state what the update implies, or end the formula with `% exempt: <reason>`"
            )
        if name in SPACING:
            return
        if name in SIZES:
            self.size(name, pos)
        elif name in GREEK:
            self.name(GREEK[name], pos)
        elif name in FUNCTION_COMMANDS:
            self.function(FUNCTION_COMMANDS[name], pos)
        elif name in RELATIONS:
            self.relation(RELATIONS[name], pos)
        elif name == "vert":
            self.bar(pos)
        elif name in _LITERAL_TOKENS:
            self.emit(_LITERAL_TOKENS[name], "\\" + name, pos)
        elif name in ("text", "textrm", "mbox", "textnormal", "mathrm", "operatorname", "mathit", "textit"):
            self.word(name, pos)
        elif name in DECORATIONS:
            self.decorated(name, pos)
        elif name in ("begin", "end"):
            self.environment(name, pos)
        elif name in ELLIPSES:
            self.emit("ELLIPSIS", "\\" + name, pos)  # read only inside a sum: 1 + 2 + \\cdots + n
        elif name in VECTORS:
            raise self.error(
                f"{quote(chr(92) + name)} (vector or matrix notation) cannot be verified as a scalar formula"
            )
        elif name in ("tag", "label"):
            self.group_text(pos)
        elif name in ("mathbb", "mathcal", "mathfrak", "mathscr", "mathsf", "mathtt"):
            letter = self.group_text(pos)
            if name == "mathbb" and letter == "R" and self.tokens and self.tokens[-1].type == "IN":
                self.emit("REALS", self.real_half_line(), pos)
                return
            snippet = f"\\{name}{{{letter}}}"
            raise self.error(f"cannot read {quote(snippet)} in a formula: {DECLARE_HINT}")
        else:
            raise self.error(f"cannot read {quote(chr(92) + name)} in a formula: {DECLARE_HINT}")

    # ----------------------------------------------------------------- pieces

    def direction(self, pos: int) -> bool:
        """`0^+` / `0^{-}` in a limit: a one-sided approach, not a power."""
        ahead = [x.text for x in self.lex[self.index : self.index + 3]]
        for pattern, used in ((["{", "+", "}"], 3), (["{", "-", "}"], 3), (["+"], 1), (["-"], 1)):
            if ahead[: len(pattern)] == pattern:
                rest = ahead[len(pattern) :]
                if used == 3 or not rest or rest[0] in ("}", ")", ","):
                    self.index += used
                    self.emit("DIR", pattern[1] if used == 3 else pattern[0], pos)
                    return True
        return False

    def transpose(self, pos: int) -> bool:
        """`^\\top`, `^T`, `^{\\mathsf T}`: the transpose of what precedes."""
        ahead = [x.text for x in self.lex[self.index : self.index + 6]]
        for pattern in TRANSPOSES:
            if ahead[: len(pattern)] == pattern:
                self.index += len(pattern)
                self.emit("TRANSPOSE", "^T", pos)
                return True
        return False

    def real_half_line(self) -> str:
        """After `\\in \\mathbb{R}`: `_+`, `^+`, `_{>0}` → "+" (positive), `_{\\ge 0}` → "0+", else ""."""
        ahead = [x.text for x in self.lex[self.index : self.index + 5]]
        for pattern, kind in (
            (["_", "+"], "+"), (["^", "+"], "+"), (["_", "{", "+", "}"], "+"), (["^", "{", "+", "}"], "+"),
            (["_", "{", ">", "0", "}"], "+"), (["_", "{", "\\ge", "0", "}"], "0+"),
            (["_", "{", "\\geq", "0", "}"], "0+"),
        ):  # fmt: skip
            if ahead[: len(pattern)] == pattern:
                self.index += len(pattern)
                return kind
        if ahead[:1] in (["^"], ["_"]):
            raise self.error("only ℝ, ℝ_+ and ℝ_{\\ge 0} are read after \\in")
        return ""

    def between_operands(self) -> bool:
        """Whether a space here would otherwise make two operands side by side (a product)."""
        following = self.peek()
        if not self.tokens or self.tokens[-1].type not in _OPERAND_ENDS or following is None:
            return False
        return (
            following.kind in ("number", "name")
            or (following.kind == "char" and following.text.isascii() and following.text.isalpha())
            or (following.kind == "command" and following.text[1:] in GREEK.keys() | FUNCTION_COMMANDS.keys())
        )

    def signature(self) -> bool:
        """`\\sigma:\\mathbb{R}\\to(0,1)` names a function's domain and range: notation, skipped
        up to the next separator."""
        previous = self.tokens[-2].type if len(self.tokens) > 1 else "SEP"
        if not self.tokens or self.tokens[-1].type != "NAME" or previous not in ("SEP", "COMMA"):
            return False
        depth, end = 0, self.index
        while end < len(self.lex):
            text = self.lex[end].text
            if depth == 0 and text in (",", ";", "\\quad", "\\qquad", "\\\\"):
                break
            depth += text in ("(", "[", "{", "\\{") or -(text in (")", "]", "}", "\\}"))
            end += 1
        if not any(x.text in ("\\to", "\\rightarrow", "\\mapsto") for x in self.lex[self.index : end]):
            return False
        self.tokens.pop()
        self.index = end
        return True

    def relation(self, op: str, pos: int) -> None:
        self.emit("REL", op, pos)

    def size(self, name: str, pos: int) -> None:
        following = self.peek()
        if following is None:
            raise self.error(f"{quote(chr(92) + name)} without a delimiter")
        if following.text == ".":
            self.index += 1
            return
        if following.text in ("|", "\\vert"):
            self.index += 1
            opening = name in ("left", "bigl", "Bigl", "biggl", "Biggl")
            closing = name in ("right", "bigr", "Bigr", "biggr", "Biggr")
            self.bar(following.pos, "open" if opening else "close" if closing else "")

    def bar(self, pos: int, side: str = "") -> None:
        previous = self.tokens[-1].type if self.tokens else ""
        if side == "close" or (not side and self.bars > 0 and previous in _OPERAND_ENDS):
            if self.bars == 0:
                raise self.error("a closing | without an opening one")
            self.bars -= 1
            self.emit("ABS_CLOSE", "|", pos)
        else:
            self.bars += 1
            self.emit("ABS_OPEN", "|", pos)

    def ampersand(self, pos: int) -> None:
        if self.environments and self.environments[-1] in MATRIX_ENVIRONMENTS:
            self.emit("MATRIX_AMP", "&", pos)
        elif self.environments and self.environments[-1] in CASE_ENVIRONMENTS:
            self.emit("CASE_AMP", "&", pos)
        elif not self.environments:
            raise self.error("`&` outside an aligned or cases environment")

    def row_break(self, pos: int) -> None:
        if self.environments and self.environments[-1] in MATRIX_ENVIRONMENTS:
            self.emit("MATRIX_ROW", "\\\\", pos)
            return
        if self.environments and self.environments[-1] in CASE_ENVIRONMENTS:
            self.emit("CASE_ROW", "\\\\", pos)
            return
        following = self.index
        while following < len(self.lex) and self.lex[following].text == "&":
            following += 1
        nxt = self.lex[following] if following < len(self.lex) else None
        continues = nxt is not None and (
            nxt.text in RELATIONS or (nxt.kind == "command" and nxt.text[1:] in RELATIONS)
        )
        if continues:  # a row that starts with a relation continues the chain above it
            return
        # a row that starts with an operator (`&\quad-\frac1m…`, `&+ b`, `&\quad\cdot b`) continues the
        # expression above it: its `&` and indentation are layout, not a separator
        while following < len(self.lex) and (self.lex[following].text in ("&", "\\quad", "\\qquad")
                                             or self.lex[following].text[1:] in SPACING):
            following += 1
        nxt = self.lex[following] if following < len(self.lex) else None
        if nxt is not None and nxt.text in ROW_OPERATORS:
            self.index = following
            return
        self.emit("SEP", "\\\\", pos)

    def group_text(self, pos: int) -> str:
        """The text of a `{...}` argument, as written (nested braces kept)."""
        opening = self.peek()
        if opening is None or opening.text != "{":
            if opening is not None and opening.kind in ("char", "command"):
                self.index += 1
                return opening.text
            raise self.error(f"expected {{...}} at column {pos + 1}")
        depth, start = 0, self.index
        while self.index < len(self.lex):
            lexeme = self.lex[self.index]
            self.index += 1
            if lexeme.text == "{":
                depth += 1
            elif lexeme.text == "}":
                depth -= 1
                if depth == 0:
                    inner = self.lex[start + 1 : self.index - 1]
                    if any(x.kind == "name" for x in inner):
                        return next(x.text for x in inner if x.kind == "name")
                    begin = opening.pos + 1
                    return self.tex[begin : lexeme.pos] if inner else ""
        raise self.error("unbalanced braces in the formula")

    def word(self, command: str, pos: int) -> None:
        text = self.group_text(pos)
        words = " ".join(text.replace("\\,", " ").replace("~", " ").split())
        if command in ("text", "textrm", "mbox", "textnormal", "textit"):
            self.text_word(words, pos)
            return
        if len(words) == 1 and words.isalpha():
            self.name(words, pos)
            return
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", words):
            raise self.error(f"cannot read {quote(chr(92) + command + '{' + text + '}')}: {DECLARE_HINT}")
        callable_name = next((n for n in (words.lower(), words) if n in self.functions), "")
        if callable_name:
            self.function(callable_name, pos)
            return
        if self.peek_delimiter() == "(" or (self.peek() is not None and self.peek().text == "'"):  # type: ignore[union-attr]
            primes = self.primes()
            if self.peek_delimiter() == "(":  # a definition's left side, or an unknown function
                self.emit("OPNAME_CALL", words.lower() + "'" * primes, pos)
                return
        if command == "operatorname" or self.peek_delimiter() == "(":
            raise self.error(
                f"unknown function {quote(chr(92) + command + '{' + text + '}')} "
                f"(read as {words.lower()}): {DECLARE_HINT}"
            )
        self.name(words, pos)

    def text_word(self, words: str, pos: int) -> None:
        lowered = words.lower().strip()
        in_cases = bool(self.environments) and self.environments[-1] in CASE_ENVIRONMENTS
        if not lowered:
            return
        if lowered in SEPARATING_WORDS or not any(char.isalnum() for char in lowered):
            self.emit("SEP", words, pos)
        elif lowered in CONDITION_WORDS:
            while self.tokens and self.tokens[-1].type in ("SEP", "COMMA"):
                self.tokens.pop()  # `f = 0, \\text{ if } x < 0`: the condition belongs to f = 0
            self.emit("CONNECTOR", words, pos)
        elif lowered in OTHERWISE_WORDS and in_cases:
            self.emit("OTHERWISE", words, pos)
        else:
            raise self.error(f"the words {quote(words)} inside a formula cannot be verified")

    def decorated(self, command: str, pos: int) -> None:
        inner = self.group_text(pos).strip()
        base = GREEK.get(inner[1:], "") if inner.startswith("\\") else inner
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", base):
            raise self.error(f"cannot read {quote(chr(92) + command + '{' + inner + '}')}: {DECLARE_HINT}")
        self.name(f"{base}_{DECORATIONS[command]}", pos)

    def environment(self, command: str, pos: int) -> None:
        name = self.group_text(pos).strip()
        if name not in ROW_ENVIRONMENTS and name not in CASE_ENVIRONMENTS and name not in MATRIX_ENVIRONMENTS:
            raise self.error(f"the environment {quote(name)} cannot be verified")
        if command == "begin":
            if name in ("alignedat",):
                self.group_text(pos)
            self.environments.append(name)
            if name in CASE_ENVIRONMENTS:
                self.emit("CASES_BEGIN", name, pos)
            elif name in MATRIX_ENVIRONMENTS:
                self.emit("MATRIX_BEGIN", name, pos)
        else:
            if not self.environments or self.environments[-1] != name:
                raise self.error(f"\\end{{{name}}} does not close the open environment")
            self.environments.pop()
            if name in CASE_ENVIRONMENTS:
                self.emit("CASES_END", name, pos)
            elif name in MATRIX_ENVIRONMENTS:
                self.emit("MATRIX_END", name, pos)

    def function(self, name: str, pos: int) -> None:
        primes = self.primes()
        following = self.peek_delimiter()
        if primes and following != "(":
            raise self.error(f"a prime needs its variable, as in {name}'(x)")
        self.emit("FUNC_CALL" if following in ("(", "\\{") else "FUNC", name + "'" * primes, pos)

    def primes(self) -> int:
        """f', f'' and f^{\\prime}: how many."""
        count = 0
        while self.peek() is not None and self.peek().text == "'":  # type: ignore[union-attr]
            self.index += 1
            count += 1
        ahead = [x.text for x in self.lex[self.index : self.index + 4]]
        if ahead[:2] == ["^", "\\prime"]:
            self.index += 2
            count += 1
        elif ahead == ["^", "{", "\\prime", "}"]:
            self.index += 4
            count += 1
        return count

    def superscript_label(self) -> str:
        """x^* → x_star, x^{(i)} → x_i, y^{\\text{LS}} → y_LS: superscripts that label a name."""
        if self.peek() is None or self.peek().text != "^":  # type: ignore[union-attr]
            return ""
        start = self.index
        self.index += 1
        braced = self.peek() is not None and self.peek().text == "{"  # type: ignore[union-attr]
        self.index += braced
        label = self.label_piece(braced)
        if label and (not braced or (self.peek() is not None and self.peek().text == "}")):  # type: ignore[union-attr]
            self.index += braced
            return label
        self.index = start
        return ""

    def label_piece(self, braced: bool) -> str:
        lexeme = self.peek()
        if lexeme is None:
            return ""
        if lexeme.text in ("*", "\\ast"):
            self.index += 1
            return "star"
        inner, closing = self.peek(1), self.peek(2)
        if (
            braced
            and lexeme.text == "("
            and inner is not None
            and closing is not None
            and closing.text == ")"
        ):
            if inner.kind in ("char", "number") and inner.text.isalnum():
                self.index += 3
                return inner.text
        if lexeme.kind == "command" and lexeme.text[1:] in ("text", "mathrm", "textrm", "operatorname"):
            self.index += 1
            words = self.group_text(lexeme.pos)
            return words if re.fullmatch(r"[A-Za-z0-9]+", words) else ""
        return ""

    def peek_delimiter(self) -> str:
        """The next delimiter's text, looking through \\left, \\bigl and friends."""
        offset = 0
        nxt = self.peek(offset)
        while nxt is not None and nxt.kind == "command" and nxt.text[1:] in SIZES:
            offset += 1
            nxt = self.peek(offset)
        return nxt.text if nxt is not None else ""

    def name(self, base: str, pos: int) -> None:
        """A name with its subscript folded in (x_i → x_i, W_{\\text{in}} → W_in) and its primes."""
        name = base
        following = self.peek()
        if following is not None and following.text == "_":
            self.index += 1
            name = f"{name}_{self.subscript(pos)}"
        label = self.superscript_label()
        if label:
            name = f"{name}_{label}"
            if self.peek() is not None and self.peek().text == "_":  # type: ignore[union-attr]
                self.index += 1
                name = f"{name}_{self.subscript(pos)}"
        primes = self.primes()
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name) or keyword.iskeyword(name):
            raise self.error(f"{quote(name)} cannot be a name in a formula: {DECLARE_HINT}")
        after_script = bool(self.tokens) and self.tokens[-1].type in ("UNDERSCORE", "CARET")
        call = self.peek_delimiter() == "(" and not after_script  # x^y(…) raises x to y, then multiplies
        if primes and not call:
            raise self.error(f"a prime needs its variable, as in {name}'(x)")
        self.emit("NAME_CALL" if call else "NAME", name + "'" * primes, pos)

    def subscript(self, pos: int) -> str:
        lexeme = self.peek()
        if lexeme is None:
            raise self.error("a subscript _ with nothing after it")
        if lexeme.text != "{":
            self.index += 1
            return self.subscript_piece(lexeme)
        self.index += 1
        parts: list[str] = []
        while self.peek() is not None and self.peek().text != "}":  # type: ignore[union-attr]
            lexeme = self.lex[self.index]
            self.index += 1
            if lexeme.text == ",":
                continue
            parts.append(self.subscript_piece(lexeme))
        self.index += 1
        return "".join(parts)

    def subscript_piece(self, lexeme: _Lexeme) -> str:
        if lexeme.kind in ("number", "name") or (
            lexeme.kind == "char" and lexeme.text.isascii() and lexeme.text.isalnum()
        ):
            return lexeme.text.replace("{,}", "")
        if lexeme.kind == "command":
            command = lexeme.text[1:]
            if command in GREEK:
                return GREEK[command]
            if command in ("text", "textrm", "mathrm", "mbox", "operatorname", "mathit"):
                words = self.group_text(lexeme.pos).strip()
                if re.fullmatch(r"[A-Za-z0-9]+", words):
                    return words
            if command in FUNCTION_COMMANDS:
                return command
        raise self.error(
            f"the subscript near {quote(self.tex[lexeme.pos : lexeme.pos + 12])} cannot be part of a name: "
            + DECLARE_HINT
        )
