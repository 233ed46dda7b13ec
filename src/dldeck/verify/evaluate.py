"""Evaluation: a card's scope of definitions and symbols, and the walk over a validated AST.

Only the names in the library, the card's own definitions and plain symbols are known; every
arithmetic step goes through the guarded operators in values.py.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sympy

from dldeck.errors import quote
from dldeck.verify.library import CONSTANTS, FUNCTIONS, facts_directory, load_facts
from dldeck.verify.syntax import ASSUMPTION_WORDS, MAX_CALL_DEPTH, CheckError, Statement, literal_index
from dldeck.verify.values import binary, expect_expr, is_matrix, logical_not, negate, relation


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
            return binary(node.op, self._eval(node.left, env, defs), self._eval(node.right, env, defs),
                          product=getattr(node, "dldeck_product", False))
        if isinstance(node, ast.UnaryOp):
            operand = self._eval(node.operand, env, defs)
            if isinstance(node.op, ast.Not):
                return logical_not(operand)
            if isinstance(node.op, ast.USub):
                return negate(operand)
            return operand if is_matrix(operand) else expect_expr(operand, "operand of unary plus")
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
        parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        indices = [literal_index(part) for part in parts]
        assert all(i is not None for i in indices)  # validate() admits literal indices only
        if is_matrix(container):
            return _matrix_entry(container, [int(i) for i in indices if i is not None])
        if not isinstance(container, tuple):
            raise CheckError("only tuples, lists and matrices can be indexed")
        if len(indices) != 1:
            raise CheckError("a tuple takes one index, e.g. t[0]")
        index = int(indices[0] or 0)
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


def _matrix_entry(matrix: Any, indices: list[int]) -> Any:
    """M[i, j]; a vector (one row or one column) also takes v[i]. Negative indices count from the end."""
    rows, cols = matrix.shape
    if len(indices) == 1:
        if 1 not in (rows, cols):
            raise CheckError(f"a {rows}×{cols} matrix takes two indices, e.g. M[0, 1]")
        indices = [indices[0], 0] if cols == 1 else [0, indices[0]]
    for index, size, what in zip(indices, (rows, cols), ("row", "column"), strict=True):
        if not -size <= index < size:
            raise CheckError(f"{what} index {index} out of range for a {rows}×{cols} matrix")
    return matrix[indices[0], indices[1]]
