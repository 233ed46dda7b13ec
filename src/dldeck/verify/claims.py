"""Deciding claims: identities and inequalities for all values of the free symbols, and approx.

A claim is proved symbolically when sympy can (status "symbolic"); otherwise it is tested on
seeded sample points that respect the symbols' assumptions (status "numeric"). A false claim is
reported with the values an author can compare: the two computed sides, or a counterexample.
Sampling is seeded from the claim text, so reports are identical run to run.
"""

from __future__ import annotations

import ast
import math
import random
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import sympy

from dldeck.verify.evaluate import Evaluator, Scope
from dldeck.verify.floats import Screen
from dldeck.verify.syntax import CheckError, Statement
from dldeck.verify.values import describe, dims, expect_expr, is_matrix, short, simplified

IDENTITY_POINTS = 60
INEQUALITY_GRID = 1201
INEQUALITY_RANDOM = 300
MIN_VALID_POINTS = 8
PRECISION = 30
CRITICAL_SECONDS = 1.0  # CPU for solving a difference's gradient system (`_critical_zero`)
BOUND_SECONDS = 2.0  # CPU for sympy's extremum of a bound's side (`_bound_proves`); beyond it, not proved so
CONFIRM_PRECISION = 60
CONFIRM_EPSILON = 1e-40  # below this a 60-digit difference is rounding, not a counterexample
DEFAULT_APPROX_TOL = sympy.Rational(1, 10**6)


@dataclass(frozen=True)
class Outcome:
    status: str  # "symbolic" | "numeric" | "failed"
    message: str = ""


class _Failed(Exception):
    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


def one_line(text: str) -> str:
    return " ".join(text.split())


def check_claim(statement: Statement, scope: Scope) -> Outcome:
    """Decide one claim statement; raises CheckError for malformed claims."""
    node = statement.body
    assert node is not None
    evaluator = Evaluator(scope, statement.text)
    text = one_line(statement.text)
    rng = random.Random(zlib.crc32(text.encode("utf-8")))
    try:
        if isinstance(node, ast.Compare):
            status = "symbolic"
            left = evaluator.evaluate(node.left)
            for op, comparator in zip(node.ops, node.comparators, strict=True):
                right = evaluator.evaluate(comparator)
                result = compare(op, left, right, rng)
                if result == "numeric":
                    status = "numeric"
                left = right
            return Outcome(status)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "approx":
            args = [evaluator.evaluate(a) for a in node.args]
            kwargs = {k.arg: evaluator.evaluate(k.value) for k in node.keywords if k.arg}
            approx(args, kwargs)
            return Outcome("symbolic")
    except _Failed as failure:
        return Outcome("failed", f"claim does not hold: {text} — {failure.detail}")
    raise CheckError(f"a claim must be a comparison (==, !=, <, <=, >, >=) or approx(...), got {text!r}")


# --------------------------------------------------------------------------- comparisons


def compare(op: ast.cmpop, left: Any, right: Any, rng: random.Random) -> str:
    """Return the status of one comparison or raise _Failed."""
    if isinstance(op, ast.Eq):
        return equal(left, right, rng)
    if isinstance(op, ast.NotEq):
        return not_equal(left, right, rng)
    return inequality(op, left, right, rng)


def _is_plain(value: Any) -> bool:
    return isinstance(value, bool | str) or value in (sympy.true, sympy.false)


def _plain(value: Any) -> Any:
    if value is sympy.true:
        return True
    if value is sympy.false:
        return False
    return value


def equal(left: Any, right: Any, rng: random.Random) -> str:
    if is_matrix(left) or is_matrix(right):
        return _matrix_equal(left, right, rng)
    if isinstance(left, tuple) or isinstance(right, tuple):
        if not (isinstance(left, tuple) and isinstance(right, tuple)):
            raise _Failed(f"computed {show(left)}, right side {show(right)}")
        if len(left) != len(right):
            raise _Failed(
                f"computed {show(left)} ({len(left)} elements), right side {show(right)} "
                f"({len(right)} elements)"
            )
        status = "symbolic"
        for index, (a, b) in enumerate(zip(left, right, strict=True)):
            try:
                if equal(a, b, rng) == "numeric":
                    status = "numeric"
            except _Failed as failure:
                raise _Failed(
                    f"computed {show(left)}, right side {show(right)} (element {index + 1}: {failure.detail})"
                ) from None
        return status
    if _is_plain(left) or _is_plain(right):
        a, b = _plain(left), _plain(right)
        if type(a) is type(b) and a == b:
            return "symbolic"
        raise _Failed(f"computed {show(left)}, right side {show(right)}")
    if not (isinstance(left, sympy.Expr) and isinstance(right, sympy.Expr)):
        if left == right:
            return "symbolic"
        raise _Failed(f"computed {show(left)}, right side {show(right)}")
    return identity(left, right, rng)


