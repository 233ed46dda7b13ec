"""What the learner reads is what was verified: a card's shown formulas and computed numbers as claims.

`card_statements` yields, in document order (question, answer, extra), the statements of the card's
check blocks and the definitions of its shown formulas (read by `dldeck.verify.tex`); then the
relations its formulas state, and last one statement per computed number. A definition in a formula
(`\\sigma(x)=…`, `\\mu_B=…`) is in scope for later formulas, checks and figures, unless a check block
of the card defines that name: then the formula is a claim that both agree. The relations are decided
after the card's own checks because authors show a formula first and define its names below it: a
formula reads `\\sigma(2x)` as a call when any check block of the card defines `sigma(x)`. A formula
`name = number` or `name = other_name` (`$\\gamma=2$`, `$G=C$`) gives a value for an example and
defines nothing: the later claims of its paragraph are decided at that value (as under a prose
condition, see `dldeck.verify.conditions`), so a wrong example value fails where it is used.
Formulas marked `% exempt:` are counted, not read; those marked `% wrong:` must fail.

Outside strict mode, a relation that fails only for some values of its free symbols (`$x>0$`,
`$|w|<1$`: a condition, not a claim for all x) is counted as unread, not as an error: the reading may
lack what the prose around it says (see `doubt`). A failure with no free symbol is always an error.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import sympy

from dldeck.errors import BuildError, Diagnostic, quote
from dldeck.model import Card, CheckBlock, Computed, DisplayMath, Math
from dldeck.source.reader import shown_nodes
from dldeck.timelimit import time_limit
from dldeck.verify.claims import check_claim, one_line
from dldeck.verify.conditions import apply, resets
from dldeck.verify.evaluate import Evaluator, Scope
from dldeck.verify.language import execute_definition, new_scope, statements_of_block
from dldeck.verify.library import CONSTANTS, FUNCTIONS
from dldeck.verify.numbers import FormatError, format_value
from dldeck.verify.results import AT_EXAMPLE, PASSED, ClaimResult
from dldeck.verify.sentences import Place, places
from dldeck.verify.syntax import CheckError, Statement, parse_expression, validate
from dldeck.verify.tex import definition_of, read_formula, states_relation, strip_cloze
from dldeck.verify.tex_idioms import conditions_under
from dldeck.verify.tightness import REACH_SECONDS, unreached
from dldeck.verify.values import describe


@dataclass(frozen=True)
class FormulaStatement(Statement):
    """A statement read from a shown formula: `tex` is what the learner sees, for messages."""

    tex: str = ""
    wrong: bool = False
    reason: str = ""
    # the claim at the example values given before it in its paragraph: decided when the claim does not
    # hold for all values (`$n=4$，$n^2=16$`), so a general identity stays verified in general
    at_example: ast.expr | None = None
    # a definition no claim of the card uses, directly or through other definitions: why it guards nothing
    unused: str = ""


@dataclass(frozen=True)
class ComputedStatement(Statement):
    """A computed number: `text` is its expression, evaluated with the card's whole scope."""

    format: str = ""
    index: int = 0


@dataclass(frozen=True)
class FormulaNote:
    """A shown formula that gives nothing to run: exempt, unread, or a value for an example."""

    status: str  # "exempt" | "exempt expression" | "unread" | "setting" | "unused"
    tex: str
    line: int
    message: str = ""
    text: str = ""
    condition: ast.expr | None = None  # a setting's comparison, as later claims are decided under it


Item = Statement | CheckError | FormulaNote


# --------------------------------------------------------------------------- statements


class _Names:
    """What the card has defined so far, and where: decides definitions versus claims."""

    def __init__(self, card: Card) -> None:
        self.defined: set[str] = set()
        # Names the card's check blocks define, wherever they are: formulas above them use them.
        checks = [item for block in card.checks for item in statements_of_block(block)
                  if isinstance(item, Statement)]
        # a formula never defines what a check defines or assumes: it states a claim about it
        self.by_checks = {item.name for item in checks if item.kind == "define"}
        self.assumed = {name for item in checks if item.kind == "assume" for name in item.assumed}
        self.functions = {item.name for item in checks if item.kind == "define" and item.params}
        self.uses: dict[str, set[str]] = {}  # a definition → the names its body uses
        for item in checks:
            if item.kind == "define":
                self._record(item)

    def add(self, statement: Statement) -> None:
        self.defined.add(statement.name)
        if statement.params:
            self.functions.add(statement.name)
        self._record(statement)

    def _record(self, statement: Statement) -> None:
        if statement.body is not None:
            used = _names_in(statement.body) - set(statement.params)
            self.uses.setdefault(statement.name, set()).update(used)

    def reaches(self, name: str) -> set[str]:
        """Every name the card's definition of `name` uses, directly or through other definitions."""
        seen: set[str] = set()
        todo = list(self.uses.get(name, ()))
        while todo:
            other = todo.pop()
            if other not in seen:
                seen.add(other)
                todo.extend(self.uses.get(other, ()))
        return seen


