"""The check language: a whitelisted walk over Python's `ast`, evaluated over sympy.

Content comes from strangers, so nothing here executes source text: each statement side is
parsed with `ast.parse(..., mode="eval")`, every node is checked against a whitelist before any
evaluation, and evaluation is an explicit tree walk that only knows the names in `FUNCTIONS`,
the card's own definitions and plain symbols. Exploding inputs (huge powers, factorials,
literals, deep nesting) are refused before sympy sees them.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import sympy
from sympy import Integer, Rational

from dldeck.errors import BuildError, Diagnostic, quote
from dldeck.model import Card, SourceSpan
from dldeck.timelimit import TimeLimitExceeded

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


def parse_statement(text: str, line: int) -> Statement:
    """Classify and parse one statement; raises CheckError naming the offending text."""
    match = re.match(r"assume\s+(.*)\Z", text, re.S)
    if match:
        names_text, colon, words_text = match.group(1).partition(":")
        if not colon:
            raise CheckError(f"assume needs `names: assumptions`, got {quote(text)}", line)
        names = tuple(n.strip() for n in names_text.split(","))
        for name in names:
            if not _IDENTIFIER.match(name):
                raise CheckError(f"assume: {quote(name)} is not a symbol name", line)
            if name in FUNCTIONS or name in CONSTANTS:
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
        if isinstance(head, ast.Name):
            name, params = head.id, ()
        elif (
            isinstance(head, ast.Call)
            and isinstance(head.func, ast.Name)
            and not head.keywords
            and all(isinstance(a, ast.Name) for a in head.args)
        ):
            name = head.func.id
            params = tuple(a.id for a in head.args)  # type: ignore[attr-defined]
            if len(set(params)) != len(params):
                raise CheckError(f"repeated parameter name in {quote(head_text)}", line)
        else:
            raise CheckError(
                f"left of := must be a name or `f(x, y)` with plain parameter names, got {quote(head_text)}",
                line,
            )
        if name in FUNCTIONS or name in CONSTANTS:
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
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.Mod, ast.FloorDiv,
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
    _validate(tree, text, line)
    return tree.body


def _segment(text: str, node: ast.AST) -> str:
    return ast.get_source_segment(text, node) or type(node).__name__


def _validate(tree: ast.Expression, text: str, line: int) -> None:
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
            if isinstance(index, ast.UnaryOp) and isinstance(index.op, ast.USub):
                index = index.operand
            if not (isinstance(index, ast.Constant) and type(index.value) is int):
                raise CheckError(
                    f"only tuple indexing with a literal integer is allowed: {quote(_segment(text, node))}",
                    line,
                )
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
    literal = _segment(text, node)
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


# --------------------------------------------------------------------------- values and scope


@dataclass(frozen=True)
class Definition:
    name: str
    params: tuple[str, ...]
    body: ast.expr | None  # None for constants (value already computed)
    value: Any
    line: int
    snapshot: dict[str, Definition] = field(default_factory=dict, compare=False, repr=False)


@dataclass
class Scope:
    """Definitions and symbols of one card; check blocks of a card share one scope, in order."""

    definitions: dict[str, Definition] = field(default_factory=dict)
    symbols: dict[str, sympy.Symbol] = field(default_factory=dict)
    assumptions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    facts_root: Path | None = None
    path: str = ""
    broken: dict[str, int] = field(default_factory=dict)  # name -> line of a definition that failed
    _facts: dict[str, Any] | None = field(default=None, repr=False)

    def symbol(self, name: str) -> sympy.Symbol:
        """Symbols are real unless assumed otherwise; one Symbol object per name per card."""
        if name not in self.symbols:
            flags: dict[str, bool] = {"real": True}
            for word in self.assumptions.get(name, ()):
                flags.update(ASSUMPTION_WORDS[word])
            self.symbols[name] = sympy.Symbol(name, **flags)
        return self.symbols[name]

    def assume(self, names: tuple[str, ...], words: tuple[str, ...]) -> None:
        for name in names:
            if name in self.symbols:
                raise CheckError(f"assume {name}: the symbol was already used above; assume it first")
            if name in self.definitions:
                raise CheckError(f"assume {name}: {name} is defined with := above")
            self.assumptions[name] = tuple(dict.fromkeys(self.assumptions.get(name, ()) + words))

    def define(self, statement: Statement, evaluator: Evaluator) -> None:
        name = statement.name
        if name in self.definitions:
            raise CheckError(f"{quote(name)} is already defined (line {self.definitions[name].line})")
        if name in self.symbols or name in self.assumptions:
            raise CheckError(f"{quote(name)} is already used as a symbol above; define it before using it")
        snapshot = dict(self.definitions)
        if statement.params:
            assert statement.body is not None
            _check_names_known(statement.body, set(statement.params), snapshot)
            self.definitions[name] = Definition(
                name, statement.params, statement.body, None, statement.line, snapshot
            )
        else:
            assert statement.body is not None
            value = evaluator.evaluate(statement.body)
            self.definitions[name] = Definition(name, (), None, value, statement.line, snapshot)

    def fact(self, key: str) -> Any:
        if self._facts is None:
            self._facts = load_facts(self.facts_root)
        if key not in self._facts:
            where = f" in {facts_directory(self.facts_root)}" if self.facts_root else ""
            raise CheckError(f"unknown fact {quote(key)}{where}")
        return self._facts[key]


def _check_names_known(body: ast.expr, params: set[str], definitions: dict[str, Definition]) -> None:
    """A function body may only call built-ins and earlier definitions (no recursion)."""
    for node in ast.walk(body):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            name = node.func.id
            if name not in FUNCTIONS and name not in definitions:
                raise CheckError(f"unknown function {quote(name)}")


def facts_directory(root: Path | None) -> Path | None:
    """Facts live in `<root>/_facts` when root is the content folder, else `<root>/content/_facts`."""
    if root is None:
        return None
    for candidate in (root / "_facts", root / "content" / "_facts"):
        if candidate.is_dir():
            return candidate
    return root / "content" / "_facts"


def load_facts(root: Path | None) -> dict[str, Any]:
    """Read the reviewed fact tables; a malformed entry is an error naming the file."""
    directory = facts_directory(root)
    facts: dict[str, Any] = {}
    if directory is None or not directory.is_dir():
        return facts
    for path in sorted(directory.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as error:
            raise CheckError(f"{path}: cannot read facts: {error}") from None
        for key, entry in data.items():
            if not isinstance(entry, dict) or "value" not in entry or "source" not in entry:
                raise CheckError(f"{path}: fact {quote(key)} needs `value` and `source`")
            if key in facts:
                raise CheckError(f"{path}: fact {quote(key)} is defined twice")
            facts[key] = _fact_value(entry["value"], path, key)
    return facts


def _fact_value(value: Any, path: Path, key: str) -> Any:
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return Integer(value)
    if isinstance(value, float):
        exact = Fraction(repr(value))
        return Rational(exact.numerator, exact.denominator)
    raise CheckError(f"{path}: fact {quote(key)} must be a number, boolean or string")


# --------------------------------------------------------------------------- evaluation


class Evaluator:
    """Walks a validated AST. Values: sympy objects, tuples, bools, strings, layers."""

    def __init__(self, scope: Scope, text: str = ""):
        self.scope = scope
        self.text = text
        self.depth = 0

    def evaluate(
        self,
        node: ast.expr,
        env: dict[str, Any] | None = None,
        definitions: dict[str, Definition] | None = None,
    ) -> Any:
        return self._eval(node, env or {}, self.scope.definitions if definitions is None else definitions)

    def _eval(self, node: ast.expr, env: dict[str, Any], defs: dict[str, Definition]) -> Any:
        if isinstance(node, ast.Constant):
            return getattr(node, "dldeck_value", node.value)
        if isinstance(node, ast.Name):
            return self._name(node.id, env, defs)
        if isinstance(node, ast.BinOp):
            return binary(node.op, self._eval(node.left, env, defs), self._eval(node.right, env, defs))
        if isinstance(node, ast.UnaryOp):
            operand = self._eval(node.operand, env, defs)
            if isinstance(node.op, ast.Not):
                return _not(operand)
            value = expect_expr(operand, "operand of unary minus")
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.Tuple | ast.List):
            return tuple(self._eval(element, env, defs) for element in node.elts)
        if isinstance(node, ast.Subscript):
            return self._subscript(node, env, defs)
        if isinstance(node, ast.Compare):
            return self._relational(node, env, defs)
        if isinstance(node, ast.BoolOp):
            values = [self._eval(v, env, defs) for v in node.values]
            return sympy.And(*values) if isinstance(node.op, ast.And) else sympy.Or(*values)
        if isinstance(node, ast.Call):
            return self._call(node, env, defs)
        raise CheckError(f"{type(node).__name__} is not allowed")  # unreachable after validation

    def _name(self, name: str, env: dict[str, Any], defs: dict[str, Definition]) -> Any:
        if name in env:
            return env[name]
        self._not_broken(name, defs)
        if name in defs:
            definition = defs[name]
            if definition.params:
                raise CheckError(f"{quote(name)} is a function of {', '.join(definition.params)}; call it")
            return definition.value
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in FUNCTIONS:
            raise CheckError(f"{quote(name)} is a function; call it, e.g. {name}(x)")
        return self.scope.symbol(name)

    def _not_broken(self, name: str, defs: dict[str, Definition]) -> None:
        if name in self.scope.broken and name not in defs:
            raise CheckError(
                f"{quote(name)} is not defined: its definition on line {self.scope.broken[name]} failed"
            )

    def _subscript(self, node: ast.Subscript, env: dict[str, Any], defs: dict[str, Definition]) -> Any:
        container = self._eval(node.value, env, defs)
        if not isinstance(container, tuple):
            raise CheckError("only tuples and lists can be indexed")
        index_node = node.slice
        sign = 1
        if isinstance(index_node, ast.UnaryOp):
            sign, index_node = -1, index_node.operand
        assert isinstance(index_node, ast.Constant)
        index = sign * int(index_node.value)
        if not -len(container) <= index < len(container):
            raise CheckError(f"index {index} out of range for a tuple of {len(container)}")
        return container[index]

    def _relational(self, node: ast.Compare, env: dict[str, Any], defs: dict[str, Definition]) -> Any:
        left = self._eval(node.left, env, defs)
        parts = []
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self._eval(comparator, env, defs)
            parts.append(relation(op, left, right))
            left = right
        return parts[0] if len(parts) == 1 else sympy.And(*parts)

    def _call(self, node: ast.Call, env: dict[str, Any], defs: dict[str, Definition]) -> Any:
        assert isinstance(node.func, ast.Name)
        name = node.func.id
        args = [self._eval(a, env, defs) for a in node.args]
        kwargs = {k.arg: self._eval(k.value, env, defs) for k in node.keywords if k.arg}
        if name in env:
            raise CheckError(f"{quote(name)} is a parameter, not a function")
        self._not_broken(name, defs)
        if name in defs and defs[name].params:
            return self._call_definition(defs[name], args, kwargs)
        if name in defs:
            raise CheckError(f"{quote(name)} is a constant, not a function")
        if name in FUNCTIONS:
            return FUNCTIONS[name](self, args, kwargs)
        raise CheckError(f"unknown function {quote(name)}")

    def _call_definition(self, definition: Definition, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if kwargs:
            raise CheckError(f"{definition.name}() takes no keyword arguments")
        if len(args) != len(definition.params):
            raise CheckError(
                f"{definition.name}() takes {len(definition.params)} argument(s), got {len(args)}"
            )
        if self.depth > MAX_CALL_DEPTH:
            raise CheckError("function calls nested too deeply")
        self.depth += 1
        try:
            assert definition.body is not None
            return self._eval(
                definition.body, dict(zip(definition.params, args, strict=True)), definition.snapshot
            )
        finally:
            self.depth -= 1


# --------------------------------------------------------------------------- operators


def expect_expr(value: Any, what: str) -> sympy.Expr:
    if isinstance(value, sympy.Expr):
        return value
    raise CheckError(f"{what} must be a number or expression, got {describe(value)}")


def short(value: Any, limit: int = 60) -> str:
    """A value as an author reads it, cut to one short line."""
    text = sympy.sstr(value) if isinstance(value, sympy.Basic) else str(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, tuple):
        return f"a tuple of {len(value)}"
    if isinstance(value, sympy.Basic):
        return short(value)
    return type(value).__name__


def check_size(value: Any) -> Any:
    if isinstance(value, sympy.Rational):
        bits = max(int(value.p).bit_length(), int(value.q).bit_length())
        if bits > MAX_RESULT_BITS:
            raise CheckError(f"number too large (over {MAX_RESULT_BITS} bits): refused")
    return value


def guarded_pow(base: sympy.Expr, exponent: sympy.Expr) -> sympy.Expr:
    """Refuse powers that would take sympy minutes or gigabytes before computing them."""
    if exponent.is_Number:
        if exponent.is_finite and abs(exponent) > MAX_POWER_EXPONENT:
            raise CheckError(f"exponent {short(exponent)} is too large (limit {MAX_POWER_EXPONENT})")
        if base.is_Rational and exponent.is_Rational:
            base_bits = max(int(base.p).bit_length(), int(base.q).bit_length())  # type: ignore[attr-defined]
            if base_bits * abs(float(exponent)) > MAX_RESULT_BITS:
                raise CheckError(f"power too large: {short(base)}**{short(exponent)} refused")
    elif isinstance(exponent, sympy.Pow) and isinstance(exponent.exp, sympy.Pow):
        raise CheckError("power tower refused")
    return check_size(base**exponent)


def binary(op: ast.operator, left: Any, right: Any) -> Any:
    symbol = {
        ast.Add: "+",
        ast.Sub: "-",
        ast.Mult: "*",
        ast.Div: "/",
        ast.Pow: "**",
        ast.Mod: "%",
        ast.FloorDiv: "//",
    }[type(op)]
    a = expect_expr(left, f"left operand of {symbol}")
    b = expect_expr(right, f"right operand of {symbol}")
    if isinstance(op, ast.Add):
        return check_size(a + b)
    if isinstance(op, ast.Sub):
        return check_size(a - b)
    if isinstance(op, ast.Mult):
        return check_size(a * b)
    if isinstance(op, ast.Div):
        return check_size(a / b)
    if isinstance(op, ast.Pow):
        return guarded_pow(a, b)
    if isinstance(op, ast.Mod):
        return sympy.Mod(a, b)
    return sympy.floor(a / b)


def relation(op: ast.cmpop, left: Any, right: Any) -> Any:
    """A comparison inside an expression (e.g. a Piecewise condition) becomes a sympy relational."""
    if isinstance(op, ast.Eq | ast.NotEq):
        if not (isinstance(left, sympy.Basic) and isinstance(right, sympy.Basic)):
            same = left == right
            return sympy.true if same == isinstance(op, ast.Eq) else sympy.false
        return sympy.Eq(left, right) if isinstance(op, ast.Eq) else sympy.Ne(left, right)
    a = expect_expr(left, "left side of a comparison")
    b = expect_expr(right, "right side of a comparison")
    return {ast.Lt: sympy.Lt, ast.LtE: sympy.Le, ast.Gt: sympy.Gt, ast.GtE: sympy.Ge}[type(op)](a, b)


def _not(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, sympy.Basic) and value.is_Boolean:  # type: ignore[attr-defined]
        return sympy.Not(value)
    raise CheckError(f"`not` needs a condition, got {describe(value)}")


# --------------------------------------------------------------------------- built-in functions

Builtin = Callable[[Evaluator, list[Any], dict[str, Any]], Any]


def _arity(name: str, args: list[Any], kwargs: dict[str, Any], low: int, high: int) -> None:
    if kwargs:
        raise CheckError(f"{name}() takes no keyword arguments (got {', '.join(kwargs)})")
    if not low <= len(args) <= high:
        wanted = str(low) if low == high else f"{low} to {high}"
        raise CheckError(f"{name}() takes {wanted} argument(s), got {len(args)}")


def _sympy_function(name: str, function: Callable[..., Any], low: int = 1, high: int = 1) -> Builtin:
    def call(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
        _arity(name, args, kwargs, low, high)
        return check_size(function(*(expect_expr(a, f"argument of {name}()") for a in args)))

    return call


def _variadic(name: str, function: Callable[..., Any]) -> Builtin:
    def call(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
        _arity(name, args, kwargs, 1, 64)
        return function(*(expect_expr(a, f"argument of {name}()") for a in args))

    return call


def _factorial(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    _arity("factorial", args, kwargs, 1, 1)
    n = expect_expr(args[0], "argument of factorial()")
    if n.is_Number and abs(n) > MAX_FACTORIAL_ARG:
        raise CheckError(f"factorial of {short(n)} refused (limit {MAX_FACTORIAL_ARG})")
    return sympy.factorial(n)


def _binomial(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    _arity("binomial", args, kwargs, 2, 2)
    n, k = (expect_expr(a, "argument of binomial()") for a in args)
    for value in (n, k):
        if value.is_Number and abs(value) > MAX_FACTORIAL_ARG:
            raise CheckError(f"binomial of {short(value)} refused (limit {MAX_FACTORIAL_ARG})")
    return sympy.binomial(n, k)


def _symbol_arg(value: Any, function: str) -> sympy.Symbol:
    if isinstance(value, sympy.Symbol):
        return value
    raise CheckError(f"{function}(): the variable must be a plain symbol, got {describe(value)}")


def _diff(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    _arity("diff", args, kwargs, 2, 3)
    f = expect_expr(args[0], "diff() expression")
    x = _symbol_arg(args[1], "diff")
    order = Integer(1)
    if len(args) == 3:
        order = expect_expr(args[2], "diff() order")
        if not (order.is_Integer and 0 <= order <= 20):
            raise CheckError("diff(): the order must be an integer from 0 to 20")
    return sympy.diff(f, x, int(order))


def _limit(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    _arity("limit", args, kwargs, 3, 4)
    f = expect_expr(args[0], "limit() expression")
    x = _symbol_arg(args[1], "limit")
    point = expect_expr(args[2], "limit() point")
    direction = args[3] if len(args) == 4 else "+-"
    if direction not in ("+", "-", "+-"):
        raise CheckError("limit(): the direction must be '+', '-' or '+-'")
    if point in (sympy.oo, -sympy.oo) and direction == "+-":
        direction = "+"
    return sympy.limit(f, x, point, direction)


def _integrate(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    _arity("integrate", args, kwargs, 2, 2)
    f = expect_expr(args[0], "integrate() expression")
    spec = args[1]
    if isinstance(spec, tuple):
        if len(spec) != 3:
            raise CheckError("integrate(f, (x, a, b)) needs a variable and two bounds")
        x = _symbol_arg(spec[0], "integrate")
        a, b = (expect_expr(v, "integration bound") for v in spec[1:])
        return sympy.integrate(f, (x, a, b))
    return sympy.integrate(f, _symbol_arg(spec, "integrate"))


def _sum(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    _arity("sum", args, kwargs, 2, 2)
    f = expect_expr(args[0], "sum() expression")
    spec = args[1]
    if not (isinstance(spec, tuple) and len(spec) == 3):
        raise CheckError("sum(f, (k, a, b)) needs a variable and two bounds")
    k = _symbol_arg(spec[0], "sum")
    a, b = (expect_expr(v, "summation bound") for v in spec[1:])
    return sympy.Sum(f, (k, a, b)).doit()


def domain_of(x: sympy.Symbol) -> sympy.Set:
    """The set a symbol ranges over, from its assumptions (maximum/argmax search there)."""
    if x.is_integer:
        if x.is_positive:
            return sympy.S.Naturals
        if x.is_nonnegative:
            return sympy.S.Naturals0
        return sympy.S.Integers
    if x.is_positive:
        return sympy.Interval.open(0, sympy.oo)
    if x.is_nonnegative:
        return sympy.Interval(0, sympy.oo)
    if x.is_negative:
        return sympy.Interval.open(-sympy.oo, 0)
    return sympy.S.Reals


def _extremum(name: str) -> Builtin:
    from sympy.calculus.util import maximum, minimum

    def call(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
        _arity(name, args, kwargs, 2, 2)
        f = expect_expr(args[0], f"{name}() expression")
        x = _symbol_arg(args[1], name)
        finder = maximum if name in ("maximum", "argmax") else minimum
        domain = domain_of(x)
        if domain.is_subset(sympy.S.Integers):
            raise CheckError(f"{name}(): {x} is an integer; extrema are only searched over real intervals")
        try:
            value = finder(f, x, domain)
        except (NotImplementedError, ValueError) as error:
            raise CheckError(f"{name}(): sympy cannot find the extremum: {error}") from None
        if name in ("maximum", "minimum"):
            return value
        return _arg_extremum(name, f, x, domain, value)

    return call


def _arg_extremum(name: str, f: sympy.Expr, x: sympy.Symbol, domain: sympy.Set, value: sympy.Expr) -> Any:
    candidates = sympy.solveset(sympy.diff(f, x), x, domain)
    points: list[sympy.Expr] = []
    if isinstance(candidates, sympy.FiniteSet):
        points.extend(candidates)
    if isinstance(domain, sympy.Interval):
        points.extend(p for p in (domain.start, domain.end) if p.is_finite and p in domain)
    hits = [p for p in points if sympy.simplify(f.subs(x, p) - value) == 0]
    if not hits:
        raise CheckError(
            f"{name}(): the {'maximum' if name == 'argmax' else 'minimum'} "
            f"{sympy.sstr(value)} is not attained at a point sympy can find"
        )
    unique = list(dict.fromkeys(hits))
    return unique[0] if len(unique) == 1 else tuple(sorted(unique, key=sympy.default_sort_key))


def _subs(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    _arity("subs", args, kwargs, 3, 3)
    f = expect_expr(args[0], "subs() expression")
    x = _symbol_arg(args[1], "subs")
    value = expect_expr(args[2], "subs() value")
    _refuse_exploding_substitution(f, x, value)
    return check_size(f.subs(x, value))


def _refuse_exploding_substitution(f: sympy.Expr, x: sympy.Symbol, value: sympy.Expr) -> None:
    """`subs(2**x, x, 10**9)` would compute a 10**9-bit integer: apply the power/factorial limits."""
    for power in f.atoms(sympy.Pow):
        if x in power.exp.free_symbols and power.base.is_Number:
            guarded_pow(power.base, power.exp.subs(x, value)) if power.exp != x else guarded_pow(
                power.base, value
            )
    for node in f.atoms(sympy.factorial, sympy.binomial):
        for arg in node.args:
            if x in arg.free_symbols:
                substituted = arg.subs(x, value)
                if substituted.is_Number and abs(substituted) > MAX_FACTORIAL_ARG:
                    raise CheckError(
                        f"{type(node).__name__} of {short(substituted)} refused (limit {MAX_FACTORIAL_ARG})"
                    )


def _expand(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    _arity("expand", args, kwargs, 1, 1)
    return sympy.expand(expect_expr(args[0], "expand() argument"))


def _simplify(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    _arity("simplify", args, kwargs, 1, 1)
    return sympy.simplify(expect_expr(args[0], "simplify() argument"))


def _piecewise(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    _arity("Piecewise", args, kwargs, 1, 32)
    pieces = []
    for arg in args:
        if not (isinstance(arg, tuple) and len(arg) == 2):
            raise CheckError("Piecewise((expr, condition), ...) takes (value, condition) pairs")
        value = expect_expr(arg[0], "Piecewise value")
        condition = sympy.true if arg[1] is True else sympy.false if arg[1] is False else arg[1]
        pieces.append((value, condition))
    return sympy.Piecewise(*pieces)


def _approx_outside_claim(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    raise CheckError("approx(...) is a claim on its own line, not part of an expression")


def _fact(evaluator: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    _arity("fact", args, kwargs, 1, 1)
    if not isinstance(args[0], str):
        raise CheckError("fact() takes the key as a string, e.g. fact('adam.eps.default')")
    return evaluator.scope.fact(args[0])


CONSTANTS: dict[str, Any] = {"pi": sympy.pi, "E": sympy.E, "oo": sympy.oo, "I": sympy.I}

FUNCTIONS: dict[str, Builtin] = {
    "exp": _sympy_function("exp", sympy.exp),
    "log": _sympy_function("log", sympy.log, 1, 2),
    "sqrt": _sympy_function("sqrt", sympy.sqrt),
    "sin": _sympy_function("sin", sympy.sin),
    "cos": _sympy_function("cos", sympy.cos),
    "tan": _sympy_function("tan", sympy.tan),
    "tanh": _sympy_function("tanh", sympy.tanh),
    "sinh": _sympy_function("sinh", sympy.sinh),
    "cosh": _sympy_function("cosh", sympy.cosh),
    "atan": _sympy_function("atan", sympy.atan),
    "erf": _sympy_function("erf", sympy.erf),
    "abs": _sympy_function("abs", sympy.Abs),
    "sign": _sympy_function("sign", sympy.sign),
    "floor": _sympy_function("floor", sympy.floor),
    "ceiling": _sympy_function("ceiling", sympy.ceiling),
    "Heaviside": _sympy_function("Heaviside", sympy.Heaviside, 1, 2),
    "Max": _variadic("Max", sympy.Max),
    "Min": _variadic("Min", sympy.Min),
    "Piecewise": _piecewise,
    "factorial": _factorial,
    "binomial": _binomial,
    "sum": _sum,
    "Sum": _sum,
    "diff": _diff,
    "limit": _limit,
    "integrate": _integrate,
    "maximum": _extremum("maximum"),
    "minimum": _extremum("minimum"),
    "argmax": _extremum("argmax"),
    "argmin": _extremum("argmin"),
    "subs": _subs,
    "simplify": _simplify,
    "expand": _expand,
    "approx": _approx_outside_claim,
    "fact": _fact,
}


def register(functions: dict[str, Builtin]) -> None:
    """Layer arithmetic (layers.py) adds its constructors and queries here."""
    FUNCTIONS.update(functions)


# --------------------------------------------------------------------------- public entry points


def statements_of_card(card: Card) -> Iterator[Statement | CheckError]:
    """Every statement of every check block of a card, in order; parse errors are yielded, not raised."""
    for block in card.checks:
        try:
            for line, text in split_statements(block.source, block.line_of(0)):
                if isinstance(text, CheckError):
                    yield text
                    continue
                try:
                    yield parse_statement(text, line)
                except CheckError as error:
                    error.line = error.line or line
                    error.text = text
                    yield error
        except CheckError as error:
            error.line = error.line or block.span.line
            yield error


def execute_definition(statement: Statement, scope: Scope) -> None:
    """Run an assume or := statement; raises CheckError."""
    if statement.kind == "assume":
        scope.assume(statement.assumed, statement.assumptions)
    elif statement.kind == "define":
        try:
            scope.define(statement, Evaluator(scope, statement.text))
        except Exception:
            scope.broken.setdefault(statement.name, statement.line)
            raise


def new_scope(card: Card, facts_root: Path | None) -> Scope:
    return Scope(facts_root=facts_root, path=card.span.path)


def scope_for_card(card: Card, facts_root: Path | None = None) -> Scope:
    """Run a card's assumptions and definitions (no claims), for figures that use them."""
    scope = new_scope(card, facts_root)
    diagnostics: list[Diagnostic] = []
    for item in statements_of_card(card):
        if isinstance(item, CheckError):
            diagnostics.append(Diagnostic(card.span.path, item.line or card.span.line, item.message))
            continue
        try:
            execute_definition(item, scope)
        except CheckError as error:
            diagnostics.append(Diagnostic(card.span.path, item.line, error.message))
        except (RecursionError, MemoryError, TypeError, ValueError, ZeroDivisionError) as error:
            diagnostics.append(
                Diagnostic(
                    card.span.path, item.line, f"cannot evaluate {quote(item.text)}: {type(error).__name__}"
                )
            )
    if diagnostics:
        raise BuildError(diagnostics)
    return scope