def _matrix_equal(left: Any, right: Any, rng: random.Random) -> str:
    """Entry by entry, each an identity; a failure names the first differing entry."""
    if not (is_matrix(left) and is_matrix(right)):
        raise _Failed(f"computed {show(left)}, right side {show(right)}")
    if left.shape != right.shape:
        raise _Failed(f"computed a {dims(left)} matrix, right side a {dims(right)} matrix")
    status = "symbolic"
    for i in range(left.shape[0]):
        for j in range(left.shape[1]):
            try:
                if equal(left[i, j], right[i, j], rng) == "numeric":
                    status = "numeric"
            except _Failed as failure:
                raise _Failed(f"entry [{i}, {j}]: {failure.detail}") from None
    return status


def identity(left: sympy.Expr, right: sympy.Expr, rng: random.Random) -> str:
    if left.is_infinite or right.is_infinite:  # oo - oo is nan: infinities compare as values
        if left == right or simplified(left) == simplified(right):
            return "symbolic"
        raise _Failed(f"computed {show(left)}, right side {show(right)}")
    difference = left - right
    if difference == 0 or sympy.expand(difference) == 0:
        return "symbolic"
    symbols = sorted(difference.free_symbols, key=lambda s: s.name)
    if not symbols:
        return _constant_identity(left, right, difference)
    attempts = _simplifications(difference)
    if next(attempts) == 0:  # plain simplify settles most true identities without sampling
        return "symbolic"
    try:  # sampled in every name of either side: one the difference lost (`N` in `CK²N + N` vs `CK²N`)
        _search_counterexample(left, right, _names(left, right), rng)
    except _Failed as failure:
        raise _Failed(f"computed {show(left)}, right side {show(right)}; {failure.detail}") from None
    for attempt in attempts:
        if attempt == 0:
            return "symbolic"
    return "numeric"


def _names(*sides: sympy.Expr) -> list[sympy.Symbol]:
    """The free symbols of all sides, in name order: a side has no value at a point that leaves one out."""
    return sorted(set().union(*(side.free_symbols for side in sides)), key=lambda s: s.name)


def _simplifications(difference: sympy.Expr) -> Iterator[sympy.Expr]:
    """Ever more expensive rewrites; the caller stops at the first that gives zero."""
    yield simplified(difference)
    yield simplified(difference.rewrite(sympy.exp))
    yield simplified(sympy.expand(sympy.piecewise_fold(difference), force=True))
    yield simplified(sympy.expand_log(sympy.expand_power_base(difference, force=True), force=True))


def _constant_identity(left: sympy.Expr, right: sympy.Expr, difference: sympy.Expr) -> str:
    reduced = simplified(difference)
    if reduced == 0:
        return "symbolic"
    value = reduced.evalf(CONFIRM_PRECISION)
    if value.is_Number and value == 0:
        return "numeric"
    if value.is_number and abs(value) < sympy.Float(10) ** -(CONFIRM_PRECISION - 10):
        return "numeric"
    raise _Failed(f"computed {show(left)}, right side {show(right)}")


def _search_counterexample(
    left: sympy.Expr, right: sympy.Expr, symbols: list[sympy.Symbol], rng: random.Random
) -> None:
    valid = 0
    gaps: list[str] = []
    left_at, right_at = Screen(left, symbols, numeric), Screen(right, symbols, numeric)
    for point in sample_points(symbols, rng, IDENTITY_POINTS):
        a, b = left_at(point), right_at(point)
        if a is None or b is None:
            # undefined there (a pole), unless one side is a real infinity the other is not: a limit in a
            # parameter (`lim w^T` for |w| > 1) is +oo at such a point, not a hole in the claim
            a = a if a is not None else infinity(left, point)
            b = b if b is not None else infinity(right, point)
            if a is not None and b is not None and a != b:
                raise _Failed(f"at {show_point(point)}: lhs={number(a)}, rhs={number(b)}")
            gap = _no_case(left, a, b, "lhs") or _no_case(right, b, a, "rhs")
            if gap:
                gaps.append(f"at {show_point(point)}: {gap}")
                if len(gaps) == GAP_POINTS:
                    raise _Failed(gaps[0])
            continue
        valid += 1
        if abs(a - b) > 1e-9 * max(1.0, abs(a), abs(b)):
            a_exact = left_at.confirm(point, CONFIRM_PRECISION)
            b_exact = right_at.confirm(point, CONFIRM_PRECISION)
            if (
                a_exact is not None
                and b_exact is not None
                and abs(a_exact - b_exact) > 1e-20 * max(1.0, abs(a_exact), abs(b_exact))
            ):
                lhs, rhs = numeric(left, point, CONFIRM_PRECISION), numeric(right, point, CONFIRM_PRECISION)
                raise _Failed(f"at {show_point(point)}: lhs={number(lhs)}, rhs={number(rhs)}")
    if valid < MIN_VALID_POINTS:
        raise CheckError(
            f"cannot test the claim numerically: only {valid} of {IDENTITY_POINTS} sample points "
            "give real values"
        )