def card_statements(card: Card) -> Iterator[Item]:
    """Every statement of the card's checks and shown formulas in document order, then its computed
    numbers; problems are yielded (CheckError, FormulaNote), never raised."""
    names = _Names(card)
    notation = dict(card.notation)
    computed: list[Computed] = []
    relations: list[Item] = []
    ordered: list[Item] = []
    waiting: list[Statement] = []  # formula definitions that use a name a check below defines
    where = places(card)
    conditions: dict[int, list[ast.expr]] = {}  # sentence → its conditions so far
    examples: dict[int, list[ast.expr]] = {}  # paragraph → the example values it has given so far
    mentioned: dict[int, set[str]] = {}  # id of a setting's comparison → names of claims decided under it
    for node in shown_nodes(card):
        if isinstance(node, CheckBlock):
            for check in statements_of_block(node):
                ordered.append(_check_item(check, names))
                # a waiting definition takes effect as soon as the check lines it uses have run, so
                # the check lines after them may call it
                ready = [item for item in waiting if not _uses_later(item, names)]
                ordered.extend(ready)
                waiting = [item for item in waiting if all(item is not r for r in ready)]
                relations = [item for item in relations if all(item is not r for r in ready)]
        elif isinstance(node, Computed):
            computed.append(node)
        else:
            place = where.get(id(node), Place(0, False))
            sentence = conditions.setdefault(place.sentence, []) if place.sentence else []
            example = examples.setdefault(place.run, []) if place.run else []
            for item in _formula_items(node, names, notation, sentence, place.condition, example, mentioned):
                if isinstance(item, Statement) and item.kind == "define" and not _uses_later(item, names):
                    ordered.append(item)
                else:
                    if isinstance(item, Statement) and item.kind == "define":
                        waiting.append(item)
                    relations.append(item)
    if any(isinstance(item, FormulaStatement) for item in ordered):
        # A formula definition above a check block would make its symbols before the block assumes
        # them: the card's assumptions then hold from its start.
        assumptions = [item for item in ordered if isinstance(item, Statement) and item.kind == "assume"]
        ordered = assumptions + [item for item in ordered if item not in assumptions]
    relations = _mark_unused(relations, names, mentioned)
    numbers: list[Item] = []
    for node in computed:
        try:
            body = parse_expression(node.expression, node.span.line)
            numbers.append(ComputedStatement("computed", node.expression, node.span.line, body=body,
                                             format=node.format, index=node.index))
        except CheckError as error:
            error.line = error.line or node.span.line
            error.text = node.expression
            numbers.append(error)
    used = _used_by_claims([*ordered, *relations, *numbers], names)
    yield from (_unused_definition(item, used) for item in ordered)
    yield from (_unused_definition(item, used) for item in relations)
    yield from numbers


