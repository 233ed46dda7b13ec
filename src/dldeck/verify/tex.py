"""The TeX reader: the formulas a learner reads, read into the check language's expression model.

Two readers, one model: `read_formula` turns `\\sigma'(x)=\\sigma(x)\\bigl(1-\\sigma(x)\\bigr)` into
the same `ast` nodes that the check line `diff(sigma(x), x) == sigma(x)*(1 - sigma(x))` parses to;
they pass the same whitelist (`syntax.validate`) and are decided by the same evaluator. Nothing is
executed and no text goes to sympy: a tokenizer (tex_tokens.py) classifies TeX commands and
refuses macro definitions, an LALR grammar (tex.lark, linear time, no recursion) gives the
structure, and a non-recursive transformer (here) builds the nodes, with the TeX idioms that need
more than one node (ellipsis sums, conditions, displayed precision) in tex_idioms.py. Limits:
length, symbols, nesting, and everything the whitelist already limits (literals, towers, depth).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection, Iterator, Mapping
from fractions import Fraction
from functools import lru_cache
from importlib import resources
from typing import Any

from lark import Lark, Token, Transformer_NonRecursive
from lark.exceptions import LarkError, UnexpectedInput, UnexpectedToken, VisitError
from lark.lexer import Lexer

from dldeck.errors import quote
from dldeck.verify import conditions
from dldeck.verify.layers import LAYER_FUNCTIONS
from dldeck.verify.library import BUILTIN_NAMES, FUNCTIONS
from dldeck.verify.syntax import MAX_INT_DIGITS, CheckError, Statement, definition_head, validate
from dldeck.verify.tex_idioms import (
    BINARY_OPS,
    COMPARE_OPS,
    Marker,
    differential,
    displayed,
    factors_of,
    is_letter_d,
    is_partial,
    make_binop,
    make_call,
    make_fraction,
    make_int,
    make_name,
    series,
    walk,
)
from dldeck.verify.tex_tokens import DECLARE_HINT, Tokenizer

MAX_FORMULA_CHARS = 4_000

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


class _Build(Transformer_NonRecursive):
    """Parse tree → check-language `ast` nodes; bottom-up and without recursion."""

    def __init__(self, functions: frozenset[str], line: int, tex: str = ""):
        super().__init__()
        self.functions = functions
        self.line = line
        self.tex = tex  # quoted in messages

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
        return make_name("E" if text == "e" else text)

    def partial(self, children: list[Any]) -> ast.expr:
        return Marker("partial")

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
            return make_call(name, *args)
        if primes:
            return self.prime(name, primes, args)
        node = make_call(name, *args)
        if head.type == "FUNC_CALL" or name in self.functions:
            return node
        if head.type == "OPNAME_CALL":
            node.dldeck_unknown = name  # type: ignore[attr-defined]  # fine only as a definition's left side
            return node
        if len(args) != 1:
            return node  # `g(x, y)` with g unknown: evaluation names it
        product = make_binop(make_name(name), ast.Mult(), args[0])
        product.dldeck_call = node  # type: ignore[attr-defined]  # `f(x)` as a relation's left side
        return product

    def prime(self, name: str, order: int, args: list[ast.expr]) -> ast.expr:
        if len(args) != 1:
            raise self.error(f"{name}{chr(39) * order}(...) needs exactly one argument")
        (arg,) = args
        tail = [make_int(order)] if order > 1 else []
        if isinstance(arg, ast.Name):
            return make_call("diff", make_call(name, arg), arg, *tail)
        variable = make_name("t" if not self.mentions(arg, "t") else "u")
        return make_call("subs", make_call("diff", make_call(name, variable), variable, *tail), variable, arg)

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
            node: ast.expr = make_call("maximum" if function == "Max" else "minimum", argument, base)
        elif base is not None and function == "log":
            node = make_call("log", argument, base)
        elif base is not None:
            raise self.error(f"\\{function} takes no subscript")
        else:
            node = make_call(function, *(argument.elts if isinstance(argument, ast.Tuple) else [argument]))
        node = make_binop(node, ast.Pow(), power) if power is not None else node
        # an argument without parentheses is one factor: `product` refuses anything but a call after it
        head = children[0]
        node.dldeck_bare_argument = self.tex[head.start_pos:head.start_pos + 12]  # type: ignore[attr-defined]
        return node

    def abs(self, children: list[Any]) -> ast.expr:
        return make_call("abs", *self.nodes(children))

    def floor(self, children: list[Any]) -> ast.expr:
        return make_call("floor", *self.nodes(children))

    def ceiling(self, children: list[Any]) -> ast.expr:
        return make_call("ceiling", *self.nodes(children))

    def sqrt(self, children: list[Any]) -> ast.expr:
        parts = self.nodes(children)
        if len(parts) == 1:
            return make_call("sqrt", parts[0])
        index, radicand = parts
        return make_binop(radicand, ast.Pow(), make_binop(ast.Constant(1), ast.Div(), index))

    def binom(self, children: list[Any]) -> ast.expr:
        return make_call("binomial", *self.nodes(children))

    def frac(self, children: list[Any]) -> ast.expr:
        numerator, denominator = self.nodes(children)
        derivative = self.derivative(numerator, denominator)
        if derivative is not None:
            return derivative
        return make_binop(numerator, ast.Div(), denominator)

    def derivative(self, numerator: ast.expr, denominator: ast.expr) -> ast.expr | None:
        """d/dx, df/dx, d^2f/dx^2, ∂L/∂w, ∂²f/∂x∂y → diff(...), or an operator on what follows."""
        top = factors_of(numerator)
        head = differential(top[0])
        bottom = factors_of(denominator)
        if head is None or differential(bottom[0]) is None:
            return None
        kind, order = head
        variables: list[tuple[str, int]] = []
        index = 0
        while index < len(bottom):
            mark = bottom[index]
            if not (is_letter_d(mark) if kind == "d" else is_partial(mark)) or index + 1 >= len(bottom):
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
            return Marker("derivative", tuple(variables))
        return self.differentiate(self.product(top[1:]), tuple(variables))

    def differentiate(self, body: ast.expr, variables: tuple[tuple[str, int], ...]) -> ast.expr:
        if isinstance(body, ast.Name) and body.id in self.functions and len(variables) == 1:
            body = make_call(body.id, make_name(variables[0][0]))
        for variable, power in reversed(variables):
            body = make_call("diff", body, make_name(variable), *([make_int(power)] if power > 1 else []))
        return body

    def cases(self, children: list[Any]) -> ast.expr:
        pieces = [ast.Tuple(elts=list(row), ctx=ast.Load()) for row in self.nodes(children)]
        return make_call("Piecewise", *pieces)

    def matrix(self, children: list[Any]) -> ast.expr:
        rows = [ast.List(elts=list(row), ctx=ast.Load()) for row in self.nodes(children)]
        if len({len(row.elts) for row in rows}) != 1:
            raise self.error("the rows of a matrix must have the same number of entries")
        return make_call("Matrix", ast.List(elts=rows, ctx=ast.Load()))

    def matrix_row(self, children: list[Any]) -> list[ast.expr]:
        return self.nodes(children)

    def transpose(self, children: list[Any]) -> ast.expr:
        return make_call("transpose", *self.nodes(children))

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
        return Marker("ellipsis")

    def binary(self, children: list[Any]) -> ast.expr:
        left, operator, right = children
        if operator.type == "PLUS":
            summed = series(left, right)
            if summed is not None:
                return summed
        if operator.type == "DIV":  # ∂L/∂w written inline
            derivative = self.derivative(left, right)
            if derivative is not None:
                return derivative
        node = make_binop(left, BINARY_OPS[operator.type](), right)
        if operator.type == "TIMES":
            node.dldeck_product = True  # type: ignore[attr-defined]  # `A \cdot B` of two matrices: A @ B
        return node

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
            return make_call("exp", exponent)
        if getattr(base, "dldeck_call", None) is not None:
            # `a(1-a)^2` with `a` not a function is a·(1−a)², as it reads: the power binds to the bracket
            return make_binop(base.left, ast.Mult(), make_binop(base.right, ast.Pow(), exponent))
        return make_binop(base, ast.Pow(), exponent)

    def factorial(self, children: list[Any]) -> ast.expr:
        return make_call("factorial", *self.nodes(children))

    def percent(self, children: list[Any]) -> ast.expr:
        (value,) = self.nodes(children)
        node = make_binop(value, ast.Div(), ast.Constant(100))
        unit = getattr(value, "dldeck_unit", None)
        node.dldeck_unit = unit / 100 if unit is not None else None  # type: ignore[attr-defined]
        return node

    def juxt(self, children: list[Any]) -> ast.expr:
        return self.product(self.nodes(children))

    def product(self, factors: list[ast.expr]) -> ast.expr:
        """Juxtaposed factors; an operator d/dx applies to everything after it. `\\sin 2x` and `\\sin \\pi x`
        are sin(2x) and sin(πx) to a reader, but the grammar gives an operator without parentheses one
        factor, sin(2)·x: any factor but a call right after such an operator is refused, with both
        spellings (`\\sin x\\cos x` and `\\sin x\\,e^{x}`, a call after it, read as before)."""
        for factor, following in zip(factors, factors[1:], strict=False):
            while isinstance(factor, ast.UnaryOp):  # `-\\sin \\pi x`: the sign wraps the operator
                factor = factor.operand
            shown = getattr(factor, "dldeck_bare_argument", None)
            if shown is not None and not isinstance(following, ast.Call):
                shown = re.split(r"[=<>]", shown)[0].strip()
                raise self.error(f"«{shown}…»: an operator without parentheses takes one factor, so what "
                                 "follows would be multiplied after it: write the argument in parentheses, "
                                 "as in \\sin(2x), or the product with \\cdot")
        for index, factor in enumerate(factors):
            if isinstance(factor, Marker) and factor.what == "derivative":
                if index + 1 == len(factors):
                    raise self.error("d/dx of nothing: write the expression after it")
                body = self.differentiate(self.product(factors[index + 1 :]), factor.variables)
                factors = [*factors[:index], body]
                break
        node = factors[0]
        for factor in factors[1:]:
            node = make_binop(node, ast.Mult(), factor)
            node.dldeck_product = True  # type: ignore[attr-defined]  # of two matrices: their product
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
        return make_call(function, body, spec)

    def unbounded(self, children: list[Any]) -> None:
        raise self.error("a sum or product is verified only with both bounds, as in \\sum_{i=1}^{n}")

    def bound(self, children: list[Any]) -> tuple[ast.expr, ast.expr]:
        name = next(c for c in children if isinstance(c, Token) and c.type == "NAME")
        rel = next(c for c in children if isinstance(c, Token) and c.type == "REL")
        if str(rel) != "==":
            raise self.error("a sum's lower bound is written i=1")
        (low,) = self.nodes(children)
        return make_name(str(name).rstrip("'")), low

    def limit(self, children: list[Any]) -> ast.expr:
        variable = next(c for c in children if isinstance(c, Token) and c.type == "NAME")
        direction = next((str(c) for c in children if isinstance(c, Token) and c.type == "DIR"), "")
        point, body = self.nodes(children)
        args: list[ast.expr] = [body, make_name(str(variable)), point]
        if direction:
            args.append(ast.Constant(direction))
        return make_call("limit", *args)

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
            for node in walk(side):
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
        return ast.Compare(left=sides[0], ops=[COMPARE_OPS[op]() for op in ops], comparators=list(sides[1:]))

    def approx(self, left: ast.expr, right: ast.expr) -> ast.expr:
        """approx(expression, number, tol): half a unit in the number's last displayed digit."""
        for expression, number in ((left, right), (right, left)):
            shown = displayed(number)
            if shown is not None:
                value, unit = shown
                if unit is None:
                    return make_call("approx", expression, number)
                tolerance = unit / 2 / max(Fraction(1), abs(value))
                return make_call("approx", expression, number, make_fraction(tolerance))
        raise self.error("≈ needs a displayed number on one side, as in \\sigma(1) \\approx 0.731")

    def interval(self, children: list[Any]) -> tuple[ast.cmpop, ast.expr, ast.expr, ast.cmpop]:
        if len(children) == 1:  # \mathbb{R}, \mathbb{R}_+, \mathbb{R}_{\ge 0}
            kind = str(children[0])
            low_op = ast.LtE() if kind == "0+" else ast.Lt()
            low = make_name("oo") if not kind else make_int(0)
            low = ast.UnaryOp(op=ast.USub(), operand=low) if not kind else low
            return low_op, low, make_name("oo"), ast.Lt()
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
        # `\text{当 } \eta=1 \text{ 时}` substitutes, as a prose condition does: random points never
        # land on η = 1, so restricting the claim there would pass whatever it says
        return [link for claim in parts[0] for link in conditions.apply(condition, claim)]

    def start(self, children: list[Any]) -> list[ast.expr]:
        claims: list[ast.expr] = []
        for child in self.nodes(children):
            if isinstance(child, list):
                claims.extend(child)
        return claims


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
    tokenizer = Tokenizer(tex, line, notation or {}, callable_names)
    tokenizer.guard()
    try:
        return _read(tokenizer, callable_names)
    except CheckError:
        if tokenizer.states_relation():
            raise
        return []  # `x \to \infty`, `[0, 1)`, `\|x\|`: notation, not a claim