# Sample points at which a side has no value (no case of a `cases` block applies, or a series in it
# diverges) while the other side has one, before that is a counterexample: a range the cases leave out
# (`1` for `x>1`, `0` for `x<0` as ReLU'), or a condition wider than a series' convergence (`0<\gamma<2`
# for the geometric series), is met at many random points; a single point left out on purpose (ReLU'
# at 0) is not met at random.
GAP_POINTS = 2


def _no_case(side: sympy.Expr, value: Any, other: Any, name: str) -> str:
    """Why `side` is undefined where the other side has the finite value `other`: no case applies or a
    series diverges there; "" when that is not why (a pole, a complex value: skipped)."""
    if value is not None or other is None or not side.has(sympy.Piecewise, sympy.Sum):
        return ""
    return (f"{name} has no value here (no case applies, or its series diverges), "
            f"the other side is {number(other)}")


def not_equal(left: Any, right: Any, rng: random.Random) -> str:
    if is_matrix(left) or is_matrix(right) or not (isinstance(left, sympy.Expr)
                                                   and isinstance(right, sympy.Expr)):
        for name, other in ((left, right), (right, left)):
            if isinstance(name, sympy.Symbol) and not _mentions(other, name):
                raise _Failed(f"at {name}={show(other)}: both sides are {show(other)}")
        if isinstance(left, tuple) and isinstance(right, tuple) and len(left) == len(right):
            return _tuples_differ(left, right, rng)
        try:
            equal(left, right, rng)
        except _Failed:
            return "symbolic"
        raise _Failed(f"both sides are {show(left)}")
    if left == right:  # before subtracting: −∞ − (−∞) is nan, which is not 0
        raise _Failed(f"both sides are {show(left)}")
    try:  # an identity sympy cannot reduce to 0 still leaves a tiny nonzero rounding residue
        equal(left, right, rng)
    except (_Failed, CheckError):
        pass
    else:
        raise _Failed(f"both sides are equal: {show(left)} and {show(right)} agree for all values")
    difference = simplified(left - right)
    if difference == 0:
        raise _Failed(f"both sides are {show(left)}")
    symbols = sorted(difference.free_symbols, key=lambda s: s.name)
    if not symbols:
        if difference.is_zero is False:
            return "symbolic"
        value = difference.evalf(CONFIRM_PRECISION)
        if value != 0:
            return "symbolic" if value.is_number else "numeric"
        raise _Failed(f"both sides are {show(left)}")
    # sympy calls exp(oo*sign(log(w))) (a limit in a parameter) nonzero, though it is 0 for |w| < 1
    if difference.is_zero is False and not _has_infinity(difference):
        return "symbolic"
    # Random points almost never land where two expressions agree (`q != p` passes at every sampled
    # point), so a free-symbol `!=` needs a proof that no value makes the sides equal, or that value.
    zero = _zero_of(difference, symbols, rng)
    if zero is NEVER:
        return "symbolic"
    if zero is not None:
        value = numeric(left, zero, CONFIRM_PRECISION)
        raise _Failed(f"at {show_point(zero)}: both sides are {number(value)}")
    return "numeric"


def _tuples_differ(left: tuple, right: tuple, rng: random.Random) -> str:
    """Tuples differ for all values when one element pair never agrees; else where every pair agrees at
    once (one pair left to agree: its zero; several: sympy solves them together) both sides are equal."""
    open_pairs = []
    for a, b in zip(left, right, strict=True):
        try:
            equal(a, b, rng)
            continue  # this pair always agrees
        except (_Failed, CheckError):
            pass
        try:
            if not_equal(a, b, rng) == "symbolic":
                return "symbolic"
        except _Failed:
            pass
        open_pairs.append((a, b))
    if not open_pairs:
        raise _Failed(f"both sides are {show(left)}")
    if len(open_pairs) == 1:
        not_equal(*open_pairs[0], rng)  # raises at the zero it finds
        return "numeric"
    equations = [a - b for a, b in open_pairs if isinstance(a, sympy.Expr) and isinstance(b, sympy.Expr)]
    symbols = sorted(set().union(*(e.free_symbols for e in equations)), key=lambda s: s.name)
    try:
        solutions = sympy.solve(equations, symbols, dict=True) if len(equations) == len(open_pairs) else None
    except Exception:  # noqa: BLE001 - sympy raises many kinds here; any means "not solved"
        solutions = None
    if solutions == []:
        return "symbolic"
    if solutions:
        raise _Failed(f"at {', '.join(f'{k}={show(v)}' for k, v in solutions[0].items())}: both sides agree")
    return "numeric"


