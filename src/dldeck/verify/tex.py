"""The TeX reader: the formulas a learner reads, read into the check language's expression model.

Two readers, one model: `read_formula` turns `\\sigma'(x)=\\sigma(x)\\bigl(1-\\sigma(x)\\bigr)` into
the same `ast` nodes that the check line `diff(sigma(x), x) == sigma(x)*(1 - sigma(x))` parses to;
they pass the same whitelist (`syntax.validate`) and are decided by the same evaluator. Nothing is
executed and no text goes to sympy: a hand-written tokenizer classifies TeX commands (refusing
macro definitions), an LALR grammar (tex.lark, linear time, no recursion) gives the structure, and
a non-recursive transformer builds the nodes. Limits: length, nesting, and everything the
whitelist already limits (literal sizes, power towers, depth).
"""

from __future__ import annotations

import ast
import copy as copy_module
import keyword
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer_NonRecursive
from lark.exceptions import LarkError, UnexpectedInput, UnexpectedToken, VisitError
from lark.lexer import Lexer

from dldeck.errors import quote
from dldeck.verify.layers import LAYER_FUNCTIONS
from dldeck.verify.library import BUILTIN_NAMES, FUNCTIONS
from dldeck.verify.syntax import MAX_INT_DIGITS, MAX_NESTING, CheckError, Statement, definition_head, validate

MAX_FORMULA_CHARS = 4_000
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
    "max": "Max", "min": "Min",
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
ROW_ENVIRONMENTS = {"aligned", "align", "align*", "split", "gathered", "gather", "gather*",
                    "equation", "equation*", "alignedat"}  # fmt: skip
