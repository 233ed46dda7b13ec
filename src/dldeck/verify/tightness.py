"""A bound a formula shows is the bound, not merely a true one.

`当 η>2/L 时, 1-ηL<-1` tells the learner that -1 is crossed exactly where the condition starts, and
`\\tanh x\\in(-1,1)` that -1 and 1 are where tanh ends. Both stay true when the bound is weakened
(`1-ηL<+1`, `(-1,2)`), so a check that they merely hold would let a changed bound through. A shown
bound is therefore also checked to be reached:

- under a condition on a name (`当 v>c 时`, prose or `\\text{当 … 时}`), the two sides meet at the
  condition's boundary v = c, or in the limit at its far end (v → ±∞);
- without one, a constant bound on an expression of one variable is its infimum or supremum over the
  variable's domain, as sympy computes it within REACH_SECONDS; where sympy cannot, the values on a
  dense grid (refined around the best one) and the limits at ±∞ must come within a millionth of it.

`unreached` returns why a verified bound is not reached, or "" (reached, or undecidable).
"""

from __future__ import annotations

import ast

import sympy

from dldeck.timelimit import time_limit
from dldeck.verify.claims import check_claim
from dldeck.verify.conditions import substitute_name
from dldeck.verify.evaluate import Evaluator, Scope
from dldeck.verify.floats import Screen
from dldeck.verify.syntax import CheckError, Statement
from dldeck.verify.tex_idioms import conditions_under, make_binop, make_call, make_int, make_name
from dldeck.verify.values import simplified

REACH_SECONDS = 1.0  # CPU for sympy's infimum/supremum of one bound; beyond it the bound is not judged
_BOUNDS = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)
_UPPER = (ast.Lt, ast.LtE)  # `e < c`: c is an upper bound of e


def unreached(body: ast.expr, scope: Scope, line: int) -> str:
    """Why the verified bound `body` is not reached, or "" (each boundary is decided by check_claim)."""
    peeled = _conditional(body)
    if peeled is not None:
        return _at_boundary(*peeled, scope, line)
    if isinstance(body, ast.Compare) and any(isinstance(op, _BOUNDS) for op in body.ops):
        return _extremum(body, scope)
    return ""


# --------------------------------------------------------------------------- under a condition


def _conditional(body: ast.expr) -> tuple[ast.expr, ast.expr, list[ast.Compare]] | None:
    """A bound under conditions (see `tex_idioms.under`): its sides and the conditions, outermost last;
    only one-comparison conditions mark a boundary."""
    if not (isinstance(body, ast.Compare) and len(body.ops) == 1 and isinstance(body.ops[0], _BOUNDS)):
        return None
    peeled = conditions_under(body)
    if peeled is None:
        return None
    left, right, conditions = peeled
    marking = [condition for condition in conditions if len(condition.ops) == 1]
    return (left, right, marking) if marking else None


def _at_boundary(left: ast.expr, right: ast.expr, conditions: list[ast.Compare], scope: Scope,
                 line: int) -> str:
    tried = []
    sides = [_bounded_side(condition) for condition in conditions]
    for condition, name_side in zip(conditions, sides, strict=True):
        # `0 < η < 2/λ`: η's far ends are the other link's boundary, not ±∞
        closed = name_side is not None and (name_side[0], not name_side[1]) in sides
        for where, claims in _boundary_claims(left, right, condition)[: 1 if closed else 2]:
            status = _first_decided(claims, scope, line)
            if status != "failed":
                return ""  # met there, or undecidable there: not judged
            tried.append(where)
    if not tried:
        return ""
    return (f"the sides do not meet where its condition ends ({', '.join(tried)}): the bound holds but is "
            "not the one the condition marks")


def _first_decided(claims: list[ast.expr], scope: Scope, line: int) -> str:
    """The status of the first of `claims` that can be decided (the sides at the boundary, else their
    one-sided limit there: `σ(1/m)` at m = 0 is undefined, its limit from below is 0); "" if none."""
    for claim in claims:
        try:
            return check_claim(Statement("claim", ast.unparse(claim), line, body=claim), scope).status
        except (CheckError, ArithmeticError, TypeError, ValueError, NotImplementedError):
            continue
    return ""


def _bounded_side(condition: ast.Compare) -> tuple[str, bool] | None:
    """(name, whether the condition lets it grow to +∞) for `v op c` or `c op v`."""
    op, a, b = condition.ops[0], condition.left, condition.comparators[0]
    if not isinstance(op, _BOUNDS):
        return None
    if isinstance(a, ast.Name):
        return a.id, not isinstance(op, _UPPER)
    if isinstance(b, ast.Name):
        return b.id, isinstance(op, _UPPER)
    return None