def _mentions(value: Any, symbol: sympy.Symbol) -> bool:
    if isinstance(value, tuple):
        return any(_mentions(item, symbol) for item in value)
    return isinstance(value, sympy.Basic) and symbol in value.free_symbols


NEVER: dict = {}  # _zero_of's answer when sympy proves the difference never vanishes
BISECTIONS = 200


def _zero_of(difference: sympy.Expr, symbols: list[sympy.Symbol], rng: random.Random) -> dict | None:
    """A point where `difference` is 0, NEVER when sympy proves there is none, or None (undecided).

    Solved for each symbol in turn (the others as parameters, then sampled); failing that, a sign
    change between sample points is bisected along their segment to a zero (a pole, where the value
    grows instead, is not one); failing that, in several symbols, a critical point where it is 0
    (`_critical_zero`: an isolated zero, which touches 0 without a sign change)."""
    from dldeck.verify.library import domain_of

    # with an infinity inside (a limit in a parameter) sympy's solving and assumptions are unreliable
    solvable = not _has_infinity(difference)
    for symbol in symbols if solvable else []:
        domain = domain_of(symbol)
        try:
            solutions = sympy.solveset(difference, symbol, domain)
        except Exception:  # noqa: BLE001 - sympy raises many kinds here; any means "not solved this way"
            continue
        if solutions is sympy.S.EmptySet:
            return _unless_sampled_zero(difference, symbols, rng)
        candidates = _members(solutions)
        if candidates is None:
            continue
        others = [s for s in symbols if s is not symbol]
        for candidate in candidates:
            for rest in sample_points(others, rng, 12) if others else iter([{}]):
                value = candidate.subs(rest)
                point = {**rest, symbol: value}
                if value.is_real and domain.contains(value) is sympy.true and _is_zero_at(difference, point):
                    return point
        if isinstance(solutions, sympy.FiniteSet) and all(not c.free_symbols for c in solutions):
            # every solution lies outside the symbol's assumptions
            return _unless_sampled_zero(difference, symbols, rng)
    return _searched_zero(difference, symbols, rng)


def _searched_zero(difference: sympy.Expr, symbols: list[sympy.Symbol], rng: random.Random) -> dict | None:
    """A zero found without solving: a sign change bisected, else, in several symbols, a critical point
    or a corner or face of the domain where the difference is 0; None if neither finds one."""
    zero = _bisected_zero(difference, symbols, rng)
    return _critical_zero(difference, symbols) if zero is None and len(symbols) > 1 else zero


def _unless_sampled_zero(difference: sympy.Expr, symbols: list[sympy.Symbol], rng: random.Random) -> dict:
    """NEVER, as solveset answered, unless the search without solving finds a zero all the same.
    solveset answers for a generic value of the other symbols, and has called a zero set empty where
    they take a special one: `V·(max(0, u) - u)` under `u > 0` (a condition in other symbols) is 0 for
    every V, yet solving for V gave EmptySet, and `若 u>0, FFN(x)≠…` passed as proved; `xy + y` has no
    zero in x ≥ 0 for y > 0, but for y = 0 every x is one, and `xy+y≠0` for x, y ≥ 0 passed as proved."""
    zero = _searched_zero(difference, symbols, rng)
    return NEVER if zero is None else zero


def _members(solutions: sympy.Set) -> list[sympy.Expr] | None:
    """A few members of a solution set (a finite set's all, an interval's inner points, a periodic
    family's first: `2nπ+π/2` for n = 0, 1, -1, where `\\sin x<1` fails), or None."""
    if isinstance(solutions, sympy.FiniteSet):
        return list(solutions)
    if isinstance(solutions, sympy.ImageSet) and solutions.base_set.is_subset(sympy.S.Integers) \
            and len(solutions.lamda.variables) == 1:
        return [solutions.lamda(n) for n in (0, 1, -1) if solutions.base_set.contains(n) is sympy.true]
    if isinstance(solutions, sympy.Union):
        parts = [_members(part) for part in solutions.args]
        return None if any(part is None for part in parts) else [m for part in parts for m in part or []]
    if isinstance(solutions, sympy.Interval):
        low, high = solutions.inf, solutions.sup
        if low.is_finite and high.is_finite:
            return [(low + high) / 2]
        if low.is_finite:
            return [low + 1]
        if high.is_finite:
            return [high - 1]
        return [sympy.Integer(0)]
    return None


