"""TeX idioms rewritten into check-language nodes: small `ast` builders, the sum an ellipsis
stands for, a claim under a condition, and the tolerance a displayed number implies.
"""

from __future__ import annotations

import ast
import copy as copy_module
from collections.abc import Iterator
from fractions import Fraction

from dldeck.verify.syntax import MAX_NESTING

# --------------------------------------------------------------------------- building ast nodes


def make_name(identifier: str) -> ast.Name:
    return ast.Name(id=identifier, ctx=ast.Load())


def make_call(function: str, *args: ast.expr) -> ast.Call:
    return ast.Call(func=make_name(function), args=list(args), keywords=[])


def make_int(value: int) -> ast.expr:
    if value < 0:
        return ast.UnaryOp(op=ast.USub(), operand=ast.Constant(-value))
    return ast.Constant(value)


def make_fraction(value: Fraction) -> ast.expr:
    if value.denominator == 1:
        return make_int(value.numerator)
    return ast.BinOp(left=make_int(value.numerator), op=ast.Div(), right=make_int(value.denominator))


def make_binop(left: ast.expr, op: ast.operator, right: ast.expr) -> ast.expr:
    return ast.BinOp(left=left, op=op, right=right)


class Marker(ast.expr):
    """A piece that only means something in context (∂, d/dx); left anywhere else it is an error."""

    _fields = ()

    def __init__(self, what: str, variables: tuple[tuple[str, int], ...] = ()):
        super().__init__()
        self.what = what
        self.variables = variables


BINARY_OPS = {"PLUS": ast.Add, "MINUS": ast.Sub, "TIMES": ast.Mult, "DIV": ast.Div}
COMPARE_OPS = {"==": ast.Eq, "!=": ast.NotEq, "<": ast.Lt, ">": ast.Gt, "<=": ast.LtE, ">=": ast.GtE}


def is_letter_d(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "d"


def is_partial(node: ast.expr) -> bool:
    return isinstance(node, Marker) and node.what == "partial"


def differential(node: ast.expr) -> tuple[str, int] | None:
    """`d`, `\\partial`, `d^2`, `\\partial^2` → (kind, order)."""
    order = 1
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        if not (isinstance(node.right, ast.Constant) and type(node.right.value) is int):
            return None
        order, node = node.right.value, node.left
    if is_letter_d(node):
        return ("d", order)
    if is_partial(node):
        return ("partial", order)
    return None


def factors_of(node: ast.expr) -> list[ast.expr]:
    return list(getattr(node, "dldeck_factors", [node]))


# --------------------------------------------------------------------------- idioms


def walk(node: ast.AST) -> Iterator[ast.AST]:
    """ast.walk that does not descend below MAX_NESTING·4 levels (validate refuses those anyway)."""
    stack: list[tuple[ast.AST, int]] = [(node, 0)]
    while stack:
        current, depth = stack.pop()
        yield current
        if depth < MAX_NESTING * 4:
            stack.extend((child, depth + 1) for child in ast.iter_child_nodes(current))


def series(left: ast.expr, last: ast.expr) -> ast.expr | None:
    """`t_a + t_{a+1} + \\cdots + t_L` → sum(t_k, (k, a, L)) when the shown terms differ in exactly one
    whole number that counts up by one, and the last term puts a name (± a number) in its place."""
    terms: list[ast.expr] = []
    node = left
    while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and len(terms) < 8:
        terms.append(node.right)
        node = node.left
    terms.append(node)
    terms.reverse()
    if len(terms) < 3 or not (isinstance(terms[-1], Marker) and terms[-1].what == "ellipsis"):
        return None
    shown = terms[:-1]
    counter = _counter(shown[0], shown[1])
    if counter is None:
        return None
    position, start = counter
    used = {n.id for term in [*shown, last] for n in walk(term) if isinstance(n, ast.Name)}
    variable = next(name for name in ("k", "j", "m", "q", "r", "s") if name not in used)
    for offset, term in enumerate(shown):
        if _counter_value(shown[0], term, position) != start + offset:
            return None
    template = _replace_at(shown[0], position, make_name(variable))
    same, end = _match(template, last, variable)
    if not same or end is None or not _simple_bound(end):
        return None
    bounds = ast.Tuple(elts=[make_name(variable), make_int(start), end], ctx=ast.Load())
    return make_call("sum", template, bounds)


def _nodes(node: ast.expr) -> list[ast.AST]:
    return list(walk(node))


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


def under(claim: ast.expr, condition: ast.Compare) -> list[ast.expr]:
    """`l op r` where `condition` holds: Piecewise((l, condition), (r + k, True)) op r, with k
    chosen so the comparison holds trivially elsewhere (k = 0 for ==, <=, >=; ∓1 for <, >; 1 for !=).
    A chain is split into its links, one claim each; approx (numbers only) needs no condition."""
    if not isinstance(claim, ast.Compare):
        return [claim]
    links = []
    left = claim.left
    for op, right in zip(claim.ops, claim.comparators, strict=True):
        shift = _FALLBACK[type(op)]
        step = ast.Add() if shift > 0 else ast.Sub()
        elsewhere = right if shift == 0 else make_binop(right, step, make_int(1))
        piecewise = make_call(
            "Piecewise",
            ast.Tuple(elts=[left, condition], ctx=ast.Load()),
            ast.Tuple(elts=[elsewhere, ast.Constant(True)], ctx=ast.Load()),
        )
        links.append(ast.Compare(left=piecewise, ops=[op], comparators=[right]))
        left = right
    return links


def conditions_under(claim: ast.expr) -> tuple[ast.expr, ast.expr, list[ast.Compare]] | None:
    """The inverse of `under` on one link: `Piecewise((l, condition), (…, True)) op r` → (l, r, the
    conditions, innermost first); None for a claim under no condition."""
    if not (isinstance(claim, ast.Compare) and len(claim.ops) == 1):
        return None
    left, conditions = claim.left, []
    while (isinstance(left, ast.Call) and isinstance(left.func, ast.Name) and left.func.id == "Piecewise"
           and len(left.args) == 2 and isinstance(left.args[0], ast.Tuple) and len(left.args[0].elts) == 2):
        left, condition = left.args[0].elts
        if isinstance(condition, ast.Compare):
            conditions.append(condition)
    if not conditions:
        return None
    return left, claim.comparators[0], conditions


def displayed(node: ast.expr, depth: int = 0) -> tuple[Fraction, Fraction | None] | None:
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
        inner = displayed(node.operand, depth + 1)
        if inner is None:
            return None
        return (-inner[0] if isinstance(node.op, ast.USub) else inner[0]), inner[1]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow | ast.Mult | ast.Div):
        left, right = displayed(node.left, depth + 1), displayed(node.right, depth + 1)
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