CASE_ENVIRONMENTS = {"cases", "dcases"}
MACROS = {
    "def", "gdef", "edef", "xdef", "let", "newcommand", "renewcommand", "providecommand",
    "DeclareMathOperator", "catcode", "csname", "endcsname", "expandafter", "input", "include",
    "write", "immediate", "openout", "read", "makeatletter", "usepackage", "begingroup", "endgroup",
    "futurelet", "afterassignment", "uppercase", "lowercase", "newenvironment", "href", "url",
}  # fmt: skip
OTHER_RELATIONS = {
    "in", "ll", "gg", "lesssim", "gtrsim", "equiv", "sim", "simeq", "propto", "not", "subset",
    "subseteq", "supset", "notin", "cong", "doteq", "triangleq", "ni",
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


class _Tokenizer:
    """TeX lexemes → grammar tokens: commands classified, names with subscripts and primes folded,
    sizes and spacing dropped, bars told apart, environments turned into rows and cases."""

    def __init__(self, tex: str, line: int, notation: Mapping[str, str], functions: Collection[str]):
        self.tex = tex
        self.line = line
        self.functions = functions
        self.lex = _single_digit_arguments(_apply_notation(_lexemes(tex), notation))
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
        elif text == "^" and self.direction(pos):
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
        if self.environments and self.environments[-1] in CASE_ENVIRONMENTS:
            self.emit("CASE_AMP", "&", pos)
        elif not self.environments:
            raise self.error("`&` outside an aligned or cases environment")

    def row_break(self, pos: int) -> None:
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
        if not continues:  # a row that starts with a relation continues the chain above it
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
        if name not in ROW_ENVIRONMENTS and name not in CASE_ENVIRONMENTS:
            raise self.error(f"the environment {quote(name)} cannot be verified")
        if command == "begin":
            if name in ("alignedat",):
                self.group_text(pos)
            self.environments.append(name)
            if name in CASE_ENVIRONMENTS:
                self.emit("CASES_BEGIN", name, pos)
        else:
            if not self.environments or self.environments[-1] != name:
                raise self.error(f"\\end{{{name}}} does not close the open environment")
            self.environments.pop()
            if name in CASE_ENVIRONMENTS:
                self.emit("CASES_END", name, pos)

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


# --------------------------------------------------------------------------- the parser


class _GivenTokens(Lexer):
    """The tokenizer above has already made the tokens; lark only parses them."""

    def __init__(self, conf: Any):
        pass

    def lex(self, data: list[Token]) -> Iterator[Token]:  # type: ignore[override]
        return iter(data)


@lru_cache(maxsize=1)
def parser() -> Lark:
    """The LALR parser, built once per process (~0.3 s of table construction): build it before
    forking workers so that each inherits it."""
    grammar = resources.files("dldeck.verify").joinpath("tex.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", lexer=_GivenTokens, maybe_placeholders=False)


# --------------------------------------------------------------------------- building ast nodes


def _name(identifier: str) -> ast.Name:
    return ast.Name(id=identifier, ctx=ast.Load())


def _call(function: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=_name(function), args=list(args), keywords=[])


def _int(value: int) -> ast.expr:
    if value < 0:
        return ast.UnaryOp(op=ast.USub(), operand=ast.Constant(-value))
    return ast.Constant(value)


def _fraction(value: Fraction) -> ast.expr:
    if value.denominator == 1:
        return _int(value.numerator)
    return ast.BinOp(left=_int(value.numerator), op=ast.Div(), right=_int(value.denominator))


def _binop(left: ast.expr, op: ast.operator, right: ast.expr) -> ast.expr:
    return ast.BinOp(left=left, op=op, right=right)


class _Marker(ast.expr):
    """A piece that only means something in context (∂, d/dx); left anywhere else it is an error."""

    _fields = ()

    def __init__(self, what: str, variables: tuple[tuple[str, int], ...] = ()):
        super().__init__()
        self.what = what
        self.variables = variables


_BINARY = {"PLUS": ast.Add, "MINUS": ast.Sub, "TIMES": ast.Mult, "DIV": ast.Div}
_COMPARE_OPS = {"==": ast.Eq, "!=": ast.NotEq, "<": ast.Lt, ">": ast.Gt, "<=": ast.LtE, ">=": ast.GtE}


def _is_letter_d(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "d"


def _is_partial(node: ast.expr) -> bool:
    return isinstance(node, _Marker) and node.what == "partial"


def _differential(node: ast.expr) -> tuple[str, int] | None:
    """`d`, `\\partial`, `d^2`, `\\partial^2` → (kind, order)."""
    order = 1
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        if not (isinstance(node.right, ast.Constant) and type(node.right.value) is int):
            return None
        order, node = node.right.value, node.left
    if _is_letter_d(node):
        return ("d", order)
    if _is_partial(node):
        return ("partial", order)
    return None


def _factors(node: ast.expr) -> list[ast.expr]:
    return list(getattr(node, "dldeck_factors", [node]))


class _Build(Transformer_NonRecursive):
    """Parse tree → check-language `ast` nodes; bottom-up and without recursion."""

    def __init__(self, functions: frozenset[str], line: int):
        super().__init__()
        self.functions = functions
        self.line = line

    def error(self, message: str) -> CheckError:
        return CheckError(message, self.line)

    @staticmethod
    def nodes(children: list[Any]) -> list[Any]:
        return [child for child in children if not isinstance(child, Token)]

    # ----------------------------------------------------------------- atoms

    def number(self, children: list[Any]) -> ast.expr:
        (token,) = children
        text = str(token)
        if "." in text:
            whole, _, decimals = text.partition(".")
            node = ast.Constant(float(text))
            node.dldeck_literal = text  # type: ignore[attr-defined]
            node.dldeck_unit = Fraction(1, 10 ** len(decimals))  # type: ignore[attr-defined]
            return node
        if len(text) > MAX_INT_DIGITS:
            raise self.error(f"integer literal longer than {MAX_INT_DIGITS} digits")
        node = ast.Constant(int(text))
        node.dldeck_unit = Fraction(1)  # type: ignore[attr-defined]
        return node

    def name(self, children: list[Any]) -> ast.expr:
        (token,) = children
        text = str(token)
        return _name("E" if text == "e" else text)

    def partial(self, children: list[Any]) -> ast.expr:
        return _Marker("partial")

    def brackets(self, children: list[Any]) -> ast.expr:
        (inner,) = self.nodes(children)
        return inner

    def paren(self, children: list[Any]) -> ast.expr:
        (args,) = self.nodes(children)
        if len(args) == 1:
            return args[0]
        return ast.Tuple(elts=args, ctx=ast.Load())

    def args(self, children: list[Any]) -> list[ast.expr]:
        return self.nodes(children)

    def call(self, children: list[Any]) -> ast.expr:
        head = children[0]
        (args,) = self.nodes(children)
        name = str(head)
        primes = len(name) - len(name.rstrip("'"))
        name = name.rstrip("'")
        if name == "Max" or name == "Min":
            return _call(name, *args)
        if primes:
            return self.prime(name, primes, args)
        node = _call(name, *args)
        if head.type == "FUNC_CALL" or name in self.functions:
            return node
        if head.type == "OPNAME_CALL":
            node.dldeck_unknown = name  # type: ignore[attr-defined]  # fine only as a definition's left side
            return node
        if len(args) != 1:
            return node  # `g(x, y)` with g unknown: evaluation names it
        product = _binop(_name(name), ast.Mult(), args[0])
        product.dldeck_call = node  # type: ignore[attr-defined]  # `f(x)` as a relation's left side
        return product

    def prime(self, name: str, order: int, args: list[ast.expr]) -> ast.expr:
        if len(args) != 1:
            raise self.error(f"{name}{chr(39) * order}(...) needs exactly one argument")
        (arg,) = args
        tail = [_int(order)] if order > 1 else []
        if isinstance(arg, ast.Name):
            return _call("diff", _call(name, arg), arg, *tail)
        variable = _name("t" if not self.mentions(arg, "t") else "u")
        return _call("subs", _call("diff", _call(name, variable), variable, *tail), variable, arg)

    @staticmethod
    def mentions(node: ast.expr, name: str) -> bool:
        return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node))

    def operator(self, children: list[Any]) -> ast.expr:
        function = str(children[0])
        rest = children[1:]
        base: ast.expr | None = None
        power: ast.expr | None = None
        while rest and isinstance(rest[0], Token):
            marker, value = rest[0], rest[1]
            rest = rest[2:]
            if marker.type == "UNDERSCORE":
                base = value
            else:
                power = value
        (argument,) = rest
        if base is not None and function in ("Max", "Min"):
            if not isinstance(base, ast.Name):
                raise self.error(f"\\{function.lower()}_{{...}} needs a single variable")
            node: ast.expr = _call("maximum" if function == "Max" else "minimum", argument, base)
        elif base is not None and function == "log":
            node = _call("log", argument, base)
        elif base is not None:
            raise self.error(f"\\{function} takes no subscript")
        else:
            node = _call(function, *(argument.elts if isinstance(argument, ast.Tuple) else [argument]))
        return _binop(node, ast.Pow(), power) if power is not None else node

    def abs(self, children: list[Any]) -> ast.expr:
        return _call("abs", *self.nodes(children))

    def floor(self, children: list[Any]) -> ast.expr:
        return _call("floor", *self.nodes(children))

    def ceiling(self, children: list[Any]) -> ast.expr:
        return _call("ceiling", *self.nodes(children))

    def sqrt(self, children: list[Any]) -> ast.expr:
        parts = self.nodes(children)
        if len(parts) == 1:
            return _call("sqrt", parts[0])
        index, radicand = parts
        return _binop(radicand, ast.Pow(), _binop(ast.Constant(1), ast.Div(), index))

    def binom(self, children: list[Any]) -> ast.expr:
        return _call("binomial", *self.nodes(children))

    def frac(self, children: list[Any]) -> ast.expr:
        numerator, denominator = self.nodes(children)
        derivative = self.derivative(numerator, denominator)
        if derivative is not None:
            return derivative
        return _binop(numerator, ast.Div(), denominator)

    def derivative(self, numerator: ast.expr, denominator: ast.expr) -> ast.expr | None:
        """d/dx, df/dx, d^2f/dx^2, ∂L/∂w, ∂²f/∂x∂y → diff(...), or an operator on what follows."""
        top = _factors(numerator)
        head = _differential(top[0])
        bottom = _factors(denominator)
        if head is None or _differential(bottom[0]) is None:
            return None
        kind, order = head
        variables: list[tuple[str, int]] = []
        index = 0
        while index < len(bottom):
            mark = bottom[index]
            if not (_is_letter_d(mark) if kind == "d" else _is_partial(mark)) or index + 1 >= len(bottom):
                raise self.error("cannot read the denominator of a derivative: write dx, dx^2 or \\partial x")
            variable = bottom[index + 1]
            power = 1
            if isinstance(variable, ast.BinOp) and isinstance(variable.op, ast.Pow):
                if not (isinstance(variable.right, ast.Constant) and type(variable.right.value) is int):
                    raise self.error("a derivative's order must be a whole number")
                power, variable = variable.right.value, variable.left
            if not isinstance(variable, ast.Name):
                raise self.error("a derivative is taken with respect to a name, as in dx")
            variables.append((variable.id, power))
            index += 2
        if sum(power for _, power in variables) != order:
            raise self.error("the orders above and below a derivative's fraction bar differ")
        if len(top) == 1:
            return _Marker("derivative", tuple(variables))
        return self.differentiate(self.product(top[1:]), tuple(variables))

    def differentiate(self, body: ast.expr, variables: tuple[tuple[str, int], ...]) -> ast.expr:
        if isinstance(body, ast.Name) and body.id in self.functions and len(variables) == 1:
            body = _call(body.id, _name(variables[0][0]))
        for variable, power in reversed(variables):
            body = _call("diff", body, _name(variable), *([_int(power)] if power > 1 else []))
        return body

    def cases(self, children: list[Any]) -> ast.expr:
        pieces = [ast.Tuple(elts=list(row), ctx=ast.Load()) for row in self.nodes(children)]
        return _call("Piecewise", *pieces)

    def case_row(self, children: list[Any]) -> tuple[ast.expr, ast.expr]:
        if any(isinstance(c, Token) and c.type == "OTHERWISE" for c in children):
            (value,) = self.nodes(children)
            return value, ast.Constant(True)
        value, condition = self.nodes(children)
        if isinstance(condition, list):
            if len(condition) != 1 or not isinstance(condition[0], ast.Compare):
                raise self.error("a case's condition must be one comparison, as in x > 0")
            condition = condition[0]
        return value, condition

    # ----------------------------------------------------------------- operators

    def ellipsis(self, children: list[Any]) -> ast.expr:
        return _Marker("ellipsis")

    def binary(self, children: list[Any]) -> ast.expr:
        left, operator, right = children
        if operator.type == "PLUS":
            series = _series(left, right)
            if series is not None:
                return series
        if operator.type == "DIV":  # ∂L/∂w written inline
            derivative = self.derivative(left, right)
            if derivative is not None:
                return derivative
        return _binop(left, _BINARY[operator.type](), right)

    def neg(self, children: list[Any]) -> ast.expr:
        (operand,) = self.nodes(children)
        if isinstance(operand, ast.Constant):
            node = ast.UnaryOp(op=ast.USub(), operand=operand)
            node.dldeck_unit = getattr(operand, "dldeck_unit", None)  # type: ignore[attr-defined]
            return node
        return ast.UnaryOp(op=ast.USub(), operand=operand)

    def pos(self, children: list[Any]) -> ast.expr:
        (operand,) = self.nodes(children)
        return operand

    def power(self, children: list[Any]) -> ast.expr:
        base, exponent = self.nodes(children)
        if isinstance(base, ast.Name) and base.id == "E":
            return _call("exp", exponent)
        return _binop(base, ast.Pow(), exponent)

    def factorial(self, children: list[Any]) -> ast.expr:
        return _call("factorial", *self.nodes(children))

    def percent(self, children: list[Any]) -> ast.expr:
        (value,) = self.nodes(children)
        node = _binop(value, ast.Div(), ast.Constant(100))
        unit = getattr(value, "dldeck_unit", None)
        node.dldeck_unit = unit / 100 if unit is not None else None  # type: ignore[attr-defined]
        return node

    def juxt(self, children: list[Any]) -> ast.expr:
        return self.product(self.nodes(children))

    def product(self, factors: list[ast.expr]) -> ast.expr:
        """Juxtaposed factors; an operator d/dx applies to everything after it."""
        for index, factor in enumerate(factors):
            if isinstance(factor, _Marker) and factor.what == "derivative":
                if index + 1 == len(factors):
                    raise self.error("d/dx of nothing: write the expression after it")
                body = self.differentiate(self.product(factors[index + 1 :]), factor.variables)
                factors = [*factors[:index], body]
                break
        node = factors[0]
        for factor in factors[1:]:
            node = _binop(node, ast.Mult(), factor)
        if len(factors) > 1:
            node.dldeck_factors = factors  # type: ignore[attr-defined]
        return node

    def sum(self, children: list[Any]) -> ast.expr:
        return self.big_operator("sum", children)

    def prod(self, children: list[Any]) -> ast.expr:
        return self.big_operator("product", children)

    def big_operator(self, function: str, children: list[Any]) -> ast.expr:
        parts = self.nodes(children)
        if len(parts) != 3:
            raise self.error(
                f"\\{'sum' if function == 'sum' else 'prod'} needs both bounds, as in _{{i=1}}^{{n}}"
            )
        (variable, low), high, body = parts
        spec = ast.Tuple(elts=[variable, low, high], ctx=ast.Load())
        return _call(function, body, spec)

    def unbounded(self, children: list[Any]) -> None:
        raise self.error("a sum or product is verified only with both bounds, as in \\sum_{i=1}^{n}")

    def bound(self, children: list[Any]) -> tuple[ast.expr, ast.expr]:
        name = next(c for c in children if isinstance(c, Token) and c.type == "NAME")
        rel = next(c for c in children if isinstance(c, Token) and c.type == "REL")
        if str(rel) != "==":
            raise self.error("a sum's lower bound is written i=1")
        (low,) = self.nodes(children)
        return _name(str(name).rstrip("'")), low

    def limit(self, children: list[Any]) -> ast.expr:
        variable = next(c for c in children if isinstance(c, Token) and c.type == "NAME")
        direction = next((str(c) for c in children if isinstance(c, Token) and c.type == "DIR"), "")
        point, body = self.nodes(children)
        args: list[ast.expr] = [body, _name(str(variable)), point]
        if direction:
            args.append(ast.Constant(direction))
        return _call("limit", *args)

    # ----------------------------------------------------------------- relations

    def chain(self, children: list[Any]) -> list[ast.expr] | ast.expr:
        items = self.nodes(children)
        interval = items.pop() if isinstance(items[-1], tuple) else None
        sides = items
        ops = [str(c) for c in children if isinstance(c, Token) and c.type == "REL"]
        if not ops and interval is None:
            return sides[0]  # a bare expression states nothing
        sides[0] = getattr(sides[0], "dldeck_call", sides[0])
        defines = ops[:1] == ["=="] and isinstance(sides[0], ast.Call)
        for side in sides[1:] if defines else sides:
            for node in _walk(side):
                if hasattr(node, "dldeck_unknown"):
                    raise self.error(f"unknown function {quote(node.dldeck_unknown)}: {DECLARE_HINT}")
        if defines and isinstance(sides[0].func, ast.Name):  # type: ignore[attr-defined]
            self.functions = self.functions | {sides[0].func.id}  # later relations may call it
        claims: list[ast.expr] = []
        run_start = 0
        for index, op in enumerate(ops):
            if op == "approx":
                if index > run_start:
                    claims.append(self.compare(sides[run_start : index + 1], ops[run_start:index]))
                claims.append(self.approx(sides[index], sides[index + 1]))
                run_start = index + 1
        if run_start < len(ops):
            claims.append(self.compare(sides[run_start:], ops[run_start:]))
        if interval is not None:  # `… \in (a, b]`: the last side lies in the interval
            low_op, low, high, high_op = interval
            claims.append(ast.Compare(left=low, ops=[low_op, high_op], comparators=[sides[-1], high]))
        return claims

    @staticmethod
    def compare(sides: list[ast.expr], ops: list[str]) -> ast.expr:
        return ast.Compare(left=sides[0], ops=[_COMPARE_OPS[op]() for op in ops], comparators=list(sides[1:]))

    def approx(self, left: ast.expr, right: ast.expr) -> ast.expr:
        """approx(expression, number, tol): half a unit in the number's last displayed digit."""
        for expression, number in ((left, right), (right, left)):
            shown = _displayed(number)
            if shown is not None:
                value, unit = shown
                if unit is None:
                    return _call("approx", expression, number)
                tolerance = unit / 2 / max(Fraction(1), abs(value))
                return _call("approx", expression, number, _fraction(tolerance))
        raise self.error("≈ needs a displayed number on one side, as in \\sigma(1) \\approx 0.731")

    def interval(self, children: list[Any]) -> tuple[ast.cmpop, ast.expr, ast.expr, ast.cmpop]:
        if len(children) == 1:  # \mathbb{R}, \mathbb{R}_+, \mathbb{R}_{\ge 0}
            kind = str(children[0])
            low_op = ast.LtE() if kind == "0+" else ast.Lt()
            low = _name("oo") if not kind else _int(0)
            return low_op, ast.UnaryOp(op=ast.USub(), operand=low) if not kind else low, _name("oo"), ast.Lt()
        opening, closing = children[0], children[-1]
        low, high = self.nodes(children)
        low_op = ast.Lt() if opening.type == "LPAR" else ast.LtE()
        high_op = ast.Lt() if closing.type == "RPAR" else ast.LtE()
        return low_op, low, high, high_op

    def condition_first(self, children: list[Any]) -> list[ast.expr]:
        """`\\text{for } x > 0, claim` (当 x>0 时, …): the condition comes first."""
        parts = self.nodes(children)
        return self.conditional(parts[1:] + parts[:1])

    def conditional(self, children: list[Any]) -> list[ast.expr]:
        """`claim \\text{ if } condition`: the claim is checked where the condition holds."""
        parts = self.nodes(children)
        condition = parts[-1]
        if not (
            isinstance(condition, list) and len(condition) == 1 and isinstance(condition[0], ast.Compare)
        ):
            raise self.error("a condition after `if`/`for`/`when` must be one comparison, as in x > 0")
        if len(parts) == 1 or not isinstance(parts[0], list):
            return []  # `\\text{when } x > 0`: a condition stated alone claims nothing
        return [link for claim in parts[0] for link in _under(claim, condition[0])]

    def start(self, children: list[Any]) -> list[ast.expr]:
        claims: list[ast.expr] = []
        for child in self.nodes(children):
            if isinstance(child, list):
                claims.extend(child)
        return claims


