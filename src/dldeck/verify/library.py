"""The built-in names of the check language: functions, constants and the reviewed facts.

The layer arithmetic (the layers package), the matrices and the number formats each export their
functions as a plain dict that is merged here, so no module registers itself into another at
import time.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sympy
from sympy import Integer, Rational

from dldeck.contain import Refused, read_content
from dldeck.errors import quote
from dldeck.verify import dtypes, matrices
from dldeck.verify.layers import LAYER_FUNCTIONS
from dldeck.verify.syntax import MAX_FACTORIAL_ARG, CheckError
from dldeck.verify.tex_tokens import GREEK
from dldeck.verify.values import (
    Builtin,
    check_size,
    describe,
    expect_expr,
    guarded_pow,
    is_matrix,
    short,
    simplified,
)

if TYPE_CHECKING:
    from dldeck.verify.evaluate import Evaluator


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
    if is_matrix(args[0]):
        return matrices.elementwise(args[0], lambda entry: _diff(_, [entry, *args[1:]], kwargs))
    f = expect_expr(args[0], "diff() expression")
    x = _symbol_arg(args[1], "diff")
    _refuse_constant_family(f, x, f"diff() in {x}")
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
    _refuse_constant_family(f, x, f"limit() in {x}")
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
        _refuse_constant_family(f, x, f"integrate() in {x}")
        a, b = (expect_expr(v, "integration bound") for v in spec[1:])
        return sympy.integrate(f, (x, a, b))
    x = _symbol_arg(spec, "integrate")
    _refuse_constant_family(f, x, f"integrate() in {x}")
    return sympy.integrate(f, x)


def _bounded(name: str, operation: type[sympy.Sum] | type[sympy.Product]) -> Builtin:
    """sum(f, (k, a, b)) and product(f, (k, a, b)); a product over a numeric range is size-limited."""

    def call(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
        _arity(name, args, kwargs, 2, 2)
        f = expect_expr(args[0], f"{name}() expression")
        spec = args[1]
        if not (isinstance(spec, tuple) and len(spec) == 3):
            raise CheckError(f"{name}(f, (k, a, b)) needs a variable and two bounds")
        k = _symbol_arg(spec[0], name)
        _refuse_constant_family(f, k, f"{name}() over {k}")
        a, b = (expect_expr(v, f"{name}() bound") for v in spec[1:])
        if operation is sympy.Product and (b - a).is_Number and abs(b - a) > MAX_FACTORIAL_ARG:
            raise CheckError(f"product over {short(b - a + 1)} factors refused (limit {MAX_FACTORIAL_ARG})")
        return check_size(operation(f, (k, a, b)).doit())

    return call


def _refuse_constant_family(f: sympy.Expr, x: sympy.Symbol, where: str) -> None:
    """An undefined name subscripted with the variable (`x_i` in a sum over i, `a_n` in a limit in n)
    is one symbol, the same in every term and constant in x: `\\frac1n\\sum_{i=1}^{n}x_i=x_i` and
    `\\lim_{n\\to\\infty}a_n=a_n` would hold. Refused, with what to do instead."""
    constant = sorted(s.name for s in f.free_symbols if _indexed_by(s.name, x.name))
    if constant:
        raise CheckError(
            f"{where}: {', '.join(constant)} is one value here, not one per {x} (an undefined name is a "
            f"constant, whatever its subscript): define it as an expression in {x} ({constant[0]} := …), "
            "or write the terms out")


def _indexed_by(name: str, index: str) -> bool:
    """Whether a symbol's subscript names the index: `x_i`, `a_ii`, `x_2i`, `w_ij` for i or j, `y_hat_i`,
    `r_ttau` for tau, `x_alphai`. A subscript is read as Greek names, letters and digits (`phi` is one
    name, not p, h, i); one that is a word (`n_in`, `L_task`) names no index."""
    for part in name.split("_")[1:]:
        if part == index:
            return True
        if part in _SUBSCRIPT_WORDS:
            continue
        tokens = _index_tokens(part)
        if tokens is not None and index in tokens and len(tokens) <= 4:
            return True
    return False


def _index_tokens(part: str) -> list[str] | None:
    """A subscript as index names, Greek names first (longest), else single letters and digits."""
    tokens, at = [], 0
    while at < len(part):
        greek = next((g for g in _GREEK_NAMES if part.startswith(g, at)), None)
        if greek is not None:
            tokens.append(greek)
            at += len(greek)
        elif part[at].isalnum():
            tokens.append(part[at])
            at += 1
        else:
            return None
    return tokens


_GREEK_NAMES = sorted(set(GREEK.values()), key=len, reverse=True)
# Subscripts that are words, not index letters: `n_in` in a sum over i is not indexed by i.
_SUBSCRIPT_WORDS = frozenset({
    "in", "out", "max", "min", "hat", "bar", "tilde", "star", "ref", "avg", "std", "tot", "old", "new", "mid",
    "lo", "hi", "eff", "rel", "pos", "neg", "sum", "task", "kl", "mask", "tok", "ctx", "next", "last", "head",
    "prev", "init", "test", "train", "data", "gen", "real", "fake", "enc", "dec", "attn", "ffn", "emb", "ln",
    "proj", "aux", "soft", "hard", "cls", "obj", "box", "img", "txt", "loss", "lr", "wd", "best", "opt",
    "true", "pred", "gt", "all", "seq", "eps", "safe", "warm", "peak", "plain", "full", "rec", "kv", "ff"})


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


def extremum(f: sympy.Expr, x: sympy.Symbol, upper: bool) -> sympy.Expr:
    """sympy's supremum (`upper`) or infimum of `f` over x's domain, remembered by the process: a
    shown bound is proved from the extremum of its side and then checked to be reached with the same
    one, and cards restate the same bounds (tanh's, the sigmoid's). What sympy raises is raised, and
    not remembered."""
    return _extremum_of(f, x, upper)  # positional: lru_cache keys `upper=True` apart from `True`


@functools.lru_cache(maxsize=256)
def _extremum_of(f: sympy.Expr, x: sympy.Symbol, upper: bool) -> sympy.Expr:
    from sympy.calculus.util import maximum, minimum

    return (maximum if upper else minimum)(f, x, domain_of(x))


def _extremum(name: str) -> Builtin:
    def call(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
        _arity(name, args, kwargs, 2, 2)
        f = expect_expr(args[0], f"{name}() expression")
        x = _symbol_arg(args[1], name)
        domain = domain_of(x)
        if domain.is_subset(sympy.S.Integers):
            raise CheckError(f"{name}(): {x} is an integer; extrema are only searched over real intervals")
        try:
            value = extremum(f, x, upper=name in ("maximum", "argmax"))
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
    hits = [p for p in points if simplified(f.subs(x, p) - value) == 0]
    if not hits:
        raise CheckError(
            f"{name}(): the {'maximum' if name == 'argmax' else 'minimum'} "
            f"{sympy.sstr(value)} is not attained at a point sympy can find"
        )
    unique = list(dict.fromkeys(hits))
    return unique[0] if len(unique) == 1 else tuple(sorted(unique, key=sympy.default_sort_key))


def _subs(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    _arity("subs", args, kwargs, 3, 3)
    if is_matrix(args[0]):
        return matrices.elementwise(args[0], lambda entry: _subs(_, [entry, *args[1:]], kwargs))
    f = expect_expr(args[0], "subs() expression")
    x = _symbol_arg(args[1], "subs")
    value = expect_expr(args[2], "subs() value")
    _refuse_exploding_substitution(f, x, value)
    return check_size(f.subs(x, value))


def _with_value(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """`with_value(side, x, v)`: a claim's side under an example value `x = v` (verify/conditions.py
    wraps them): x is already replaced where the claim names it; this gives it the value inside the
    names the card defines through it too (`\\bar\\rho` after `$\\rho=1.5$`). Unlike `subs`, what does
    not contain x (a tuple, a string) is left as it is."""
    _arity("with_value", args, kwargs, 3, 3)
    x = _symbol_arg(args[1], "with_value")
    value = expect_expr(args[2], "with_value() value")
    return _valued(args[0], x, value)


def _valued(item: Any, x: sympy.Symbol, value: sympy.Expr) -> Any:
    if isinstance(item, tuple):
        return tuple(_valued(part, x, value) for part in item)
    if is_matrix(item):
        return matrices.elementwise(item, lambda entry: _valued(entry, x, value))
    if isinstance(item, sympy.Basic) and x in item.free_symbols:
        _refuse_exploding_substitution(item, x, value)
        return check_size(item.subs(x, value))
    return item


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
    if is_matrix(args[0]):
        return matrices.elementwise(args[0], sympy.expand)
    return sympy.expand(expect_expr(args[0], "expand() argument"))


def _simplify(_: Evaluator, args: list[Any], kwargs: dict[str, Any]) -> Any:
    _arity("simplify", args, kwargs, 1, 1)
    if is_matrix(args[0]):
        return matrices.elementwise(args[0], simplified)
    return simplified(expect_expr(args[0], "simplify() argument"))


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
    "sum": _bounded("sum", sympy.Sum),
    "Sum": _bounded("sum", sympy.Sum),
    "product": _bounded("product", sympy.Product),
    "Product": _bounded("product", sympy.Product),
    "diff": _diff,
    "limit": _limit,
    "integrate": _integrate,
    "maximum": _extremum("maximum"),
    "minimum": _extremum("minimum"),
    "argmax": _extremum("argmax"),
    "argmin": _extremum("argmin"),
    "subs": _subs,
    "with_value": _with_value,
    "simplify": _simplify,
    "expand": _expand,
    "approx": _approx_outside_claim,
    "fact": _fact,
    **LAYER_FUNCTIONS,
    **matrices.FUNCTIONS,
    **dtypes.FUNCTIONS,
}

BUILTIN_NAMES: frozenset[str] = frozenset(FUNCTIONS) | frozenset(CONSTANTS)

# --------------------------------------------------------------------------- facts


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
            data = tomllib.loads(read_content(path, directory).decode("utf-8"))
        except (tomllib.TOMLDecodeError, Refused, UnicodeDecodeError) as error:
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