def _names_in(node: ast.expr) -> set[str]:
    """Every name a node uses, functions it calls included (a function may be defined through a name)."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _used_by_claims(items: list[Item], names: _Names) -> set[str]:
    """Every name a claim of the card (a check line, a shown relation, a computed number) uses, directly
    or through the definitions it uses."""
    used: set[str] = set()
    for item in items:
        if isinstance(item, Statement) and item.kind not in ("define", "assume"):
            for body in (item.body, getattr(item, "at_example", None)):
                if body is not None:
                    used |= _names_in(body)
    return used.union(*(names.reaches(name) for name in used))


def _unused_definition(item: Item, used: set[str]) -> Item:
    """A shown definition no claim uses is read by the learner and checked by nothing: a changed
    coefficient would pass. Its name is still defined (figures and later lines may read it)."""
    if isinstance(item, FormulaStatement) and item.kind == "define" and item.name not in used:
        return dataclasses.replace(item, unused=(
            f"the definition of {item.name} is used by no claim of its card: a changed term would pass; "
            "state what follows from it (a relation, a check line or a computed number that uses it)"))
    return item


def _given(condition: ast.expr) -> set[str]:
    """The names a setting gives a value or a range: `β = μ_B`, `β ≠ μ_B` give β (a claim mentioning only
    μ_B does not use it); `0 < η < 2/λ` restricts every name it mentions."""
    if (isinstance(condition, ast.Compare) and len(condition.ops) == 1
            and isinstance(condition.ops[0], ast.Eq | ast.NotEq) and isinstance(condition.left, ast.Name)):
        return {condition.left.id}
    return _names_in(condition)


def _mention(givens: list[ast.expr], claim: ast.expr, mentioned: dict[int, set[str]]) -> None:
    for given in givens:
        mentioned.setdefault(id(given), set()).update(_names_in(claim))


def _mark_unused(relations: list[Item], names: _Names, mentioned: dict[int, set[str]]) -> list[Item]:
    """A setting no claim decided under it uses (directly, or through a name the card defines from it)
    guards nothing: a changed value passes. Counted as unused; a `≠` is unread (see `_idle_condition`)."""

    def reach(used: set[str]) -> set[str]:
        return used.union(*(names.reaches(name) for name in used))

    marked: list[Item] = []
    for item in relations:
        if isinstance(item, FormulaNote) and item.status == "setting" and item.condition is not None:
            if not _given(item.condition) & reach(mentioned.get(id(item.condition), set())):
                item = _idle_condition(item) if _differs(item) else dataclasses.replace(
                    item, status="unused", message=(
                        f"«{item.text}» is used by no claim after it in its {_scope_word(item)}: a changed "
                        "value would pass; show what follows from it (a formula or a computed number)"))
        marked.append(item)
    return marked


def _scope_word(note: FormulaNote) -> str:
    return "sentence" if "sentence" in note.message else "paragraph"


def _differs(note: FormulaNote) -> bool:
    condition = note.condition
    return isinstance(condition, ast.Compare) and all(isinstance(op, ast.NotEq) for op in condition.ops)


def _idle_condition(note: FormulaNote) -> FormulaNote:
    """`$d\\neq768$ 时` with no claim after it that uses d: a `≠` restricts nothing there (an `=` would be
    an example value, a `<` a range the question asks about), so it states nothing."""
    return dataclasses.replace(note, status="unread", message=(
        f"«{note.text}» is a condition no claim of its sentence is decided under, so it states nothing: "
        "give the value with =, or state the claim it is the condition of in the same sentence"))


def _uses_later(definition: Statement, names: _Names) -> bool:
    """A formula definition that uses a name a check block defines further down waits for it (run in
    reading order it would make that name a symbol, and the check's `:=` would fail)."""
    assert definition.body is not None
    pending = names.by_checks - names.defined
    return any(isinstance(node, ast.Name) and node.id in pending for node in ast.walk(definition.body))


def _check_item(item: Statement | CheckError, names: _Names) -> Statement | CheckError:
    if isinstance(item, Statement) and item.kind == "define":
        names.add(item)
    return item


def _formula_items(node: Math | DisplayMath, names: _Names, notation: dict[str, str],
                   sentence: list[ast.expr], condition: bool, examples: list[ast.expr],
                   mentioned: dict[int, set[str]]) -> Iterator[Item]:
    """The formula's statements. `sentence` holds the conditions stated so far in its sentence (a
    condition formula adds to it; the other formulas of the sentence are claims decided under them).
    `examples` holds the example values given so far in its paragraph (`$n=1024$`, `$G=1$`): the
    paragraph continues the example, so its later claims are decided at those values too, and a wrong
    value fails there (definitions stay general: an example does not make `$f(x)=…$` a claim)."""
    line = node.span.line
    if node.claim == "exempt":
        status = "exempt" if states_relation(node.tex, line) else "exempt expression"
        yield FormulaNote(status, node.tex, line, node.reason)
        return
    try:
        callable_names = frozenset(names.functions | set(FUNCTIONS))
        statements = read_formula(strip_cloze(node.tex), line, functions=callable_names, notation=notation)
    except CheckError as error:
        yield FormulaNote("unread", node.tex, line, error.message)
        return
    wrong = node.claim == "wrong"
    for statement in statements:
        body = statement.body
        example = not wrong and isinstance(body, ast.Compare) and _example(statement, names)
        as_condition = (condition and _free(body, names)) or resets(sentence, body) \
            or bool(sentence and example)
        if as_condition and not wrong and isinstance(body, ast.Compare):
            sentence[:] = [c for c in sentence if not resets([c], body)] + [body]
            yield FormulaNote("setting", node.tex, line, "a condition for the rest of its sentence",
                              text=statement.text, condition=body)
            continue
        if example:
            assert isinstance(body, ast.Compare)
            examples[:] = [c for c in examples if not resets([c], body)] + [body]
            yield FormulaNote("setting", node.tex, line, "an example value for the rest of its paragraph",
                              text=statement.text, condition=body)
            continue
        if sentence and body is not None:
            _mention(examples + sentence, body, mentioned)
            yield from _decided_under(examples + sentence, body, node, wrong, names)
            continue
        if not wrong:
            definition = definition_of(statement, frozenset(names.defined | names.by_checks))
            if definition is not None and definition.name in names.assumed:
                # a name a check assumes is the checks' symbol: `$G=1$` is a case of it (an example value,
                # above), anything else a claim about it (an assumed parameter, `$\sigma(x)=…$` under
                # `assume x: real`, is fine)
                definition = None
            if definition is not None:
                names.add(definition)
                yield FormulaStatement(**_fields(definition), tex=node.tex, wrong=wrong, reason=node.reason)
                continue
        at_example = None
        if examples and body is not None and not wrong:
            try:
                [at_example] = apply(examples, body, names.reaches)  # equalities: substituted, never split
                validate(ast.Expression(body=at_example), ast.unparse(at_example), line)
                _mention(examples, body, mentioned)
            except CheckError:
                at_example = None  # too large once substituted: decided in general only
        yield FormulaStatement(**_fields(statement), tex=node.tex, wrong=wrong, reason=node.reason,
                               at_example=at_example)


def _decided_under(conditions: list[ast.expr], body: ast.expr, node: Math | DisplayMath,
                   wrong: bool, names: _Names) -> Iterator[Item]:
    """A formula's claim decided under the conditions and example values stated before it."""
    line = node.span.line
    try:
        claims = apply(conditions, body, names.reaches)
    except CheckError as error:
        yield FormulaNote("unread", node.tex, line, error.message)
        return
    for claim in claims:
        text = ast.unparse(claim)
        try:
            validate(ast.Expression(body=claim), text, line)  # the same limits as any claim
        except CheckError as error:
            yield FormulaNote("unread", node.tex, line, error.message, text=text)
            continue
        yield FormulaStatement("claim", text, line, body=claim, tex=node.tex, wrong=wrong, reason=node.reason)


def _example(statement: Statement, names: _Names) -> bool:
    """`$n=1024$`, `$G=1$` (also a case of a symbol a check assumes), `$a=\\tfrac12$` after a condition in
    its sentence: a value for the example, so one more condition (not a claim, and no definition)."""
    definition = definition_of(statement, frozenset(names.defined | names.by_checks))
    return definition is not None and _is_setting(definition)


def _free(body: ast.expr | None, names: _Names) -> bool:
    """A prose condition is one when it names something the card has not defined: `$k=2$ 时` where a
    check defines `k := 2` is a claim about k (verified against the definition), not a condition."""
    taken = names.defined | names.by_checks | set(CONSTANTS) | set(FUNCTIONS)
    return body is not None and any(isinstance(node, ast.Name) and node.id not in taken
                                    for node in ast.walk(body))


def _fields(statement: Statement) -> dict[str, Any]:
    return {name: getattr(statement, name) for name in Statement.__dataclass_fields__}


def _is_setting(definition: Statement) -> bool:
    """`$\\gamma=2$`, `$x=0$`, `$G=C$`: a plain name given a number or another name is an example's
    value (or a case), not a definition."""
    if definition.params or definition.body is None:
        return False
    if isinstance(definition.body, ast.Name):
        return True
    for node in ast.walk(definition.body):
        if isinstance(node, ast.Name) and node.id not in CONSTANTS and node.id not in FUNCTIONS:
            return False
    return True


def doubt(statement: Statement, scope: Scope) -> str:
    """Why a failing formula may be misread rather than wrong, or "" when the failure is certain.

    Until the content is migrated (strict mode), prose formulas with free symbols are often
    conditions (`$x>0$`, `$n\\,\\mathrm{Var}(w)=1$`) or examples; those are counted as unread, not as
    errors. A failure with no free symbol left (`$2^{10}=1000$`, `$\\sigma(0)=1$`) is certain."""
    body = statement.body
    assert body is not None
    sides = [body.left, *body.comparators] if isinstance(body, ast.Compare) else list(body.args)
    evaluator = Evaluator(scope, statement.text)
    symbols: set[str] = set()
    for side in sides:
        value = evaluator.evaluate(side)
        if isinstance(value, sympy.Basic):
            if value.has(sympy.zoo, sympy.nan):
                return f"sympy reads {quote(ast.unparse(side))} as undefined ({sympy.sstr(value)})"
            symbols |= {symbol.name for symbol in value.free_symbols}
    if symbols:
        return (f"it fails for some values of {', '.join(sorted(symbols))}: in prose that is often a "
                "condition or an example, not a claim for all values")
    return ""


# --------------------------------------------------------------------------- running


def origin(item: Statement) -> dict[str, Any]:
    """The ClaimResult fields that say where a statement came from (for counting and marking)."""
    if isinstance(item, FormulaStatement):
        return {"source": "formula", "formula": item.tex}
    if isinstance(item, ComputedStatement):
        return {"source": "computed", "index": item.index}
    return {}


def note_result(note: FormulaNote, card: Card) -> ClaimResult:
    return ClaimResult(card.slug, card.span.path, note.line, one_line(note.text or note.tex), note.status,
                       note.message, "formula", note.tex)


def run_shown(item: Statement, scope: Scope, card: Card) -> ClaimResult:
    """Decide one formula statement or compute one number; raises what check statements raise.
    A claim after example values of its paragraph (`at_example`) must hold at them — else it fails
    there — and is verified for all values when it holds for all, else only at the example: its
    result says so (AT_EXAMPLE)."""
    if isinstance(item, ComputedStatement):
        return _computed(item, scope, card)
    assert isinstance(item, FormulaStatement)
    empty = _no_value_satisfies(item, scope)
    if empty:
        return ClaimResult(card.slug, card.span.path, item.line, one_line(item.text), "unread", empty,
                           "formula", item.tex)
    if item.at_example is None:
        return _run_formula(item, scope, card)
    example = dataclasses.replace(item, body=item.at_example, at_example=None,
                                  text=ast.unparse(item.at_example))
    at_example = _run_formula(example, scope, card)
    if at_example.status not in PASSED:
        # failing at the example (for all or for some values of what is left) is a failure; where sympy
        # cannot decide the substituted claim, the claim is decided in general only
        return at_example if at_example.status != "unread" or _fails(example, scope) else \
            _run_formula(item, scope, card)
    general = _run_formula(item, scope, card)
    return general if general.status in PASSED else dataclasses.replace(at_example, message=AT_EXAMPLE)


def _no_value_satisfies(item: FormulaStatement, scope: Scope) -> str:
    """Why the conditions a claim is decided under hold for no value ("" when some value satisfies them,
    or that is undecided): the claim is then true of nothing and says nothing (`当 $1<\\gamma<1$ 时`, or
    an example value outside its sentence's condition)."""
    peeled = conditions_under(item.body) if item.body is not None else None
    if peeled is None:
        return ""
    evaluator = Evaluator(scope, item.text)
    try:
        with time_limit(REACH_SECONDS):
            combined = sympy.And(*(evaluator.evaluate(condition) for condition in peeled[2]))
            empty = combined is sympy.false or (
                len(combined.free_symbols) == 1 and combined.as_set().is_empty is True)
    except Exception:  # noqa: BLE001 - sympy raises many kinds (and the time limit): not judged
        return ""
    if not empty:
        return ""
    shown = " and ".join(ast.unparse(condition) for condition in peeled[2])
    return (f"no value satisfies its conditions ({shown}): the claim is true of nothing and states "
            "nothing; give a condition some value meets")


def _fails(item: FormulaStatement, scope: Scope) -> bool:
    try:
        return check_claim(item, scope).status == "failed"
    except (CheckError, ArithmeticError, TypeError, ValueError, NotImplementedError):
        return False


def _run_formula(item: FormulaStatement, scope: Scope, card: Card) -> ClaimResult:
    text = one_line(item.text)
    path = card.span.path
    shown = quote(item.tex, 80)

    def result(status: str, message: str = "") -> ClaimResult:
        return ClaimResult(card.slug, path, item.line, text, status, message, "formula", item.tex)

    if item.kind == "define":
        try:
            execute_definition(item, scope)
        except (CheckError, ArithmeticError, TypeError, ValueError, NotImplementedError) as error:
            scope.broken.pop(item.name, None)  # later lines read the name as a symbol, as if unread
            return result("unread", getattr(error, "message", f"{type(error).__name__}: {error}"))
        return result("unused definition", item.unused) if item.unused else result("definition")
    try:
        outcome = check_claim(item, scope)
    except CheckError as error:
        return result("unread", f"cannot be decided: {error.message}")
    except (ArithmeticError, TypeError, ValueError, NotImplementedError) as error:  # sympy's own
        return result("unread", f"sympy cannot decide it: {type(error).__name__}: {error}")
    if item.wrong:
        if outcome.status == "failed":
            return result("wrong", outcome.message)
        return result("failed", f"formula {shown} is shown as a misconception (% wrong: {item.reason}) "
                                f"but it holds: {text}")
    if outcome.status in ("symbolic", "numeric"):
        assert item.body is not None
        loose = unreached(item.body, scope, item.line)
        if loose:
            return result("failed", f"formula {shown}: {loose}")
    if outcome.status == "failed":
        detail = outcome.message.removeprefix("claim does not hold: ")
        try:
            why = doubt(item, scope)
        except (CheckError, ArithmeticError, TypeError, ValueError, NotImplementedError) as error:
            why = f"its sides cannot be evaluated alone ({type(error).__name__})"
        if why:
            return result("unread", f"{why}; as a claim for all values it fails: {detail}")
        return result("failed", f"formula {shown} does not hold: {detail}")
    return result(outcome.status)


def _computed(item: ComputedStatement, scope: Scope, card: Card) -> ClaimResult:
    def result(status: str, message: str = "", value: str = "") -> ClaimResult:
        return ClaimResult(card.slug, card.span.path, item.line, item.text, status, message, "computed",
                           value=value, index=item.index)

    assert item.body is not None
    shown = quote(f"= {item.text}")
    value = Evaluator(scope, item.text).evaluate(item.body)
    number = _exact(value)
    if number is None:
        return result("error", f"computed number {shown} is {describe(value)}, not a number")
    try:
        return result("computed", value=format_value(number, item.format))
    except FormatError as error:
        return result("error", f"computed number {shown}: {error}")


def _exact(value: Any) -> Fraction | None:
    if not isinstance(value, sympy.Expr) or value.free_symbols or not value.is_number:
        return None
    if value.is_Rational:
        return Fraction(int(value.p), int(value.q))
    if value.is_real is not True or not value.is_finite:
        return None
    return Fraction(str(sympy.Float(value.evalf(60), 60)))


# --------------------------------------------------------------------------- scope for figures


def scope_for_card(card: Card, facts_root: Path | None = None) -> Scope:
    """Run a card's assumptions and definitions (no claims), for its figures: all of its check lines',
    and those of its formulas that define a function (a name given a number is an example value)."""
    scope = new_scope(card, facts_root)
    diagnostics: list[Diagnostic] = []
    for item in card_statements(card):
        if isinstance(item, CheckError):
            diagnostics.append(Diagnostic(card.span.path, item.line or card.span.line, item.message))
            continue
        if isinstance(item, FormulaNote) or item.kind not in ("assume", "define"):
            continue
        try:
            execute_definition(item, scope)
        except CheckError as error:
            if isinstance(item, FormulaStatement):
                scope.broken.pop(item.name, None)  # as in verification: an unread formula defines nothing
                continue
            diagnostics.append(Diagnostic(card.span.path, item.line, error.message))
            continue
        except (RecursionError, MemoryError, TypeError, ValueError, ZeroDivisionError) as error:
            diagnostics.append(
                Diagnostic(card.span.path, item.line,
                           f"cannot evaluate {quote(item.text)}: {type(error).__name__}")
            )
            continue
        if isinstance(item, FormulaStatement) and not item.params:
            # `$a=\sigma(z)$` abbreviates an expression in free symbols; a figure plotting over `a`
            # means the symbol. Figures see the functions formulas define.
            value = scope.definitions[item.name].value
            if isinstance(value, sympy.Basic) and value.free_symbols:
                del scope.definitions[item.name]
    if diagnostics:
        raise BuildError(diagnostics)
    return scope