def _series(left: ast.expr, last: ast.expr) -> ast.expr | None:
    """`t_a + t_{a+1} + \\cdots + t_L` → sum(t_k, (k, a, L)) when the shown terms differ in exactly one
    whole number that counts up by one, and the last term puts a name (± a number) in its place."""
    terms: list[ast.expr] = []
    node = left
    while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and len(terms) < 8:
        terms.append(node.right)
        node = node.left
    terms.append(node)
    terms.reverse()
    if len(terms) < 3 or not (isinstance(terms[-1], _Marker) and terms[-1].what == "ellipsis"):
        return None
    shown = terms[:-1]
    counter = _counter(shown[0], shown[1])
    if counter is None:
        return None
    position, start = counter
    used = {n.id for term in [*shown, last] for n in _walk(term) if isinstance(n, ast.Name)}
    variable = next(name for name in ("k", "j", "m", "q", "r", "s") if name not in used)
    for offset, term in enumerate(shown):
        if _counter_value(shown[0], term, position) != start + offset:
            return None
    template = _replace_at(shown[0], position, _name(variable))
    same, end = _match(template, last, variable)
    if not same or end is None or not _simple_bound(end):
        return None
    return _call("sum", template, ast.Tuple(elts=[_name(variable), _int(start), end], ctx=ast.Load()))


