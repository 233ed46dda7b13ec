"""Hostile check blocks: refused before anything runs, or stopped by the time limit; never hang,
never touch files, never reach Python objects."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest

from dldeck.errors import BuildError
from dldeck.model import Card, CheckBlock, Collection, SourceSpan
from dldeck.verify import verify_collection
from dldeck.verify.language import Scope, evaluate_expression
from dldeck.verify.shown import scope_for_card


def make_card(slug: str, source: str, fence: int = 0, order: int = 0) -> Card:
    path = f"content/{slug}.md"
    block = CheckBlock(source, SourceSpan(path, fence))
    return Card(slug, (), (block,), (), (), "deck", "", (), (slug,), "basic", SourceSpan(path, 1), order)


def hostile_lines(sentinel: Path) -> list[str]:
    target = str(sentinel)
    return [
        f"__import__('os').system('touch {target}') == 0",
        f"open('{target}', 'w') == 1",
        f"f := open('{target}', 'w')",
        "().__class__.__bases__[0].__subclasses__() == 1",
        "x.__class__ == 1",
        "sigma.real == 1",
        "__builtins__ == 1",
        "_secret == 1",
        "(lambda: 1)() == 1",
        "[y for y in (1, 2)] == (1, 2)",
        "f'{x}' == 1",
        "exec('1') == 1",
        "eval('1') == 1",
        "sympify('1') == 1",
        "globals() == 1",
        "print(1) == 1",
        "getattr(x, 'y') == 1",
        "{1: 2} == 1",
        "x[1:2] == 1",
        "exp(*x) == 1",
        "exp(**x) == 1",
        "1j == 1",
        "10**10**10**10 == 1",
        "2**100000 == 1",
        "(10**9)**(10**4) == 1",
        "factorial(factorial(100)) == 1",
        "factorial(1001) == 1",
        "binomial(5000, 3) == 1",
        "1" + "0" * 150 + " == 1",
        "1e999999 == 1",
        "(" * 5000 + "1" + ")" * 5000 + " == 1",
        "(" * 60 + "1" + ")" * 60 + " == 1",
        "-" * 1500 + "1 == 1",
        "x" + " + x" * 1000 + " == 1",
        "subs(2**x, x, 10**9) == 1",
    ]


def test_hostile_claims_are_refused_and_run_nothing(tmp_path: Path):
    sentinel = tmp_path / "pwned"
    lines = hostile_lines(sentinel)
    start = time.monotonic()
    report = verify_collection(
        Collection((make_card("evil", "\n".join(lines) + "\n"),), str(tmp_path)), timeout=3.0, jobs=2
    )
    elapsed = time.monotonic() - start
    assert not sentinel.exists()
    assert elapsed < 30
    by_line = {result.line: result for result in report.results}
    for index, text in enumerate(lines):
        result = by_line.get(index + 1)
        assert result is not None, f"no result for {text[:40]!r}"
        assert result.status in ("error", "timeout"), (text[:60], result)
    assert report.count("symbolic") == report.count("numeric") == 0
    assert len(report.diagnostics) == len(lines)
    messages = "\n".join(str(d) for d in report.diagnostics)
    assert "attribute access is not allowed" in messages
    assert "attribute access is not allowed in a check: «__import__('os').system»" in messages
    assert "names starting with _ are not allowed: «__builtins__»" in messages
    assert "exponent 1000000000 is too large" in messages
    assert "unknown function «open»" in messages
    assert "lambda is not allowed" in messages
    assert "comprehension is not allowed" in messages
    assert "power tower refused" in messages
    assert "factorial of" in messages and "refused" in messages
    assert "nested deeper than 50 levels" in messages
    assert "expression nested deeper than 50 levels" in messages
    assert "longer than 2000 characters" in messages
    assert "integer literal longer than 100 digits" in messages


@pytest.mark.parametrize("index", range(35))
def test_hostile_expressions_are_refused_in_figures_too(tmp_path: Path, index: int):
    sentinel = tmp_path / "pwned"
    text = hostile_lines(sentinel)[index].rsplit(" == ", 1)[0]
    if ":=" in text:
        pytest.skip("definitions are statements, not figure expressions")
    start = time.monotonic()
    with pytest.raises(BuildError) as caught:
        evaluate_expression(text, Scope(), SourceSpan("content/evil.md", 9))
    assert str(caught.value).startswith("content/evil.md:9: ")
    assert not sentinel.exists()
    assert time.monotonic() - start < 5


def test_scope_for_card_refuses_hostile_definitions(tmp_path: Path):
    sentinel = tmp_path / "pwned"
    card = make_card("evil", f"f := open('{sentinel}', 'w')\ng(x) := x.__class__\nk := 2**20000\n", fence=40)
    with pytest.raises(BuildError) as caught:
        scope_for_card(card)
    lines = [d.line for d in caught.value.diagnostics]
    assert lines == [41, 42, 43]
    assert not sentinel.exists()


def cpu_seconds() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def test_slow_claims_time_out_by_name_and_the_rest_still_run():
    source = """\
1 == 1
expand((x + y + z + 1)**200) == 0
2 == 2
k := expand((x + y + z + 1)**250)
k == 1
3 == 3
"""
    other = make_card("fine", "4 == 4\n", order=1)
    start = cpu_seconds()
    report = verify_collection(Collection((make_card("slow", source), other), ""), timeout=1.0, jobs=2)
    assert cpu_seconds() - start < 20  # CPU time, workers included: load does not count
    statuses = {(r.slug, r.line): r.status for r in report.results}
    assert statuses == {
        ("slow", 1): "symbolic",
        ("slow", 2): "timeout",
        ("slow", 3): "symbolic",
        ("slow", 4): "timeout",
        ("slow", 5): "error",
        ("slow", 6): "error",
        ("fine", 1): "symbolic",
    }
    messages = [str(d) for d in report.diagnostics]
    assert messages[0] == "content/slow.md:2: timed out after 1 s: «expand((x + y + z + 1)**200) == 0»"
    assert "not checked: the definition on line 4 did not finish" in messages[2]
    assert not report.ok and report.count("timeout") == 2


def test_deep_nesting_across_lines_is_refused_at_its_first_line_and_later_lines_still_run():
    source = "(\n" * 5000 + "1" + "\n)" * 5000 + " == 1\n" + "2 == 2\n"
    start = time.monotonic()
    report = verify_collection(Collection((make_card("deep", source, fence=100),), ""), timeout=3.0, jobs=1)
    assert time.monotonic() - start < 20
    assert [r.line for r in report.results] == [101, 100 + 1 + 10001]
    assert "brackets nested deeper than 50 levels" in report.results[0].message
    assert report.results[-1].status == "symbolic" and report.results[-1].line == 100 + 1 + 10001