def _boundary_claims(left: ast.expr, right: ast.expr,
                     condition: ast.Compare) -> list[tuple[str, list[ast.expr]]]:
    """`left == right` at the boundary of `v op c` (or `c op v`), or, where that is undefined, the limit
    of `left - right` as v approaches c from inside the condition; `limit(left - right, v, ±oo) == 0` at
    its far end."""
    side = _bounded_side(condition)
    if side is None:
        return []
    name, grows = side
    a, b = condition.left, condition.comparators[0]
    bound = b if isinstance(a, ast.Name) and a.id == name else a
    meet = ast.Compare(left=left, ops=[ast.Eq()], comparators=[right])
    difference = make_binop(left, ast.Sub(), right)

    def vanishes(point: ast.expr, *direction: str) -> ast.expr:
        limit = make_call("limit", difference, make_name(name), point,
                          *(ast.Constant(value=d) for d in direction))
        return ast.Compare(left=limit, ops=[ast.Eq()], comparators=[make_int(0)])

    infinity = make_name("oo") if grows else ast.UnaryOp(op=ast.USub(), operand=make_name("oo"))
    return [
        (f"at {name} = {ast.unparse(bound)}",
         [substitute_name(meet, name, bound), vanishes(bound, "+" if grows else "-")]),
        (f"as {name} → {'+' if grows else '-'}∞", [vanishes(infinity)]),
    ]


# --------------------------------------------------------------------------- without a condition


def _extremum(body: ast.Compare, scope: Scope) -> str:
    from dldeck.verify.library import extremum

    evaluator = Evaluator(scope, ast.unparse(body))
    try:
        sides = [evaluator.evaluate(side) for side in (body.left, *body.comparators)]
    except (CheckError, ArithmeticError, TypeError, ValueError, NotImplementedError):
        return ""
    if not all(isinstance(side, sympy.Expr) for side in sides):
        return ""
    free = set().union(*(side.free_symbols for side in sides))
    if len(free) != 1:
        return ""
    [variable] = free
    for op, low, high in zip(body.ops, sides, sides[1:], strict=False):
        if not isinstance(op, _BOUNDS) or (low.free_symbols and high.free_symbols):
            continue
        upper = isinstance(op, _UPPER) == bool(low.free_symbols)  # `e < c` or `c > e`
        expression, bound = (low, high) if low.free_symbols else (high, low)
        if not bound.is_number:
            continue
        word = "supremum" if upper else "infimum"
        try:
            with time_limit(REACH_SECONDS):
                reached = extremum(expression, variable, upper)
        except Exception:  # noqa: BLE001 - sympy raises many kinds here (and the time limit): try numbers
            reached = None
        if reached is None:
            approached = _approached(expression, variable, bound, upper)
            if approached is None:
                continue
            return (f"the bound {sympy.sstr(bound)} is not reached: the {word} of {sympy.sstr(expression)} "
                    f"over {variable} is about {approached:.6g} (sampled, and its limits at ±∞)")
        if not (reached.is_number and reached.is_finite) or simplified(reached - bound) == 0:
            continue
        return (f"the bound {sympy.sstr(bound)} is not reached: the {word} of {sympy.sstr(expression)} over "
                f"{variable} is {sympy.sstr(reached)}")
    return ""


def _approached(expression: sympy.Expr, variable: sympy.Symbol, bound: sympy.Expr,
                upper: bool) -> float | None:
    """Where sympy finds no extremum: the largest (`upper`) or smallest value seen on the dense grid of
    inequality checks, refined around the best grid point, and the limits at ±∞ — None when one of them
    comes within a millionth of the bound (reached, or too close to tell), else the closest of them."""
    import random

    from dldeck.verify.claims import inequality_points, numeric

    target = float(bound)
    sign = 1.0 if upper else -1.0
    seen: list[tuple[float, float]] = []  # (signed value, variable's value)
    value_at = Screen(expression, [variable], numeric)  # machine floats where they settle a point
    for point in inequality_points([variable], random.Random(0)):
        value = value_at(point)
        if isinstance(value, float):
            seen.append((sign * value, float(point[variable])))
    if not seen:
        return None
    best, at = max(seen)
    if not variable.is_integer:
        step = max(abs(b - a) for (_, a), (_, b) in zip(seen, seen[1:], strict=False)) if len(seen) > 1 else 0
        best = max(best, _refined(value_at, variable, at - step, at + step, sign))
    candidates = [sign * best]
    for end in (sympy.oo, -sympy.oo):
        try:
            with time_limit(REACH_SECONDS):
                far = sympy.limit(expression, variable, end)
        except Exception:  # noqa: BLE001 - as above: that end is simply not used
            continue
        if far.is_number and far.is_real and far.is_finite:
            candidates.append(float(far))
    closest = min(candidates, key=lambda value: abs(value - target))
    return None if abs(closest - target) <= 1e-6 * max(1.0, abs(target)) else closest


def _refined(value_at: Screen, variable: sympy.Symbol, low: float, high: float, sign: float) -> float:
    """The signed extreme between two grid points by ternary search (a peak between them); `value_at`
    is the grid's own screen of the expression, compiled once."""

    def value(x: float) -> float:
        result = value_at({variable: sympy.Float(x, 30)})
        return sign * result if isinstance(result, float) else float("-inf")

    for _ in range(60):
        a, b = low + (high - low) / 3, high - (high - low) / 3
        if value(a) < value(b):
            low = a
        else:
            high = b
    return value((low + high) / 2)
