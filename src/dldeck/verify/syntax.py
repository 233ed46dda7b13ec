"""The check language's reader: statements, the node whitelist and the limits on literals.

Content comes from strangers, so nothing here executes source text: each statement side is
parsed with `ast.parse(..., mode="eval")` and every node is checked against a whitelist before any
evaluation. The TeX reader (tex.py) builds the same `ast` nodes and passes them through the same
`validate`, so both readers share one expression model and one set of limits.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from fractions import Fraction

from sympy import Integer, Rational

from dldeck.errors import quote

# --------------------------------------------------------------------------- limits

MAX_LINE_CHARS = 2_000
MAX_NESTING = 50
MAX_INT_DIGITS = 100
MAX_FLOAT_EXPONENT = 400
MAX_POWER_EXPONENT = 10_000
MAX_POWER_TOWER = 3
MAX_RESULT_BITS = 100_000
MAX_FACTORIAL_ARG = 1_000
MAX_CALL_DEPTH = 100
MAX_MATRIX_SIZE = 16  # rows and columns of a matrix value

ASSUMPTION_WORDS = {
    "real": {"real": True},
    "positive": {"positive": True},
    "negative": {"negative": True},
    "nonnegative": {"nonnegative": True},
    "nonzero": {"nonzero": True},
    "integer": {"integer": True},
}


class CheckError(Exception):
    """A problem in one statement; `line` is filled in by whoever knows the block position."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.text = ""  # the statement, when known


# --------------------------------------------------------------------------- statements


@dataclass(frozen=True)
class Statement:
    """One logical line of a check block (continued while brackets are open)."""

    kind: str  # "assume" | "define" | "claim"
    text: str
    line: int
    name: str = ""
    params: tuple[str, ...] = ()
    body: ast.expr | None = None
    assumed: tuple[str, ...] = ()
    assumptions: tuple[str, ...] = ()


def split_statements(source: str, first_line: int) -> Iterator[tuple[int, str | CheckError]]:
    """Yield (line, text) per statement: comments stripped, bracket continuation joined.

    A string never contains a bracket or `#` that counts: quotes are tracked character by
    character. A line that cannot start or continue a statement yields (line, CheckError) and the
    next line starts afresh, so one bad line does not hide the rest of the block.
    """
    pending: list[str] = []
    start = 0
    depth = 0
    skipping = False
    for index, raw in enumerate(source.splitlines()):
        line = first_line + index
        problem = ""
        kept: list[str] = []
        in_string = ""
        if len(raw) > MAX_LINE_CHARS:
            problem = f"line is longer than {MAX_LINE_CHARS} characters"
        for char in "" if problem else raw:
            if in_string:
                if char == in_string:
                    in_string = ""
            elif char in "'\"":
                in_string = char
            elif char == "#":
                break
            elif char in "([{":
                depth += 1
                if depth > MAX_NESTING and not skipping:
                    problem = f"brackets nested deeper than {MAX_NESTING} levels"
            elif char in ")]}":
                depth -= 1
            kept.append(char)
        if in_string and not problem:
            problem = f"unterminated string in {quote(raw)}"
        if problem:
            yield (start if pending else line), CheckError(problem, start if pending else line)
            pending = []
            skipping = depth > 0 and not in_string  # drop the rest of the over-deep statement
            if not skipping:
                depth = 0
            continue
        if skipping:
            if depth <= 0:
                skipping, depth = False, 0
            continue
        text = "".join(kept).rstrip()
        if not pending:
            if not text.strip():
                depth = max(depth, 0)
                continue
            start = line
        pending.append(text)
        if depth <= 0:
            yield start, "\n".join(pending).strip()
            pending = []
            depth = 0
    if pending:
        yield start, "\n".join(pending).strip()


_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


def _find_top_level_walrus(text: str) -> int:
    depth = 0
    in_string = ""
    for i, char in enumerate(text):
        if in_string:
            if char == in_string:
                in_string = ""
        elif char in "'\"":
            in_string = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == ":" and depth == 0 and text[i + 1 : i + 2] == "=":
            return i
    return -1