def _nodes(node: ast.expr) -> list[ast.AST]:
    return list(_walk(node))


def _same_apart_from_constants(a: ast.AST, b: ast.AST) -> bool:
    """Same node type and, for names, the same name (operators are nodes of their own in a walk)."""
    return type(a) is type(b) and (not isinstance(a, ast.Name) or a.id == b.id)  # type: ignore[attr-defined]


def _aligned(first: ast.expr, second: ast.expr) -> tuple[list[ast.AST], list[ast.AST]] | None:
    """Both terms' nodes in walk order, when the terms have one shape (numbers may differ)."""
    a, b = _nodes(first), _nodes(second)
    if len(a) != len(b) or len(a) > 40:
        return None
    if not all(_same_apart_from_constants(x, y) for x, y in zip(a, b, strict=True)):
        return None
    return a, b


def _counter(first: ast.expr, second: ast.expr) -> tuple[int, int] | None:
    """The position (in walk order) of the one whole number by which two terms differ, and its start."""
    walks = _aligned(first, second)
    if walks is None:
        return None
    differing = [
        index for index, (x, y) in enumerate(zip(*walks, strict=True))
        if isinstance(x, ast.Constant) and x.value != y.value  # type: ignore[attr-defined]
    ]  # fmt: skip
    if len(differing) != 1:
        return None
    x, y = walks[0][differing[0]], walks[1][differing[0]]
    if not (type(x.value) is int and type(y.value) is int and y.value == x.value + 1):  # type: ignore[attr-defined]
        return None
    return differing[0], x.value  # type: ignore[attr-defined]