def _is_zero_at(difference: sympy.Expr, point: dict) -> bool:
    exact = numeric(difference, point, CONFIRM_PRECISION)
    return exact is not None and abs(exact) <= CONFIRM_EPSILON


def _bisected_zero(difference: sympy.Expr, symbols: list[sympy.Symbol], rng: random.Random) -> dict | None:
    value_at = Screen(difference, symbols, numeric)
    signed: dict[bool, dict] = {}
    for point in sample_points(symbols, rng, INEQUALITY_RANDOM):
        value = value_at(point)
        if value == 0 and _is_zero_at(difference, point):
            return point  # the sides agree here outright (a case of a piecewise claim)
        if isinstance(value, float) and value != 0:
            signed.setdefault(value > 0, point)
    if len(signed) < 2 or any(s.is_integer for s in symbols):
        return None
    low, high = signed[False], signed[True]  # difference < 0 at low, > 0 at high
    start = abs(value_at(low) or 0) + abs(value_at(high) or 0)
    for _ in range(BISECTIONS):
        middle = {s: (low[s] + high[s]) / 2 for s in symbols}
        value = value_at(middle)
        if not isinstance(value, float):
            return None
        if value == 0:
            break
        if value < 0:
            low = middle
        else:
            high = middle
    point = {s: sympy.Float((low[s] + high[s]) / 2, PRECISION) for s in symbols}
    value = numeric(difference, point, CONFIRM_PRECISION)
    # a zero: the value shrank to rounding; across a pole it grows instead
    if value is None or isinstance(value, complex) or abs(value) > 1e-9 * max(1.0, start):
        return None
    return point


_RELATIONS = {ast.Lt: sympy.Lt, ast.LtE: sympy.Le, ast.Gt: sympy.Gt, ast.GtE: sympy.Ge}
_SYMBOLS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}


def inequality(op: ast.cmpop, left: Any, right: Any, rng: random.Random) -> str:
    a = expect_expr(left, f"left side of {_SYMBOLS[type(op)]}")
    b = expect_expr(right, f"right side of {_SYMBOLS[type(op)]}")
    relation = _RELATIONS[type(op)]
    direct = relation(a, b)
    if direct is sympy.true:
        return "symbolic"
    # Normalise to `gap >= 0` (or > 0): gap = b - a for < and <=, a - b for > and >=.
    gap = b - a if isinstance(op, ast.Lt | ast.LtE) else a - b
    strict = isinstance(op, ast.Lt | ast.Gt)
    symbols = sorted(gap.free_symbols, key=lambda s: s.name)
    if not symbols:
        verdict = relation(simplified(a), simplified(b))
        if verdict is sympy.true:
            return "symbolic"
        if verdict is sympy.false:
            raise _Failed(f"lhs={show(a)}, rhs={show(b)}")
        value = gap.evalf(CONFIRM_PRECISION)
        if value.is_number and (value > 0 or (value == 0 and not strict)):
            return "numeric"
        lhs, rhs = numeric(a, {}, CONFIRM_PRECISION), numeric(b, {}, CONFIRM_PRECISION)
        raise _Failed(f"lhs={number(lhs)}, rhs={number(rhs)}")
    simplified_gap = simplified(gap)
    if (simplified_gap > 0 if strict else simplified_gap >= 0) is sympy.true:
        return "symbolic"
    solved: list[dict | None] = []

    def meeting() -> dict | None:
        """Where the sides meet: a strict claim's counterexample, or NEVER (solved once)."""
        if not solved:
            zero = _zero_of(simplified_gap, symbols, rng)
            solved.append(zero)
            if zero is not None and zero is not NEVER:
                raise _failed_at(a, b, zero)
        return solved[0]

    if len(symbols) == 1 and _bound_proves(op, a, b, simplified_gap, symbols[0], strict, meeting):
        return "symbolic"
    if strict:
        meeting()  # a point where the sides meet lies between any sample points (`|\\sin x|<1` at π/2)
    _dense_search(a, b, gap, symbols, strict, rng)
    return "numeric"