def definition_head(head: ast.expr) -> tuple[str, tuple[str, ...]] | None:
    """`name` or `f(x, y)` (plain parameter names) as (name, params); None for any other shape."""
    if isinstance(head, ast.Name):
        return head.id, ()
    if (
        isinstance(head, ast.Call)
        and isinstance(head.func, ast.Name)
        and not head.keywords
        and all(isinstance(a, ast.Name) for a in head.args)
    ):
        return head.func.id, tuple(a.id for a in head.args)  # type: ignore[attr-defined]
    return None


def parse_statement(text: str, line: int, builtins: Collection[str]) -> Statement:
    """Classify and parse one statement; raises CheckError naming the offending text.

    `builtins` are the names an `assume` or `:=` may not take (the library's functions and constants).
    """
    match = re.match(r"assume\s+(.*)\Z", text, re.S)
    if match:
        names_text, colon, words_text = match.group(1).partition(":")
        if not colon:
            raise CheckError(f"assume needs `names: assumptions`, got {quote(text)}", line)
        names = tuple(n.strip() for n in names_text.split(","))
        for name in names:
            if not _IDENTIFIER.match(name):
                raise CheckError(f"assume: {quote(name)} is not a symbol name", line)
            if name in builtins:
                raise CheckError(f"assume: {quote(name)} is a built-in name", line)
        words = tuple(w for w in re.split(r"[\s,]+", words_text.strip()) if w)
        if not words:
            raise CheckError(f"assume: no assumptions given in {quote(text)}", line)
        for word in words:
            if word not in ASSUMPTION_WORDS:
                known = ", ".join(sorted(ASSUMPTION_WORDS))
                raise CheckError(f"assume: unknown assumption {quote(word)} (known: {known})", line)
        return Statement("assume", text, line, assumed=names, assumptions=words)

    walrus = _find_top_level_walrus(text)
    if walrus >= 0:
        head_text, body_text = text[:walrus].strip(), text[walrus + 2 :].strip()
        head = parse_expression(head_text, line)
        signature = definition_head(head)
        if signature is None:
            raise CheckError(
                f"left of := must be a name or `f(x, y)` with plain parameter names, got {quote(head_text)}",
                line,
            )
        name, params = signature
        if len(set(params)) != len(params):
            raise CheckError(f"repeated parameter name in {quote(head_text)}", line)
        if name in builtins:
            raise CheckError(f"cannot redefine the built-in {quote(name)}", line)
        if not body_text:
            raise CheckError(f"nothing to the right of := in {quote(text)}", line)
        body = parse_expression(body_text, line)
        return Statement("define", text, line, name=name, params=params, body=body)

    return Statement("claim", text, line, body=parse_expression(text, line))


# --------------------------------------------------------------------------- whitelist

_ALLOWED_NODES = (
    ast.Expression, ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp, ast.Call, ast.keyword,
    ast.Name, ast.Load, ast.Constant, ast.Tuple, ast.List, ast.Subscript,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.Mod, ast.FloorDiv, ast.MatMult,
    ast.USub, ast.UAdd, ast.Not, ast.And, ast.Or,
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE,
)  # fmt: skip

_NODE_WORDS = {
    ast.Attribute: "attribute access",
    ast.Lambda: "lambda",
    ast.ListComp: "comprehension",
    ast.SetComp: "comprehension",
    ast.DictComp: "comprehension",
    ast.GeneratorExp: "comprehension",
    ast.JoinedStr: "f-string",
    ast.Starred: "starred argument",
    ast.NamedExpr: ":= inside an expression",
    ast.IfExp: "if-expression",
    ast.Dict: "dict",
    ast.Set: "set",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.Slice: "slice",
}


def parse_expression(text: str, line: int) -> ast.expr:
    """Parse one side of a statement and check it against the whitelist before anything runs."""
    if len(text) > MAX_LINE_CHARS * 4:
        raise CheckError("statement is too long", line)
    depth = 0
    for char in text:
        if char in "([{":
            depth += 1
            if depth > MAX_NESTING:
                raise CheckError(f"brackets nested deeper than {MAX_NESTING} levels", line)
        elif char in ")]}":
            depth -= 1
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as error:
        column = f" (column {error.offset})" if error.offset else ""
        raise CheckError(f"cannot parse {quote(text)}{column}: {error.msg}", line) from None
    except (ValueError, MemoryError, RecursionError) as error:
        raise CheckError(f"cannot parse {quote(text)}: {error}", line) from None
    validate(tree, text, line)
    return tree.body


