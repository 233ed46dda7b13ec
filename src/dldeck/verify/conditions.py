"""Conditions stated in prose: `当 $x>0$ 时`, `$\\eta=2/L$ 的时候`, `若 $b_f=0$`, `when $n=4$`.

Such a formula is not a claim and never a definition for the whole card: it holds for the rest of its
sentence only (`dldeck.verify.sentences` finds which formulas are conditions, and their sentences).
`apply` rewrites a later claim of the same sentence to be decided under the
conditions: an equality with a name (or `f(x)`) on one side is substituted, any other comparison
restricts the claim to where it holds (`under`, as `\\text{if}` inside a formula does).
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable, Sequence

from dldeck.verify.syntax import CheckError, definition_head
from dldeck.verify.tex_idioms import make_call, make_name, under

# --------------------------------------------------------------------------- deciding under conditions

# Nodes a sentence's substitutions may copy into one claim: `$a = b + b$`, `$b = c + c$`, … 时 would
# otherwise double the claim with every condition.
MAX_SUBSTITUTED_NODES = 20_000


def apply(conditions: Sequence[ast.expr], claim: ast.expr,
          reaches: Callable[[str], set[str]] | None = None) -> list[ast.expr]:
    """`claim` decided under the sentence's conditions, in order: one or more claims (a chain condition
    splits the claim into links, as `under` does). `reaches(n)` names what the card's definition of n
    uses, directly or not: a side naming such a definition gets a value's name through `with_value`.
    Raises CheckError when substituting would copy more than MAX_SUBSTITUTED_NODES nodes."""
    claims = [claim]
    budget = [MAX_SUBSTITUTED_NODES]
    for condition in conditions:
        if not isinstance(condition, ast.Compare):
            continue
        if len(condition.ops) == 1 and isinstance(condition.ops[0], ast.Eq):
            value = condition.comparators[0]
            claims = [_substitute(c, condition.left, value, budget, reaches) for c in claims]
            continue
        left = condition.left
        for op, right in zip(condition.ops, condition.comparators, strict=True):
            link = ast.Compare(left=left, ops=[op], comparators=[right])
            claims = [piece for c in claims for piece in under(c, link)]
            left = right
    return claims


def resets(conditions: Sequence[ast.expr], statement: ast.expr | None) -> bool:
    """`$\\lambda=1$` after `$\\lambda=\\frac12$ 时` in one sentence: a name the sentence already gave
    a value is given another (the next case), not claimed equal to it."""
    name = _assigned(statement)
    return name is not None and any(_assigned(condition) == name for condition in conditions)


def _assigned(condition: ast.expr | None) -> str | None:
    if (isinstance(condition, ast.Compare) and len(condition.ops) == 1
            and isinstance(condition.ops[0], ast.Eq) and isinstance(condition.left, ast.Name)):
        return condition.left.id
    return None


def substitute_name(claim: ast.expr, name: str, value: ast.expr) -> ast.expr:
    """`claim` with the name replaced by `value` (a name bound inside it, as a limit's variable, kept)."""
    budget = [MAX_SUBSTITUTED_NODES]
    return _Replace(name, (), value, budget).visit(_copy(claim, budget))


def _copy(node: ast.expr, budget: list[int]) -> ast.expr:
    budget[0] -= sum(1 for _ in ast.walk(node))
    if budget[0] < 0:
        raise CheckError(f"the claim grows over {MAX_SUBSTITUTED_NODES:,} symbols once the conditions of its "
                         "sentence are substituted")
    return copy.deepcopy(node)


def _substitute(claim: ast.expr, left: ast.expr, right: ast.expr, budget: list[int],
                reaches: Callable[[str], set[str]] | None = None) -> ast.expr:
    """`name = value` (or `value = name`) replaces the name; `f(x) = body` replaces each call of `f`.
    An equality of two expressions says nothing a substitution can use: the claim stays as it is."""
    head = definition_head(left)
    if head is None and isinstance(right, ast.Name):
        head, left, right = (right.id, ()), right, left
    if head is None:
        return claim
    name, params = head
    replaced = _Replace(name, params, right, budget).visit(_copy(claim, budget))
    if params or reaches is None:
        return replaced
    # names the card defines through the example's name (`\bar\rho` of `\rho`) take its value too
    def valued(side: ast.expr) -> ast.expr:
        through = any(isinstance(node, ast.Name) and name in reaches(node.id) for node in ast.walk(side))
        return make_call("with_value", side, make_name(name), right) if through else side

    if isinstance(replaced, ast.Compare):
        replaced.left = valued(replaced.left)
        replaced.comparators = [valued(side) for side in replaced.comparators]
    elif isinstance(replaced, ast.Call) and getattr(replaced.func, "id", "") == "approx":
        replaced.args = [valued(arg) for arg in replaced.args[:2]] + replaced.args[2:]
    return replaced


class _Replace(ast.NodeTransformer):
    """Replaces the name `name` by `body`, or, with `params`, each call `name(a, b)` by `body` with the
    parameters replaced by the arguments all at once (so `f(y, 1)` of `f(x, y) = x + y` is `y + 1`)."""

    def __init__(self, name: str, params: tuple[str, ...], body: ast.expr, budget: list[int]) -> None:
        self.name, self.params, self.body, self.budget = name, params, body, budget

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id == self.name and not self.params:
            return _copy(self.body, self.budget)
        return node

    def visit_Call(self, node: ast.Call) -> ast.expr:
        bound = self._binds_name(node)
        if bound is not None:
            return bound
        node.args = [self.visit(arg) for arg in node.args]
        node.keywords = [self.visit(keyword) for keyword in node.keywords]
        if (isinstance(node.func, ast.Name) and node.func.id == self.name and self.params
                and len(node.args) == len(self.params) and not node.keywords):
            values = dict(zip(self.params, node.args, strict=True))
            return _Arguments(values, self.budget).visit(_copy(self.body, self.budget))
        return node


    def _binds_name(self, node: ast.Call) -> ast.expr | None:
        """A call that binds the replaced name as its variable (`\\lim_{x\\to0}`, `\\sum_k`, `\\frac{d}{dx}`
        under `x = 2`): only its point and bounds are replaced — a limit at 0 stays one — and a
        derivative or antiderivative is taken first, then evaluated at the value. None for other calls."""
        if self.params or not isinstance(node.func, ast.Name) or not node.args:
            return None
        function, args = node.func.id, node.args
        spec = args[1] if len(args) > 1 else None
        variable = spec.elts[0] if isinstance(spec, ast.Tuple) and spec.elts else spec
        if not (isinstance(variable, ast.Name) and variable.id == self.name):
            return None
        if function == "limit":
            node.args = [args[0], args[1], *(self.visit(arg) for arg in args[2:])]
        elif function in _BOUNDED and isinstance(spec, ast.Tuple):
            spec.elts = [spec.elts[0], *(self.visit(bound) for bound in spec.elts[1:])]
        elif function in _AT_A_POINT:
            node.args = [args[0], args[1], *(self.visit(arg) for arg in args[2:])]
            at = [node, ast.Name(id=self.name, ctx=ast.Load()), _copy(self.body, self.budget)]
            return ast.Call(func=ast.Name(id="subs", ctx=ast.Load()), args=at, keywords=[])
        elif function not in _FREE_OF_IT:
            return None
        return node


# Calls that bind their second argument (or the first item of it): the result does not depend on it …
_BOUNDED = frozenset({"sum", "Sum", "product", "Product", "integrate"})
_FREE_OF_IT = frozenset({"maximum", "minimum", "argmax", "argmin"})
# … or depends on it as a function does (a derivative, an antiderivative: evaluated at the value)
_AT_A_POINT = frozenset({"diff", "integrate"})


class _Arguments(ast.NodeTransformer):
    def __init__(self, values: dict[str, ast.expr], budget: list[int]) -> None:
        self.values, self.budget = values, budget

    def visit_Name(self, node: ast.Name) -> ast.expr:
        return _copy(self.values[node.id], self.budget) if node.id in self.values else node