def _bound_proves(op: ast.cmpop, a: sympy.Expr, b: sympy.Expr, gap: sympy.Expr, x: sympy.Symbol,
                  strict: bool, meeting: Callable[[], dict | None]) -> bool:
    """The least value of the gap over x's domain >= 0 (> 0 when strict) proves the claim outright.
    Against a finite constant bound it is the bound less the other side's extremum: the one the
    tightness check then asks for (`library.extremum` remembers it), not a second search. A strict
    claim whose gap comes down to 0 only in a limit (`\\tanh x<1`: the supremum is not reached) is
    proved when the gap is also never 0 (`meeting`: `_zero_of`, the test a `\\neq` gets); a zero
    found there is raised as the counterexample (`_Failed`)."""
    from dldeck.timelimit import time_limit
    from dldeck.verify.library import domain_of, extremum

    if domain_of(x).is_subset(sympy.S.Integers):
        return False
    smaller, larger = (a, b) if isinstance(op, ast.Lt | ast.LtE) else (b, a)  # the claim: smaller < larger
    try:  # sympy's function_range can run for ever (`x - \sin x` over x > 0): then not proved this way
        with time_limit(BOUND_SECONDS):
            if larger.is_number and larger.is_finite:
                low = larger - extremum(smaller, x, upper=True)
            elif smaller.is_number and smaller.is_finite:
                low = extremum(larger, x, upper=False) - smaller
            else:
                low = extremum(gap, x, upper=False)
    except Exception:  # noqa: BLE001 - sympy raises many kinds here; any means "not proved this way"
        return False
    if not low.is_number or low.has(sympy.nan):
        return False
    if strict and low.is_zero:
        return meeting() is NEVER
    verdict = low > 0 if strict else low >= 0
    return verdict is sympy.true


def _dense_search(
    a: sympy.Expr,
    b: sympy.Expr,
    gap: sympy.Expr,
    symbols: list[sympy.Symbol],
    strict: bool,
    rng: random.Random,
) -> None:
    valid = 0
    gap_at = Screen(gap, symbols, numeric)
    for point in inequality_points(symbols, rng):
        value = gap_at(point)
        if value is None and infinity(gap, point) == -math.inf:
            raise _Failed(f"at {show_point(point)}: lhs={number(_value_or_infinity(a, point))}, "
                          f"rhs={number(_value_or_infinity(b, point))}")
        if value is None or isinstance(value, complex):
            continue
        valid += 1
        if value < 0 or (strict and value <= 0) or value < -1e-12:
            exact = gap_at.confirm(point, CONFIRM_PRECISION)
            if exact is None or isinstance(exact, complex):
                continue
            if exact < -CONFIRM_EPSILON or (strict and exact <= CONFIRM_EPSILON):
                raise _failed_at(a, b, point)
    if valid < MIN_VALID_POINTS:
        raise CheckError("cannot test the inequality numerically: too few sample points give real values")


def _critical_zero(difference: sympy.Expr, symbols: list[sympy.Symbol]) -> dict | None:
    """A critical point of the difference where it is 0, or None. In several variables two sides can
    meet at one isolated point (`x^2+y^2` at the origin, so `>0` and `\\neq0` fail there): solving for
    one variable with the others sampled never lands there, nor does a sign change show it, but it is
    a critical point. A symbol that stops at a closed bound (x ≥ 0) adds the faces where it sits at
    that bound: `x+y>0` for x, y ≥ 0 fails at the corner (0, 0), which is no critical point, and
    `e^a b≠0` for b ≥ 0 on the face b = 0, where it is 0 for every a (a symbol a solution leaves
    free takes a point of its domain). Faces are searched corners first (nothing to solve), the
    interior last; all of them in CRITICAL_SECONDS of CPU."""
    from dldeck.timelimit import time_limit

    try:
        with time_limit(CRITICAL_SECONDS):
            for face in _faces(symbols):
                free = [s for s in symbols if s not in face]
                on_face = difference.subs(face)
                gradient = [sympy.diff(on_face, s) for s in free]
                points = sympy.solve(gradient, free, dict=True) if free and on_face != 0 else [{}]
                for point in points[:8]:
                    candidate = _completed({**face, **point}, symbols)
                    if candidate is not None and _is_zero_at(difference, candidate):
                        return candidate
    except Exception:  # noqa: BLE001 - sympy raises many kinds here (and the time limit); any means "none found"
        return None
    return None


