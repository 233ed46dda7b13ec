"""Hostile TeX: every refusal comes quickly, in little memory, as a CheckError naming the line."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from dldeck.verify.claims import check_claim
from dldeck.verify.evaluate import Scope
from dldeck.verify.syntax import CheckError
from dldeck.verify.tex import MAX_FORMULA_CHARS, parser, read_formula

SECONDS = 2.0
PEAK_BYTES = 50 * 1024 * 1024


def refused(tex: str) -> CheckError:
    """Read `tex` twice: once timed, once under tracemalloc (which slows Python down several times)."""
    parser()  # the LALR tables are built once per process, before any formula is read
    started = time.perf_counter()
    with pytest.raises(CheckError) as caught:
        read_formula(tex, 41)
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    try:
        with pytest.raises(CheckError):
            read_formula(tex, 41)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < SECONDS, f"took {elapsed:.2f} s"
    assert peak < PEAK_BYTES, f"peak {peak / 1e6:.0f} MB"
    assert caught.value.line == 41
    return caught.value


@pytest.mark.parametrize(
    ("tex", "message"),
    [
        ("x+" * 3000 + "x = 1", f"longer than {MAX_FORMULA_CHARS} characters"),
        ("{" * 10_000 + "x" + "}" * 10_000 + "=1", "longer than"),
        ("{" * 60 + "x" + "}" * 60 + " = 1", "nested deeper than"),
        (r"\left(" * 60 + "x" + r"\right)" * 60 + " = 1", "nested deeper than"),
        (r"\frac{" * 60 + "1" + "}{2}" * 60 + " = 1", "nested deeper than"),
        ("x+" * 990 + "x = 1", "nested deeper than"),  # the whitelist's depth limit, no RecursionError
        (r"\frac{d}{dx}" * 240 + "x = 1", "nested deeper than"),
        ("2" + r"\cdot 2" * 400 + r" \approx 1", "nested deeper than"),
        ("x^" * 2000, "symbols"),
        ("1" * 200 + " = 1", "longer than 100 digits"),
        ("0." + "1" * 300 + " = 1", "longer than 100 digits"),
        ("2^{2^{2^{2}}} = 1", "power tower"),
        (r"\def\x{1} x = 1", r"«\def»"),
        (r"\newcommand{\x}{1}", r"«\newcommand»"),
        (r"\catcode`\^=11 x = 1", r"«\catcode»"),
        (r"\csname relax\endcsname = 1", r"«\csname»"),
        (r"\expandafter\x\y", r"«\expandafter»"),
        (r"\let\x=\y", r"«\let»"),
        (r"\input{/etc/passwd}", r"«\input»"),
    ],
)
def test_hostile_formula_is_refused_in_bounded_time_and_memory(tex: str, message: str):
    assert message in refused(tex).message


def test_a_huge_power_reads_but_is_refused_before_sympy_computes_it():
    (statement,) = read_formula(r"10^{99999} = 1", 3)
    started = time.perf_counter()
    with pytest.raises(CheckError, match="too large"):
        check_claim(statement, Scope())
    assert time.perf_counter() - started < SECONDS


def test_a_long_harmless_formula_is_read_quickly():
    tex = (
        " + ".join(f"x_{{{i}}}" for i in range(40))
        + " = "
        + " + ".join(f"x_{{{i}}}" for i in reversed(range(40)))
    )
    started = time.perf_counter()
    (statement,) = read_formula(tex, 1)
    assert time.perf_counter() - started < SECONDS
    assert check_claim(statement, Scope()).status == "symbolic"


def test_conditions_that_double_a_claim_each_are_refused_in_bounded_time(tmp_path) -> None:
    import time

    from dldeck.source import read_collection
    from dldeck.verify.shown import FormulaNote, card_statements

    chain = "，".join(f"$a_{{{i}}} = a_{{{i + 1}}} + a_{{{i + 1}}}$ 时" for i in range(40))
    folder = tmp_path / "content"
    folder.mkdir()
    (folder / "a.md").write_text(f"---\ndeck: 测试\n---\n\n## 炸弹？ {{#bomb}}\n\n{chain}，$a_{{0}} > 0$。\n",
                                 encoding="utf-8")
    started = time.monotonic()
    items = list(card_statements(read_collection(folder).cards[0]))
    assert time.monotonic() - started < 5
    [refused] = [item for item in items if isinstance(item, FormulaNote) and item.status == "unread"]
    assert "grows over 20,000 symbols" in refused.message