def evaluate_expression(text: str, scope: Scope, span: SourceSpan) -> sympy.Basic:
    """Evaluate one expression (e.g. a figure's `plot:` entry) with the card's definitions."""
    try:
        for char in text:
            if char == "\n":
                raise CheckError(f"an expression must be on one line: {quote(text)}")
        if len(text) > MAX_LINE_CHARS:
            raise CheckError(f"expression is longer than {MAX_LINE_CHARS} characters")
        node = parse_expression(text.strip(), span.line)
        value = Evaluator(scope, text).evaluate(node)
        if isinstance(value, tuple):
            value = sympy.Tuple(*value)
        if not isinstance(value, sympy.Basic):
            raise CheckError(f"{quote(text)} is {describe(value)}, not a mathematical expression")
        return value
    except CheckError as error:
        raise BuildError([Diagnostic(span.path, span.line, error.message)]) from None
    except (RecursionError, MemoryError, TypeError, ValueError, ZeroDivisionError) as error:
        raise BuildError(
            [Diagnostic(span.path, span.line, f"cannot evaluate {quote(text)}: {type(error).__name__}")]
        ) from None
    except TimeLimitExceeded:
        raise
    except Exception as error:  # noqa: BLE001 - sympy raises anything (NotImplementedError, …): a message, not a trace
        message = f"sympy could not evaluate {quote(text)}: {type(error).__name__}: {quote(str(error), 120)}"
        raise BuildError([Diagnostic(span.path, span.line, message)]) from None


# Layer arithmetic registers its names into FUNCTIONS; imported last because it builds on this module.
from dldeck.verify import layers as _layers  # noqa: E402, F401