def _counter_value(first: ast.expr, term: ast.expr, position: int) -> int | None:
    walks = _aligned(first, term)
    value = walks[1][position] if walks is not None else None
    return value.value if isinstance(value, ast.Constant) and type(value.value) is int else None


def _replace_at(node: ast.expr, position: int, replacement: ast.expr) -> ast.expr:
    copy = copy_module.deepcopy(node)
    target = _nodes(copy)[position]
    for parent in _nodes(copy):
        for field, value in ast.iter_fields(parent):
            if value is target:
                setattr(parent, field, replacement)
                return copy
            if isinstance(value, list) and any(item is target for item in value):
                setattr(parent, field, [replacement if item is target else item for item in value])
                return copy
    return replacement  # the term is the number itself


def _match(template: ast.AST, term: ast.AST, variable: str, depth: int = 0) -> tuple[bool, ast.expr | None]:
    """Whether `term` has the shape of `template`, and the subtree standing where it has `variable`."""
    if isinstance(template, ast.Name) and template.id == variable:
        return True, term  # type: ignore[return-value]
    if depth > 20 or not _same_apart_from_constants(template, term):
        return False, None
    if isinstance(template, ast.Constant) and template.value != term.value:  # type: ignore[attr-defined]
        return False, None
    children_a, children_b = list(ast.iter_child_nodes(template)), list(ast.iter_child_nodes(term))
    if len(children_a) != len(children_b):
        return False, None
    bound: ast.expr | None = None
    for child_a, child_b in zip(children_a, children_b, strict=True):
        same, found = _match(child_a, child_b, variable, depth + 1)
        if not same or (found is not None and bound is not None and ast.dump(found) != ast.dump(bound)):
            return False, None
        bound = found if found is not None else bound
    return True, bound


