"""`dldeck mutate`: one shown number or operator changed at a time; does verification notice?"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from dldeck import mutate
from dldeck.cli import main
from dldeck.source import read_collection

MUTABLE = """\
---
deck: 测试
---

## 展开？ {#square}

$(a+b)^2 = a^2 + 2ab + b^2$

## 随口一说？ {#unchecked}

$\\mathbb{E}[x] = 2$
"""


def test_mutants_change_one_number_or_operator() -> None:
    mutants = set(mutate.text_mutants("x^2 \\le 3.5 + y_1"))
    assert {"x^3 \\le 3.5 + y_1", "x^2 \\le 3.6 + y_1", "x^2 \\ge 3.5 + y_1", "x^2 \\le 3.5 - y_1",
            "x^2 \\le 3.5 + y_2"} == mutants
    assert set(mutate.text_mutants("{{c1::2}}")) == {"{{c1::3}}"}
    # digits glued to \frac and \sqrt are numbers too; a flipped `=` never glues to the next letter
    assert set(mutate.text_mutants("\\tfrac19=x")) == {"\\tfrac29=x", "\\tfrac1{10}=x", "\\tfrac19\\neq x"}


def test_mutate_catches_a_changed_coefficient_and_reports_a_survivor(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "content"
    folder.mkdir()
    (folder / "a.md").write_text(MUTABLE, encoding="utf-8")
    collection = read_collection(folder)
    found = mutate.mutations(collection)
    outcomes = {(o.mutation.mutant, o.verdict) for o in mutate.run(collection, found, timeout=60.0)}
    assert ("(a+b)^2 = a^2 + 3ab + b^2", "caught") in outcomes
    assert ("\\mathbb{E}[x] = 3", "survived") in outcomes
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["mutate", "-n", "300"])
    assert result.exit_code == 0, result.output
    survivor = "\\mathbb{E}[x] = 2 → \\mathbb{E}[x] = 3 survived"
    assert f"a.md:11: {survivor}" in result.output
    assert f"{len(found)} mutations, " in result.output


def test_a_formula_without_a_relation_is_never_equivalent(tmp_path: Path) -> None:
    folder = tmp_path / "content"
    folder.mkdir()
    (folder / "a.md").write_text("---\ndeck: 测试\n---\n\n## 值域？ {#range}\n\n$(0,1)$\n", encoding="utf-8")
    collection = read_collection(folder)
    outcomes = mutate.run(collection, mutate.mutations(collection), timeout=60.0)
    verdicts = {(o.mutation.mutant, o.verdict) for o in outcomes}
    assert verdicts == {("(1,1)", "survived"), ("(0,2)", "survived")}


def _outcomes(tmp_path: Path, text: str, strict: bool = False) -> dict[str, str]:
    folder = tmp_path / "content"
    folder.mkdir(exist_ok=True)
    (folder / "a.md").write_text("---\ndeck: 测试\n---\n\n" + text, encoding="utf-8")
    collection = read_collection(folder)
    return {o.mutation.mutant: o.verdict
            for o in mutate.run(collection, mutate.mutations(collection), timeout=60.0, strict=strict)}


def test_a_changed_definition_that_costs_a_later_formula_its_mark_is_caught(tmp_path: Path) -> None:
    # g(x) = x^3 is still a definition (no ✓ to lose, no problem): only the later formula notices
    outcomes = _outcomes(tmp_path, "## 偶函数？ {#even}\n\n$g(x) = x^2$，所以 $g(-x) = g(x)$。\n")
    assert outcomes["g(x) = x^3"] == "caught"


def test_strict_mode_counts_a_formula_that_is_no_longer_read_as_a_problem(tmp_path: Path) -> None:
    # a computed number uses h: the definition is not "used by no claim" (a problem strict mode has already)
    card = "## 定义？ {#define}\n\n$h(x) = \\frac{1}{1+e^{-x}}$，`= h(0)`。\n"
    flipped = "h(x) \\neq \\frac{1}{1+e^{-x}}"  # no longer a definition: a claim that fails for some x
    assert _outcomes(tmp_path, card)[flipped] == "survived"
    assert _outcomes(tmp_path, card, strict=True)[flipped] == "caught"


def test_a_change_the_reader_skips_is_equivalent(tmp_path: Path) -> None:
    # a signature is notation: the reader skips it, so the formula states the same claims
    outcomes = _outcomes(tmp_path, "## 值域？ {#range}\n\n"
                                   "$\\sigma:\\mathbb{R}\\to(0,1),\\ \\sigma(0)=0.5$\n\n"
                                   "```check\nsigma(x) := 1/(1+exp(-x))\n```\n")
    assert outcomes["\\sigma:\\mathbb{R}\\to(0,2),\\ \\sigma(0)=0.5"] == "equivalent"
    assert outcomes["\\sigma:\\mathbb{R}\\to(0,1),\\ \\sigma(0)=0.6"] == "caught"


def test_computed_numbers_are_not_mutated(tmp_path: Path) -> None:
    folder = tmp_path / "content"
    folder.mkdir()
    (folder / "a.md").write_text("---\ndeck: 测试\n---\n\n## 多少？ {#count}\n\n共 `= 2 + 3` 个。\n",
                                 encoding="utf-8")
    assert mutate.mutations(read_collection(folder)) == []


def test_a_mutated_example_value_or_a_claim_true_only_at_the_example_is_caught(tmp_path: Path) -> None:
    outcomes = _outcomes(tmp_path, "## 规模？ {#size}\n\n例如 $n=4$，得分矩阵有 $n^2=16$ 个元素，"
                                   "在 $x=0$ 处 $g(x)=x+x^3$，$g'(x)=1+3x^2$。\n\n"
                                   "残差分支输出 $F=0$ 即可：$F+y=y$。\n", strict=True)
    assert outcomes["n=5"] == "caught"  # the claim that uses it fails at 5
    assert outcomes["n^2\\neq16"] == "caught"  # not identically 16, but 16 at the example
    assert outcomes["F+y\\neq y"] == "caught"  # false at the example for every y
    # still true at x = 0, but no longer for all x: the formula lost its general ✓
    assert outcomes["g'(x)=1+4x^2"] == "caught"


def test_flipping_the_sign_of_a_literal_zero_is_equivalent_and_nothing_else_is() -> None:
    assert mutate.zero_sign_flip("(1-0)\\,\\theta_t+0\\cdot v=\\theta_t",
                                 "(1-0)\\,\\theta_t-0\\cdot v=\\theta_t")
    assert mutate.zero_sign_flip("\\frac{1+0}{10+0}=0.1", "\\frac{1-0}{10+0}=0.1")
    assert not mutate.zero_sign_flip("x+0.5", "x-0.5")  # 0.5 is not zero
    assert not mutate.zero_sign_flip("x+0^y", "x-0^y")  # 0^0 is 1
    assert not mutate.zero_sign_flip("x+1", "x-1")
    assert not mutate.zero_sign_flip("x+0", "x+1")
    # a product with a literal zero factor is zero too (`+ p\cdot 0`: the dropped unit contributes 0)
    assert mutate.zero_sign_flip("&= (1-p)y + p\\cdot 0\\\\&= y", "&= (1-p)y - p\\cdot 0\\\\&= y")
    assert mutate.zero_sign_flip("a+0\\times b=a", "a-0\\times b=a")
    assert not mutate.zero_sign_flip("a+p\\cdot 0.5", "a-p\\cdot 0.5")
    assert not mutate.zero_sign_flip("a+p\\cdot 10", "a-p\\cdot 10")
    assert not mutate.zero_sign_flip("a+p\\cdot 0 + q", "a+p\\cdot 0 - q")  # q is not zero


def test_a_zero_sign_flip_is_reported_as_equivalent(tmp_path: Path) -> None:
    outcomes = _outcomes(tmp_path, "## 零？ {#zero}\n\n$\\frac{1+0}{10+0}=0.1$\n", strict=True)
    assert outcomes["\\frac{1-0}{10+0}=0.1"] == "equivalent"
    assert outcomes["\\frac{1+0}{11+0}=0.1"] == "caught"


def test_a_misconception_changed_but_still_wrong_is_its_own_class(tmp_path: Path) -> None:
    """A `% wrong:` formula changed to another wrong one is still proved wrong: not caught, not an
    unguarded fact either; changed into a true one, it is caught."""
    outcomes = _outcomes(tmp_path, "## 一千？ {#kilo}\n\n常见错误：\n\n"
                                   "$$2^{10} = 1000 % wrong: 二进制的千是 1024$$\n", strict=True)
    assert outcomes["2^{11} = 1000"] == "still wrong"
    assert outcomes["2^{10} \\neq 1000"] == "caught"  # true now: a misconception that holds fails
    verdicts = [mutate.Outcome(None, "still wrong"), mutate.Outcome(None, "caught")]  # type: ignore[arg-type]
    assert mutate.summary(verdicts).endswith(
        "0 survived in relational formulas, 0 still true, 1 misconceptions still wrong")


def test_a_change_that_leaves_a_true_statement_is_still_true_not_caught(tmp_path: Path) -> None:
    """`\\lfloor 7/4\\rfloor = 1` → `\\lfloor 7/5\\rfloor = 1`: a floor that does not move, so the changed
    formula is verified — "still true", listed and not caught; a change that breaks it is caught."""
    outcomes = _outcomes(tmp_path, "## 下取整？ {#floor}\n\n$$\\lfloor 7/4\\rfloor = 1$$\n", strict=True)
    assert outcomes["\\lfloor 7/5\\rfloor = 1"] == "still true"
    assert outcomes["\\lfloor 8/4\\rfloor = 1"] == "caught"
    assert outcomes["\\lfloor 7/4\\rfloor = 2"] == "caught"
