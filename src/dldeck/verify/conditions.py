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
from collections.abc import Sequence

from dldeck.verify.syntax import definition_head
from dldeck.verify.tex_idioms import under

# --------------------------------------------------------------------------- deciding under conditions


def apply(conditions: Sequence[ast.expr], claim: ast.expr) -> list[ast.expr]:
    """`claim` decided under the sentence's conditions, in order: one or more claims (a chain condition
    splits the claim into links, as `under` does)."""
    claims = [claim]
    for condition in conditions:
        if not isinstance(condition, ast.Compare):
            continue
        if len(condition.ops) == 1 and isinstance(condition.ops[0], ast.Eq):
            claims = [_substitute(c, condition.left, condition.comparators[0]) for c in claims]
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


def _substitute(claim: ast.expr, left: ast.expr, right: ast.expr) -> ast.expr:
    """`name = value` (or `value = name`) replaces the name; `f(x) = body` replaces each call of `f`.
    An equality of two expressions says nothing a substitution can use: the claim stays as it is."""
    head = definition_head(left)
    if head is None and isinstance(right, ast.Name):
        head, left, right = (right.id, ()), right, left
    if head is None:
        return claim
    name, params = head
    return _Replace(name, params, right).visit(copy.deepcopy(claim))


class _Replace(ast.NodeTransformer):
    """Replaces the name `name` by `body`, or, with `params`, each call `name(a, b)` by `body` with the
    parameters replaced by the arguments all at once (so `f(y, 1)` of `f(x, y) = x + y` is `y + 1`)."""

    def __init__(self, name: str, params: tuple[str, ...], body: ast.expr) -> None:
        self.name, self.params, self.body = name, params, body

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id == self.name and not self.params:
            return copy.deepcopy(self.body)
        return node

    def visit_Call(self, node: ast.Call) -> ast.expr:
        node.args = [self.visit(arg) for arg in node.args]
        node.keywords = [self.visit(keyword) for keyword in node.keywords]
        if (isinstance(node.func, ast.Name) and node.func.id == self.name and self.params
                and len(node.args) == len(self.params) and not node.keywords):
            return _Arguments(dict(zip(self.params, node.args, strict=True))).visit(copy.deepcopy(self.body))
        return node


class _Arguments(ast.NodeTransformer):
    def __init__(self, values: dict[str, ast.expr]) -> None:
        self.values = values

    def visit_Name(self, node: ast.Name) -> ast.expr:
        return copy.deepcopy(self.values[node.id]) if node.id in self.values else node
