"""The public entry points of the check language: a card's statements, its scope, one expression.

The pieces live in syntax.py (reading and the whitelist), evaluate.py (scope and evaluator),
values.py (guarded operators) and library.py (built-in names); callers outside verify/ need only
these functions (and `dldeck.verify.shown.scope_for_card`, which adds the card's shown formulas).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import sympy

from dldeck.errors import BuildError, Diagnostic, quote
from dldeck.model import Card, CheckBlock, SourceSpan
from dldeck.timelimit import TimeLimitExceeded
from dldeck.verify.evaluate import Evaluator, Scope
from dldeck.verify.library import BUILTIN_NAMES
from dldeck.verify.syntax import (
    MAX_LINE_CHARS,
    CheckError,
    Statement,
    parse_expression,
    parse_statement,
    split_statements,
)
from dldeck.verify.values import describe


def statements_of_card(card: Card) -> Iterator[Statement | CheckError]:
    """Every statement of every check block of a card, in order; parse errors are yielded, not raised."""
    for block in card.checks:
        yield from statements_of_block(block)


def statements_of_block(block: CheckBlock) -> Iterator[Statement | CheckError]:
    """The statements of one check block, in order; parse errors are yielded, not raised."""
    try:
        for line, text in split_statements(block.source, block.line_of(0)):
            if isinstance(text, CheckError):
                yield text
                continue
            try:
                yield parse_statement(text, line, BUILTIN_NAMES)
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