def _simple_bound(node: ast.expr) -> bool:
    """n, n - 1, n + 1, 10: a bound one can read off a shown last term without guessing."""
    if isinstance(node, ast.Name) or (isinstance(node, ast.Constant) and type(node.value) is int):
        return True
    return (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Add | ast.Sub)
        and isinstance(node.left, ast.Name)
        and isinstance(node.right, ast.Constant)
        and type(node.right.value) is int
    )


_FALLBACK = {ast.Eq: 0, ast.LtE: 0, ast.GtE: 0, ast.Lt: -1, ast.Gt: 1, ast.NotEq: 1}


def _under(claim: ast.expr, condition: ast.Compare) -> list[ast.expr]:
    """`l op r` where `condition` holds: Piecewise((l, condition), (r + k, True)) op r, with k
    chosen so the comparison holds trivially elsewhere (k = 0 for ==, <=, >=; ∓1 for <, >; 1 for !=).
    A chain is split into its links, one claim each; approx (numbers only) needs no condition."""
    if not isinstance(claim, ast.Compare):
        return [claim]
    links = []
    left = claim.left
    for op, right in zip(claim.ops, claim.comparators, strict=True):
        shift = _FALLBACK[type(op)]
        elsewhere = right if shift == 0 else _binop(right, ast.Add() if shift > 0 else ast.Sub(), _int(1))
        piecewise = _call(
            "Piecewise",
            ast.Tuple(elts=[left, condition], ctx=ast.Load()),
            ast.Tuple(elts=[elsewhere, ast.Constant(True)], ctx=ast.Load()),
        )
        links.append(ast.Compare(left=piecewise, ops=[op], comparators=[right]))
        left = right
    return links