def literal_index(node: ast.AST) -> int | None:
    """The value of a literal integer index (`2`, `-1`), else None."""
    sign = 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        sign, node = -1, node.operand
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return sign * node.value
    return None


def _segment(text: str, node: ast.AST) -> str:
    return ast.get_source_segment(text, node) or type(node).__name__


def validate(tree: ast.Expression, text: str, line: int) -> None:
    """Refuse any node, name, literal or power tower outside the whitelist; store exact literal values."""
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING * 2:
            raise CheckError(f"expression nested deeper than {MAX_NESTING} levels", line)
        if not isinstance(node, _ALLOWED_NODES):
            word = _NODE_WORDS.get(type(node), type(node).__name__)
            raise CheckError(f"{word} is not allowed in a check: {quote(_segment(text, node))}", line)
        if isinstance(node, ast.Name):
            if node.id.startswith("_"):
                raise CheckError(f"names starting with _ are not allowed: {quote(node.id)}", line)
        elif isinstance(node, ast.Constant):
            _convert_constant(node, text, line)
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) and type(node.func) in _NODE_WORDS:
                word = _NODE_WORDS[type(node.func)]
                raise CheckError(
                    f"{word} is not allowed in a check: {quote(_segment(text, node.func))}", line
                )
            if not isinstance(node.func, ast.Name):
                raise CheckError(
                    f"only named functions can be called: {quote(_segment(text, node.func))}", line
                )
            for keyword in node.keywords:
                if keyword.arg is None:
                    raise CheckError(f"**arguments are not allowed: {quote(_segment(text, node))}", line)
                if keyword.arg.startswith("_"):
                    raise CheckError(f"names starting with _ are not allowed: {quote(keyword.arg)}", line)
        elif isinstance(node, ast.Subscript):
            index = node.slice
            parts = index.elts if isinstance(index, ast.Tuple) and len(index.elts) == 2 else [index]
            if not all(literal_index(part) is not None for part in parts):
                raise CheckError(
                    "only indexing with literal integers is allowed (t[0], M[0, 1]): "
                    f"{quote(_segment(text, node))}",
                    line,
                )
            stack.append((node.value, depth + 1))  # the index is literal: only the container is visited
            continue
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            height, probe = 1, node.right
            while isinstance(probe, ast.BinOp) and isinstance(probe.op, ast.Pow):
                height, probe = height + 1, probe.right
            if height >= MAX_POWER_TOWER:
                raise CheckError(f"power tower refused: {quote(_segment(text, node))}", line)
        for child in ast.iter_child_nodes(node):
            stack.append((child, depth + 1))


def _convert_constant(node: ast.Constant, text: str, line: int) -> None:
    """Store the exact value of a numeric literal on the node: `10e-8` is exactly 1/10**7."""
    value = node.value
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    literal = getattr(node, "dldeck_literal", None) or _segment(text, node)  # TeX numbers carry theirs
    if isinstance(value, int):
        if len(str(abs(value))) > MAX_INT_DIGITS:
            raise CheckError(f"integer literal longer than {MAX_INT_DIGITS} digits", line)
        node.dldeck_value = Integer(value)  # type: ignore[attr-defined]
    elif isinstance(value, float):
        cleaned = literal.replace("_", "")
        exponent = re.search(r"[eE]([+-]?\d+)", cleaned)
        if exponent and abs(int(exponent.group(1))) > MAX_FLOAT_EXPONENT:
            raise CheckError(f"number literal out of range: {quote(literal)}", line)
        if len(cleaned) > MAX_INT_DIGITS + 10:
            raise CheckError(f"number literal longer than {MAX_INT_DIGITS} digits", line)
        exact = Fraction(cleaned)
        node.dldeck_value = Rational(exact.numerator, exact.denominator)  # type: ignore[attr-defined]
    else:
        raise CheckError(f"{type(value).__name__} literals are not allowed: {quote(literal)}", line)