def _completed(point: dict, symbols: list[sympy.Symbol]) -> dict | None:
    """The point with every symbol it leaves free (or that its values still mention) at a point of the
    symbol's domain, in symbol order; None if a value is not in its symbol's domain."""
    from dldeck.verify.library import domain_of

    chosen = {s: _inside(domain_of(s)) for s in symbols if s not in point}
    candidate = {}
    for symbol in symbols:
        value = sympy.sympify(point[symbol]).subs(chosen) if symbol in point else chosen[symbol]
        if value.free_symbols or domain_of(symbol).contains(value) is not sympy.true:
            return None
        candidate[symbol] = value
    return candidate


def _inside(domain: sympy.Set) -> sympy.Expr:
    """A point of a domain away from its ends: 1 for x > 0, x ≥ 0, the naturals and the reals."""
    return sympy.Integer(1) if domain.contains(1) is sympy.true else sympy.Integer(-1)


MAX_FACES = 16  # faces tried besides the interior


def _faces(symbols: list[sympy.Symbol]) -> list[dict]:
    """Ways of putting some symbols at a finite end their domain holds (MAX_FACES of them): the full
    corner first, then one symbol at its end and the rest free, then all but one, and so on; the
    empty assignment (the interior) comes last."""
    from itertools import combinations, product

    from dldeck.verify.library import domain_of

    ends: list[list[dict]] = []
    for symbol in symbols:
        domain = domain_of(symbol)
        choices = [{}]
        for end in (domain.inf, domain.sup):  # an end the domain holds: 0 for x ≥ 0 and for the naturals
            if end.is_finite and domain.contains(end) is sympy.true:
                choices.append({symbol: end})
        if len(choices) > 1:
            ends.append(choices)
    faces: list[dict] = []
    # the full corner, then one symbol at its end, then all but one, and so on inwards from both sides
    sizes = sorted(range(1, len(ends) + 1), key=lambda size: (min(len(ends) - size, size - 1), -size))
    for size in sizes:
        for fixed in combinations(ends, size):
            for parts in product(*(choices[1:] for choices in fixed)):
                faces.append({k: v for part in parts for k, v in part.items()})
                if len(faces) == MAX_FACES:
                    return [*faces, {}]
    return [*faces, {}]


def _failed_at(a: sympy.Expr, b: sympy.Expr, point: dict) -> _Failed:
    """An inequality's counterexample: both sides' values at the point."""
    return _Failed(f"at {show_point(point)}: lhs={number(numeric(a, point, CONFIRM_PRECISION))}, "
                   f"rhs={number(numeric(b, point, CONFIRM_PRECISION))}")


# --------------------------------------------------------------------------- approx


def approx(args: list[Any], kwargs: dict[str, Any]) -> None:
    if kwargs.keys() - {"tol"}:
        raise CheckError(
            f"approx() got an unexpected keyword argument {sorted(kwargs.keys() - {'tol'})[0]!r}"
        )
    if not 2 <= len(args) + len(kwargs) <= 3:
        raise CheckError("approx(expr, value) or approx(expr, value, tol)")
    expr = expect_expr(args[0], "approx() expression")
    value = expect_expr(args[1], "approx() value")
    tol = expect_expr(
        args[2] if len(args) == 3 else kwargs.get("tol", DEFAULT_APPROX_TOL), "approx() tolerance"
    )
    for what, item in (("expression", expr), ("value", value), ("tolerance", tol)):
        if item.free_symbols:
            names = ", ".join(sorted(s.name for s in item.free_symbols))
            raise CheckError(f"approx(): the {what} must be a number, but it has free symbols {names}")
    e, v, t = (x.evalf(CONFIRM_PRECISION) for x in (expr, value, tol))
    if not (e.is_real and v.is_real and t.is_real):
        raise CheckError(f"approx(): {show(expr)} or {show(value)} is not a real number")
    if abs(e - v) > t * max(1, abs(v)):
        raise _Failed(f"computed {number(e)}, expected {number(v)} within {number(t)}")


# --------------------------------------------------------------------------- sampling


def _symbol_sample(symbol: sympy.Symbol, rng: random.Random, wide: bool) -> sympy.Expr:
    spread = 20.0 if wide else 5.0
    if symbol.is_integer:
        high = 12 if not wide else 60
        if symbol.is_positive:
            return sympy.Integer(rng.randint(1, high))
        if symbol.is_nonnegative:
            return sympy.Integer(rng.randint(0, high))
        if symbol.is_negative:
            return sympy.Integer(-rng.randint(1, high))
        return sympy.Integer(rng.randint(-high, high))
    if symbol.is_positive:
        value = math.exp(rng.uniform(-4.0, math.log(spread)))
    elif symbol.is_nonnegative:
        value = rng.uniform(0.0, spread)
    elif symbol.is_negative:
        value = -math.exp(rng.uniform(-4.0, math.log(spread)))
    else:
        value = rng.uniform(-spread, spread)
    if symbol.is_nonzero and value == 0:
        value = 0.5
    return sympy.Float(round(value, 6), PRECISION)