def _displayed(node: ast.expr, depth: int = 0) -> tuple[Fraction, Fraction | None] | None:
    """A number side's value and the unit of its last displayed digit (None: exact, no digits).

    Only literals, signs, ×10^k, % and fractions of literals count; anything deeper is not a number.
    """
    if depth > 6:
        return None
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    ):
        literal = getattr(node, "dldeck_literal", str(node.value))
        unit = getattr(node, "dldeck_unit", None)
        return Fraction(literal), unit
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _displayed(node.operand, depth + 1)
        if inner is None:
            return None
        return (-inner[0] if isinstance(node.op, ast.USub) else inner[0]), inner[1]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow | ast.Mult | ast.Div):
        left, right = _displayed(node.left, depth + 1), _displayed(node.right, depth + 1)
        if left is None or right is None:
            return None
        if (
            isinstance(node.op, ast.Pow)
            and left[0] == 10
            and right[0].denominator == 1
            and abs(right[0]) <= 400
        ):
            scale = Fraction(10) ** int(right[0])
            return scale, scale if left[1] is not None else None
        if isinstance(node.op, ast.Mult):
            unit = left[1] * right[0] if left[1] is not None and right[1] is not None else None
            return left[0] * right[0], unit
        if isinstance(node.op, ast.Div) and right[0] != 0:
            unit = left[1] / right[0] if left[1] is not None and right[1] is not None else None
            if right[0] != 100 and right[0].denominator == 1 and right[0] != 1:
                unit = None  # \frac{1}{3} is exact, not a rounded display
            return left[0] / right[0], unit
    return None


# --------------------------------------------------------------------------- public


_CLOZE = re.compile(r"\{\{c\d+::((?:[^{}]|\{(?!\{)|\}(?!\}))*?)(?:::(?:[^{}]|\{(?!\{)|\}(?!\}))*?)?\}\}")


def strip_cloze(tex: str) -> str:
    """`{{c1::\\tfrac14::hint}}` → `\\tfrac14`: the formula as it reads once revealed."""
    previous = None
    while previous != tex:
        previous, tex = tex, _CLOZE.sub(lambda match: match.group(1), tex)
    return tex