def states_relation(tex: str, line: int) -> bool:
    """Whether a formula says `=`, `<`, `\\in`, …, without reading it: an exempt formula is counted with
    the relational ones only when it states one (an exempt `$x_{t-1}$` is notation, not a hidden claim).
    A formula too large or hostile to lex counts as one."""
    if len(tex) > MAX_FORMULA_CHARS:
        return True
    tokenizer = Tokenizer(tex, line, {}, frozenset())
    try:
        tokenizer.guard()
    except CheckError:
        return True
    return tokenizer.states_relation()


def _read(tokenizer: Tokenizer, callable_names: frozenset[str]) -> list[Statement]:
    tex, line = tokenizer.tex, tokenizer.line
    tokens = tokenizer.run()
    if not tokens:
        return []
    try:
        tree = parser().parse(tokens)
        bodies = _Build(callable_names, line, tex).transform(tree)
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
    for node in walk(body):
        if isinstance(node, Marker) and node.what == "ellipsis":
            raise CheckError(
                "cannot verify an ellipsis here: write the general term, or a sum whose terms show it "
                "(1 + 2 + \\cdots + n, 1^2 + 2^2 + \\cdots + n^2)",
                line,
            )
        if isinstance(node, Marker):
            what = "\\partial" if node.what == "partial" else "d/dx"
            raise CheckError(f"{what} only reads as part of a derivative, as in \\frac{{d}}{{dx}} f(x)", line)
    validate(ast.Expression(body=body), tex, line)
    return Statement("claim", ast.unparse(body), line, body=body)


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