def sample_points(symbols: list[sympy.Symbol], rng: random.Random, count: int) -> Iterator[dict]:
    for index in range(count):
        wide = index % 4 == 3
        yield {s: _symbol_sample(s, rng, wide) for s in symbols}


def inequality_points(symbols: list[sympy.Symbol], rng: random.Random) -> Iterator[dict]:
    """A dense grid for one real variable (where extrema hide), the domain's corners and random points
    otherwise."""
    if len(symbols) == 1 and not symbols[0].is_integer:
        x = symbols[0]
        low = 0.0 if (x.is_positive or x.is_nonnegative) else -20.0
        high = 0.0 if x.is_negative else 20.0
        for i in range(INEQUALITY_GRID):
            value = low + (high - low) * i / (INEQUALITY_GRID - 1)
            if (x.is_positive or x.is_negative) and value == 0:
                continue
            yield {x: sympy.Float(round(value, 9), PRECISION)}
    elif len(symbols) == 1:
        x = symbols[0]
        start = 1 if x.is_positive else 0 if x.is_nonnegative else -200
        stop = -1 if x.is_negative else 200
        for value in range(start, stop + 1):
            yield {x: sympy.Integer(value)}
        return
    # the corners and faces of the domain, where random points never land (`x+y\\ge0.001` for x, y ≥ 0)
    yield from (point for face in _faces(symbols) if (point := _completed(face, symbols)) is not None)
    yield from sample_points(symbols, rng, INEQUALITY_RANDOM)


def numeric(expr: sympy.Expr, point: dict, precision: int = 15) -> float | complex | None:
    """The value at a point, or None where undefined (pole, overflow, nan)."""
    try:
        value = _evaluated(expr, point, precision)
    except (ValueError, TypeError, ZeroDivisionError, OverflowError, ArithmeticError):
        return None
    if not value.is_number or value.has(sympy.nan, sympy.zoo, sympy.oo, -sympy.oo):
        return None
    try:
        result = complex(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if math.isnan(result.real) or math.isnan(result.imag) or math.isinf(abs(result)):
        return None
    if abs(result.imag) <= 1e-12 * max(1.0, abs(result.real)):
        return result.real
    return result


def _evaluated(expr: sympy.Expr, point: dict, precision: int) -> sympy.Basic:
    if not point:
        return expr.evalf(precision)
    if _has_infinity(expr):
        # evalf(subs=…) mishandles infinities (1 - exp(oo*sign(log(w))) at w=0.5 gives oo, not 1)
        return expr.subs(point).evalf(precision)
    return expr.evalf(precision, subs=point)


def _has_infinity(expr: sympy.Expr) -> bool:
    """A limit in a parameter is written with oo (`exp(oo*sign(log(w)))`): sympy's evalf(subs=…), its
    nonzero assumption and its solvers are unreliable on such expressions."""
    return expr.has(sympy.oo, -sympy.oo, sympy.zoo)


def _value_or_infinity(expr: sympy.Expr, point: dict) -> float | complex | None:
    """The value at a point, a real infinity there as ±inf, or None where undefined."""
    value = numeric(expr, point)
    return value if value is not None else infinity(expr, point)


def infinity(expr: sympy.Expr, point: dict) -> float | None:
    """±inf where the value at the point is a real infinity (not a complex one or nan), else None."""
    try:
        value = _evaluated(expr, point, PRECISION)
    except (ValueError, TypeError, ZeroDivisionError, OverflowError, ArithmeticError):
        return None
    if value == sympy.oo:
        return math.inf
    if value == -sympy.oo:
        return -math.inf
    return None


# --------------------------------------------------------------------------- formatting


def number(value: Any) -> str:
    if value is None:
        return "undefined"
    if isinstance(value, sympy.Basic):
        if value.is_Integer:
            return str(value)
        value = complex(value) if value.is_number else value
    if isinstance(value, complex):
        if value.imag == 0:
            value = value.real
        else:
            return f"{value.real:.6g}{value.imag:+.6g}i"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.6g}"
    return short(value)


def show(value: Any) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(show(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, str) or value is None:  # None: MultiheadAttention's weights with need_weights=False
        return repr(value)
    if isinstance(value, sympy.Basic) or isinstance(value, bool):
        return short(value, 80)
    return describe(value)


def show_point(point: dict) -> str:
    return ", ".join(f"{symbol.name}={number(value)}" for symbol, value in point.items())