def read_formula(
    tex: str,
    line: int,
    *,
    functions: frozenset[str] = frozenset(),
    notation: Mapping[str, str] | None = None,
) -> list[Statement]:
    """The claims a formula states, one Statement per relation; [] for a bare expression.

    `functions` are the names callable here (so `\\sigma(x)` is a call, not σ·x); `notation`
    maps TeX snippets to check names. Raises CheckError naming what cannot be read.
    """
    if len(tex) > MAX_FORMULA_CHARS:
        raise CheckError(f"formula is longer than {MAX_FORMULA_CHARS} characters", line)
    callable_names = (frozenset(functions) | frozenset(FUNCTIONS)) - frozenset(LAYER_FUNCTIONS)
    tokenizer = _Tokenizer(tex, line, notation or {}, callable_names)
    tokenizer.guard()
    try:
        return _read(tokenizer, callable_names)
    except CheckError:
        if tokenizer.states_relation():
            raise
        return []  # `x \to \infty`, `[0, 1)`, `\|x\|`: notation, not a claim


def _read(tokenizer: _Tokenizer, callable_names: frozenset[str]) -> list[Statement]:
    tex, line = tokenizer.tex, tokenizer.line
    tokens = tokenizer.run()
    if not tokens:
        return []
    try:
        tree = parser().parse(tokens)
        bodies = _Build(callable_names, line).transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, CheckError):
            raise error.orig_exc from None
        raise CheckError(f"cannot read the formula: {error.orig_exc}", line) from None
    except UnexpectedToken as error:
        token = error.token
        if token.type == "TO":
            raise CheckError("\\to is only read inside a limit, as in \\lim_{x\\to 0}", line) from None
        if token.type == "$END":
            raise CheckError(f"the formula ends too early: {quote(_one_line(tex))}", line) from None
        where = f"(column {token.column}): {quote(_one_line(tex))}"
        raise CheckError(f"cannot read {quote(_token_text(tex, token))} here {where}", line) from None
    except (UnexpectedInput, LarkError) as error:
        raise CheckError(f"cannot read the formula {quote(_one_line(tex))}: {error}", line) from None
    return [_statement(body, tex, line) for body in bodies]


def _statement(body: ast.expr, tex: str, line: int) -> Statement:
    for node in _walk(body):
        if isinstance(node, _Marker) and node.what == "ellipsis":
            raise CheckError(
                "cannot verify an ellipsis here: write the general term, or a sum whose terms show it "
                "(1 + 2 + \\cdots + n, 1^2 + 2^2 + \\cdots + n^2)",
                line,
            )
        if isinstance(node, _Marker):
            what = "\\partial" if node.what == "partial" else "d/dx"
            raise CheckError(f"{what} only reads as part of a derivative, as in \\frac{{d}}{{dx}} f(x)", line)
    validate(ast.Expression(body=body), tex, line)
    return Statement("claim", ast.unparse(body), line, body=body)


def _walk(node: ast.AST) -> Iterator[ast.AST]:
    """ast.walk that does not descend below MAX_NESTING·4 levels (validate refuses those anyway)."""
    stack: list[tuple[ast.AST, int]] = [(node, 0)]
    while stack:
        current, depth = stack.pop()
        yield current
        if depth < MAX_NESTING * 4:
            stack.extend((child, depth + 1) for child in ast.iter_child_nodes(current))


def _token_text(tex: str, token: Token) -> str:
    start = token.start_pos or 0
    return tex[start : token.end_pos or start + 1].strip() or str(token)


def _one_line(tex: str) -> str:
    text = " ".join(tex.split())
    return text if len(text) <= 80 else text[:79] + "…"


def definition_of(statement: Statement, defined: Collection[str]) -> Statement | None:
    """`name = expr` or `f(x, y) = expr` with a new name on the left: the definition it makes."""
    body = statement.body
    if not (isinstance(body, ast.Compare) and len(body.ops) == 1 and isinstance(body.ops[0], ast.Eq)):
        return None
    head, value = body.left, body.comparators[0]
    taken = set(defined) | BUILTIN_NAMES
    signature = definition_head(head)
    if signature is None:
        return None
    name, params = signature
    if isinstance(head, ast.Call) and (not params or len(set(params)) != len(params) or set(params) & taken):
        return None
    if name in taken:
        return None
    head_text = name if not params else f"{name}({', '.join(params)})"
    return Statement(
        "define", f"{head_text} := {ast.unparse(value)}", statement.line, name=name, params=params, body=value
    )
