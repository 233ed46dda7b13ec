"""What the learner reads is what was verified: shown formulas and computed numbers are claims.

Each test builds a small content tree and runs the real reader and claim workers on it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from dldeck import pipeline
from dldeck.cli import main
from dldeck.errors import BuildError
from dldeck.source import read_collection
from dldeck.verify import verify_collection

HEAD = "---\ndeck: 测试\n---\n\n"


def content(tmp_path: Path, body: str, name: str = "a.md") -> Path:
    folder = tmp_path / "content"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(HEAD + body, encoding="utf-8")
    return folder


def verify(folder: Path):
    return verify_collection(read_collection(folder), timeout=60.0, jobs=1)


def by_line(report, line: int) -> list:
    return [r for r in report.results if r.line == line]


def strict_problems(folder: Path) -> list:
    """A check that passes without strict mode (counted, not refused) and the diagnostics strict mode
    refuses the content with."""
    pipeline.check(folder, strict=False)
    with pytest.raises(BuildError) as caught:
        pipeline.check(folder, strict=True)
    return list(caught.value.diagnostics)


# --------------------------------------------------------------------------- formulas are claims


SQUARE_WRONG = "## 展开？ {#square}\n\n平方：\n\n$(a+b)^2 = a^2 + b^2$\n"


def test_a_wrong_shown_formula_fails_at_its_line_with_a_counterexample(tmp_path: Path) -> None:
    folder = content(tmp_path, "## 多少？ {#power}\n\n所以\n$2^{10} = 1000$，约一千。\n")
    [problem] = verify(folder).diagnostics
    assert problem.line == 8 and problem.path.endswith("a.md")
    assert "2^{10} = 1000" in problem.message  # the TeX the learner reads, quoted
    assert "does not hold" in problem.message and "computed 1024, right side 1000" in problem.message


def test_a_failing_formula_in_free_symbols_is_unread_until_strict(tmp_path: Path) -> None:
    folder = content(tmp_path, SQUARE_WRONG)
    [result] = verify(folder).results
    assert result.status == "unread" and "fails for some values of a, b" in result.message
    with pytest.raises(BuildError) as caught:
        pipeline.check(folder, strict=True)
    [problem] = caught.value.diagnostics
    assert problem.line == 9 and "(a+b)^2 = a^2 + b^2" in problem.message and "at a=" in problem.message


def test_a_condition_in_prose_is_not_an_error(tmp_path: Path) -> None:
    body = "## 斜率？ {#slope}\n\n斜率 $0<a<1$。\n\n```check\nassume a: positive\n```\n"
    [result] = verify(content(tmp_path, body)).results
    assert result.status == "unread" and "condition" in result.message


def test_a_true_shown_formula_is_verified_and_counted(tmp_path: Path) -> None:
    folder = content(tmp_path, "## 展开？ {#square}\n\n$(a+b)^2 = a^2 + 2ab + b^2$\n")
    report = verify(folder)
    assert report.ok, report.diagnostics
    [result] = report.results
    assert result.source == "formula" and result.status == "symbolic"
    assert result.formula == "(a+b)^2 = a^2 + 2ab + b^2"


def test_a_misconception_that_holds_fails_the_build(tmp_path: Path) -> None:
    body = "## 展开？ {#square}\n\n常见误解：$(a+b)^2 = a^2 + 2ab + b^2 % wrong: 其实成立$\n"
    folder = content(tmp_path, body)
    report = verify(folder)
    [problem] = report.diagnostics
    assert problem.line == 7
    assert "shown as a misconception" in problem.message and "but it holds" in problem.message


def test_a_misconception_that_is_wrong_passes_and_is_counted(tmp_path: Path) -> None:
    folder = content(tmp_path, "## 展开？ {#square}\n\n常见误解：$(a+b)^2 = a^2 + b^2 % wrong: 漏了交叉项$\n")
    report = verify(folder)
    assert report.ok, report.diagnostics
    assert [r.status for r in report.results] == ["wrong"]


def test_exempt_formulas_are_not_read_and_the_marker_never_shows(tmp_path: Path) -> None:
    folder = content(tmp_path, "## 结果？ {#quoted}\n\n论文报告 $top_1 = 76.1 % exempt: 引用的实验结果$。\n")
    collection = read_collection(folder)
    [math] = [n for n in collection.cards[0].answer[0].children if hasattr(n, "tex")]
    assert math.tex == "top_1 = 76.1" and math.claim == "exempt" and math.reason == "引用的实验结果"
    report = verify(folder)
    assert [r.status for r in report.results] == ["exempt"]


def test_a_definition_in_a_formula_is_used_by_a_later_check(tmp_path: Path) -> None:
    body = ("## Sigmoid？ {#sigmoid}\n\n$\\sigma(x) = \\frac{1}{1+e^{-x}}$\n\n"
            "```check\ndiff(sigma(x), x) == sigma(x)*(1 - sigma(x))\n```\n")
    report = verify(content(tmp_path, body))
    assert report.ok, report.diagnostics
    statuses = [(r.source, r.status) for r in report.results]
    assert statuses == [("formula", "definition"), ("check", "symbolic")]


def test_a_formula_of_a_name_the_check_defines_must_agree_with_it(tmp_path: Path) -> None:
    body = ("## Sigmoid？ {#sigmoid}\n\n$\\sigma(0) = \\frac{1}{3}$\n\n"
            "```check\nsigma(x) := 1/(1 + exp(x))\n```\n")
    report = verify(content(tmp_path, body))
    [problem] = report.diagnostics
    assert problem.line == 7 and "does not hold: sigma(0) == 1 / 3" in problem.message


def test_a_formula_definition_that_uses_a_later_check_definition_waits_for_it(tmp_path: Path) -> None:
    body = "## 损失？ {#loss}\n\n$J = 2L$\n\n```check\nL := 3\n```\n\n所以 $J = 6$。\n"
    report = verify(content(tmp_path, body))
    assert report.ok, report.diagnostics
    statuses = [(r.formula, r.status) for r in report.results]
    assert statuses == [("J = 2L", "definition"), ("J = 6", "symbolic")]


def test_a_formula_above_the_check_that_defines_its_function_is_verified(tmp_path: Path) -> None:
    body = ("## tanh？ {#tanh}\n\n$$\\tanh(x) = 2\\sigma(2x) - 1$$\n\n"
            "```check\nsigma(x) := 1/(1 + exp(-x))\n```\n")
    report = verify(content(tmp_path, body))
    assert report.ok, report.diagnostics
    assert [(r.source, r.status) for r in report.results] == [("formula", "symbolic")]


def test_a_number_given_for_an_example_defines_nothing(tmp_path: Path) -> None:
    body = ("## 导数？ {#deriv}\n\n在 $x=0$ 处：\n\n"
            "```check\ns(x) := 1/(1 + exp(-x))\ndiff(s(x), x) == s(x)*(1 - s(x))\n```\n")
    report = verify(content(tmp_path, body))
    assert report.ok, report.diagnostics
    # a value no shown claim uses guards nothing (the check's claim holds for all x): counted as unused
    assert [r.status for r in report.results] == ["symbolic", "unused"]


def test_cloze_markers_inside_a_formula_are_not_part_of_the_claim(tmp_path: Path) -> None:
    folder = content(tmp_path, "## 展开？ {#square}\n\n$(a+b)^2 = {{c1::a^2 + 2ab + b^2}}$\n")
    report = verify(folder)
    assert report.ok, report.diagnostics
    assert [r.status for r in report.results] == ["symbolic"]


# --------------------------------------------------------------------------- markers and notation


@pytest.mark.parametrize(("formula", "words"), [
    ("$a = 1 % exempt:$", "needs a reason"),
    ("$a = 1 % why: because$", "unknown marker"),
])
def test_a_bad_marker_is_a_path_line_error(tmp_path: Path, formula: str, words: str) -> None:
    folder = content(tmp_path, f"## 问？ {{#q}}\n\n答：\n{formula}\n")
    with pytest.raises(BuildError) as caught:
        read_collection(folder)
    [problem] = caught.value.diagnostics
    assert problem.line == 8 and words in problem.message


def test_a_percent_sign_is_not_a_marker(tmp_path: Path) -> None:
    folder = content(tmp_path, "## 问？ {#q}\n\n答 $50\\%$。\n")
    [math] = [n for n in read_collection(folder).cards[0].answer[0].children if hasattr(n, "tex")]
    assert math.tex == "50\\%" and math.claim == "auto"


def test_notation_from_front_matter_and_card_block_reaches_the_card(tmp_path: Path) -> None:
    folder = tmp_path / "content"
    folder.mkdir()
    (folder / "a.md").write_text(
        "---\ndeck: 测试\nnotation:\n  '\\hat{y}': yhat\n---\n\n## 问？ {#q}\n\n答。\n\n"
        "```notation\n'\\mathrm{Var}': variance\n```\n", encoding="utf-8")
    [card] = read_collection(folder).cards
    assert card.notation == (("\\hat{y}", "yhat"), ("\\mathrm{Var}", "variance"))
    assert len(card.answer) == 1  # the notation block is not shown


def test_a_notation_entry_must_name_a_check_name(tmp_path: Path) -> None:
    folder = content(tmp_path, "## 问？ {#q}\n\n答。\n\n```notation\n'\\hat{y}': 'y hat'\n```\n")
    with pytest.raises(BuildError) as caught:
        read_collection(folder)
    assert "must map to a check-language name" in str(caught.value)


# --------------------------------------------------------------------------- strict mode and coverage


UNREADABLE = "## 问？ {#q}\n\n答：$\\mathbb{E}[x] = 2$\n"


def test_non_strict_counts_an_unread_formula_and_strict_refuses_it(tmp_path: Path) -> None:
    folder = content(tmp_path, UNREADABLE)
    summary = pipeline.check(folder)
    assert summary.coverage.counts.get("unread") == 1
    with pytest.raises(BuildError) as caught:
        pipeline.check(folder, strict=True)
    [problem] = caught.value.diagnostics
    assert problem.line == 7 and "% exempt: <reason>" in problem.message and "notation" in problem.message


def test_strict_from_the_configuration_and_the_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    content(tmp_path, UNREADABLE)
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(main, ["check"]).exit_code == 0
    assert CliRunner().invoke(main, ["check", "--strict"]).exit_code == 1
    (tmp_path / "dldeck.toml").write_text("strict = true\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 1 and "a.md:7:" in result.output


def test_check_prints_the_coverage_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    content(tmp_path, "## 问？ {#q}\n\n共 12 层，$(a+b)^2 = a^2 + 2ab + b^2$，参数 `= 3*64*9 + 64 | ,` 个；"
                      "$x=0$；$a=b % exempt: 记号$；$1+1=3 % wrong: 笔误$；$\\frac{1}{2}$；"
                      "$x_{t-1} % exempt: 记号$。\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 0, result.output
    assert ("formulas: 4 relational — 1 verified, 0 definitions (0 used by no claim), "
            "1 example values (1 used by no claim), "
            "1 exempt, 1 wrong (proved wrong), 0 unread; 1 exempt expressions (no relation); "
            "prose numbers: 1 computed, 1 literal"
            ) in result.output


def test_figures_see_formula_functions_but_not_abbreviations(tmp_path: Path) -> None:
    from dldeck.verify.shown import scope_for_card

    body = ("## 梯度？ {#grad}\n\n$a=\\sigma(z)$，$h(t) = t^2$。\n\n"
            "```check\nsigma(z) := 1/(1 + exp(-z))\n```\n")
    [card] = read_collection(content(tmp_path, body)).cards
    scope = scope_for_card(card)
    assert {"sigma", "h"} <= set(scope.definitions) and "a" not in scope.definitions


# --------------------------------------------------------------------------- checks use shown definitions


def test_a_check_line_below_a_shown_definition_calls_it_even_when_the_check_assumes_its_parameter(
        tmp_path: Path) -> None:
    folder = content(tmp_path, "## sigmoid？ {#sig}\n\n$\\sigma(x)=\\frac1{1+e^{-x}}$\n\n"
                               "```check\nassume x: real\nt(x) := 2*sigma(2*x) - 1\nt(x) == tanh(x)\n"
                               "sigma(0) == 1/3\n```\n")
    report = verify(folder)
    [definition] = by_line(report, 7)
    assert definition.status == "definition" and definition.text == "sigma(x) := 1 / (1 + exp(-x))"
    assert [r.status for r in by_line(report, 12)] == ["symbolic"]
    [problem] = report.diagnostics  # the shown definition is the one the check uses: σ(0) is ½
    assert problem.line == 13 and "1/3" in problem.message


def test_a_shown_definition_waiting_for_a_check_is_callable_by_the_check_lines_after_it(
        tmp_path: Path) -> None:
    folder = content(tmp_path, "## 正则？ {#reg}\n\n$J(w) = L(w) + w^2$\n\n"
                               "```check\nL(w) := w**2\nJ(w) == 2*w**2\nJ(1) == 3\n```\n")
    report = verify(folder)
    assert [r.status for r in by_line(report, 7)] == ["definition"]
    assert [r.status for r in by_line(report, 11)] == ["symbolic"]
    [problem] = report.diagnostics
    assert problem.line == 12 and "J(1) == 3" in problem.message


def test_a_shown_definition_takes_effect_in_reading_order(tmp_path: Path) -> None:
    # the check above the formula cannot use it: `f` is unknown there
    folder = content(tmp_path, "## 顺序？ {#order}\n\n```check\nf(2) == 5\n```\n\n$f(x) = x^2 + 1$\n")
    [problem] = verify(folder).diagnostics
    assert problem.line == 8 and "unknown function «f»" in problem.message


# --------------------------------------------------------------------------- conditions in prose


def test_a_condition_in_prose_holds_for_the_rest_of_its_sentence_only(tmp_path: Path) -> None:
    folder = content(tmp_path, "## 步长？ {#lr}\n\n"
                               "当 $\\eta = 2/L$ 时，$1 - \\eta L = -1$。\n\n"
                               "$\\eta L = 2$\n\n"
                               "$\\eta = 1/L$ 的时候 $\\eta L = 1$；if $x > 0$, $\\sqrt{x^2} = x$.\n")
    report = verify(folder)
    assert [(r.status, r.text) for r in by_line(report, 7)] == [
        ("setting", "eta == 2 / L"), ("symbolic", "1 - 2 / L * L == -1")]
    # not a definition for the card: the next paragraph is not decided under it
    [elsewhere] = by_line(report, 9)
    assert elsewhere.status == "unread" and "fails for some values of L, eta" in elsewhere.message
    statuses = [(r.status, r.text.split(" ")[0]) for r in by_line(report, 11)]
    assert statuses[:2] == [("setting", "eta"), ("symbolic", "1")]
    assert statuses[2][0] == "setting" and statuses[3][0] in ("symbolic", "numeric")


def test_a_claim_under_a_prose_condition_that_does_not_hold_fails(tmp_path: Path) -> None:
    folder = content(tmp_path, "## 头数？ {#heads}\n\n$d_k=64$ 时，$\\sqrt{d_k}=9$。\n")
    [problem] = verify(folder).diagnostics
    assert problem.line == 7 and "\\sqrt{d_k}=9" in problem.message and "computed 8" in problem.message


def test_a_function_condition_is_substituted_with_its_arguments(tmp_path: Path) -> None:
    folder = content(tmp_path, "## 代入？ {#subs}\n\n若 $f(x, y) = x + 2y$，则 $f(y, 1) = y + 2$。\n\n"
                               "$f(1, 1) = 3$\n")
    report = verify(folder)
    assert [r.status for r in by_line(report, 7)] == ["setting", "symbolic"]
    # the condition defined nothing for the card: f is no function in the next paragraph
    assert [r.status for r in by_line(report, 9)] != ["symbolic"]


def test_a_second_value_in_one_sentence_is_the_next_case_not_a_claim(tmp_path: Path) -> None:
    folder = content(tmp_path, "## AUC？ {#auc}\n\n$A(t) = \\frac{1}{1+t}$。\n\n"
                               "$t=\\frac12$ 时 $A(t)=\\frac23$，$t=1$（两类相同）时 $A(t) = \\frac12$，"
                               "$t=3$ 时 $A(t) = \\frac15$。\n")
    report = verify(folder)
    assert [r.status for r in by_line(report, 9)] == ["setting", "symbolic", "setting", "symbolic",
                                                      "setting", "failed"]
    [problem] = report.diagnostics
    assert "A(t) = \\frac15" in problem.message and "computed 1/4" in problem.message


def test_a_prose_condition_on_a_defined_name_is_a_claim_about_it(tmp_path: Path) -> None:
    folder = content(tmp_path, "## 多少？ {#defined}\n\n$k=3$ 时 $k^2=9$。\n\n```check\nk := 2\n```\n")
    report = verify(folder)
    # the check says k is 2: the shown value is wrong, not a case, and so is what follows from it
    assert [(p.line, "k=3" in p.message) for p in report.diagnostics] == [(7, True), (7, False)]


def test_an_example_value_after_a_condition_is_one_more_condition(tmp_path: Path) -> None:
    folder = content(tmp_path, "## 软阈值？ {#soft}\n\n当 $|a|\\le\\lambda$ 时，"
                               "例如 $a=\\tfrac12,\\lambda=1$，$\\lambda - a = \\tfrac12$。\n")
    report = verify(folder)
    assert [r.status for r in by_line(report, 7)] == ["setting", "setting", "setting", "symbolic"]


def test_an_example_value_holds_for_the_rest_of_its_paragraph(tmp_path: Path) -> None:
    folder = content(tmp_path, "## 注意力？ {#attn}\n\n例如 $n=4$，$d=8$。得分矩阵有 $n^2=16$ 个元素，"
                               "每个元素要 $d=8$ 次乘法。\n\n$n^2=16$\n")
    report = verify(folder)
    assert [(r.status, r.text) for r in by_line(report, 7)] == [
        ("setting", "n == 4"), ("unused", "d == 8"), ("symbolic", "4 ** 2 == 16"), ("unused", "d == 8")]
    # the next paragraph is not decided at n=4
    [elsewhere] = by_line(report, 9)
    assert elsewhere.status == "unread" and "fails for some values of n" in elsewhere.message


def test_a_wrong_example_value_fails_where_its_paragraph_uses_it(tmp_path: Path) -> None:
    folder = content(tmp_path, "## 注意力？ {#attn}\n\n例如 $n=5$，\n得分矩阵有 $n^2=16$ 个元素。\n")
    [problem] = verify(folder).diagnostics
    assert problem.line == 8 and "n^2=16" in problem.message and "computed 25" in problem.message


def test_an_example_value_leaves_a_definition_of_its_paragraph_general(tmp_path: Path) -> None:
    folder = content(tmp_path, "## 定义？ {#def}\n\n取 $x=2$，记 $f(x)=x^2$，则 $f(x)=4$，而 $f(3)=9$。\n")
    report = verify(folder)
    assert report.ok, report.diagnostics
    assert sorted((r.status, r.text) for r in report.results) == [
        ("definition", "f(x) := x ** 2"), ("setting", "x == 2"), ("symbolic", "f(2) == 4"),
        ("symbolic", "f(3) == 9")]


def test_an_example_value_of_an_assumed_symbol_is_a_case_of_it(tmp_path: Path) -> None:
    folder = content(tmp_path, "## 分组？ {#groups}\n\n$G=1$ 就是层归一化：$C/G=C$。\n\n"
                               "```check\nassume G, C: positive\n```\n")
    report = verify(folder)
    assert report.ok, report.diagnostics
    assert [(r.status, r.text) for r in by_line(report, 7)] == [("setting", "G == 1"),
                                                                ("symbolic", "C / 1 == C")]


def test_an_example_value_of_a_bound_variable_keeps_limits_and_derivatives_meaningful(tmp_path: Path) -> None:
    folder = content(tmp_path, "## 取值？ {#bound}\n\n取 $x=2$：$\\frac{d}{dx}x^3=12$，"
                               "$\\lim_{x\\to0}\\frac{\\sin x}{x}=1$，$\\sum_{x=1}^{3}x=6$，"
                               "$\\lim_{t\\to x}t^2=4$。\n")
    report = verify(folder)
    assert report.ok, report.diagnostics
    assert [r.status for r in report.results] == ["setting", "symbolic", "symbolic", "symbolic", "symbolic"]
    wrong = content(tmp_path, "## 取值？ {#bound}\n\n取 $x=2$：$\\frac{d}{dx}x^3=3x^2=13$。\n")
    [problem] = verify(wrong).diagnostics
    assert problem.line == 7 and "computed 12" in problem.message


def test_a_general_identity_after_an_example_value_is_still_verified_in_general(tmp_path: Path) -> None:
    folder = content(tmp_path, "## 导数？ {#deriv}\n\n在 $x=0$ 处：$g(x)=x+x^3$，$g'(x)=1+3x^2$。\n")
    report = verify(folder)
    assert report.ok, report.diagnostics
    [claim] = [r for r in report.results if r.status == "symbolic"]
    # decided for all x, not only at x = 0 (where the x^2 term vanishes and 1+4x^2 would pass too)
    assert "0" not in claim.text and claim.message == ""


def test_a_display_that_ends_an_unfinished_sentence_continues_its_example(tmp_path: Path) -> None:
    folder = content(tmp_path, "## 规模？ {#size}\n\n例如 $n=4$、$d=8$ 时，得分矩阵的元素个数是\n\n"
                               "$$n^2=16$$\n\n$n=5$ 时算完了。\n\n$$n^2=25$$\n")
    report = verify(folder)
    assert [(r.status, r.text) for r in by_line(report, 9)] == [("symbolic", "4 ** 2 == 16")]
    # after a finished sentence the display stands alone: n is any number there
    [alone] = by_line(report, 13)
    assert alone.status == "unread" and "fails for some values of n" in alone.message


def test_a_free_name_said_to_differ_from_a_value_is_not_a_claim_for_all_values(tmp_path: Path) -> None:
    """`$d\\neq768$`, `$q\\neq p$` hold at random points but fail where the sides agree (a flipped example
    value or result had passed as verified): as a claim for all values each fails there, so in prose
    it is unread, naming that value. A ≠ between expressions that never agree is still a claim."""
    body = ("## 维度？ {#dims}\n\n维度 $d\\neq768$ 很常见。\n\n总有 $e^{x} \\neq 0$。\n\n"
            "最优解 $q\\neq p$。\n\n展开 $(a+b)^2 \\neq a^2+b^2$。\n")
    folder = content(tmp_path, body)
    report = verify(folder)
    [flipped] = by_line(report, 7)
    assert flipped.status == "unread"
    assert "at d=768: both sides are 768" in flipped.message
    [identity] = by_line(report, 9)
    assert identity.status in ("symbolic", "numeric"), identity.message
    [names] = by_line(report, 11)
    assert names.status == "unread" and "both sides are" in names.message
    [square] = by_line(report, 13)  # equal where a or b is 0
    assert square.status == "unread" and ("a=0" in square.message or "b=0" in square.message)


def test_an_unequal_condition_that_governs_nothing_states_nothing(tmp_path: Path) -> None:
    """`$d\\neq768$ 时` in a question with nothing decided under it restricts nothing (a flipped example
    value `$d=768$ 时` had passed as a condition); `当 $x\\neq0$ 时 $x/x=1$` governs its claim."""
    folder = content(tmp_path, "## $d\\neq768$ 时共多少？ {#idle}\n\n当 $x\\neq0$ 时 $x/x=1$。\n")
    report = verify(folder)
    [idle] = by_line(report, 5)
    assert idle.status == "unread" and "no claim of its sentence" in idle.message
    governed = [r for r in by_line(report, 7) if r.source == "formula"]
    assert [r.status for r in governed] == ["setting", "symbolic"]


def test_an_example_value_reaches_the_names_defined_through_it(tmp_path: Path) -> None:
    """`$\\rho=1.5$` then `$\\bar\\rho A=1.2$`: \\bar\\rho was defined through ρ, so the example's value
    holds inside it too (it had read ρ as any number there, and the claim failed for some)."""
    body = ("## 截断？ {#clip}\n\n$$\\bar\\rho=\\min(\\rho, 1.2)$$\n\n"
            "例如 $\\rho=1.5$，$\\bar\\rho=1.2$；$\\rho=1$，$\\bar\\rho=1.3$。\n")
    report = verify(content(tmp_path, body))
    claims = [r for r in by_line(report, 9) if r.status not in ("setting",)]
    assert [r.status for r in claims] == ["symbolic", "failed"], claims
    assert "1.3" in claims[1].message


def test_an_example_value_no_claim_uses_is_counted_as_unused(tmp_path: Path) -> None:
    """`$\\gamma=0.9$ 时 $\\frac{1}{1-0.9}=10$` restates the value: a changed γ passes, so γ is unused;
    written through the name (`$\\frac{1}{1-\\gamma}=10$`) or through a definition of it, it is used."""
    body = ("## 几倍？ {#momentum}\n\n$\\gamma=0.9$ 时 $\\frac{1}{1-0.9}=10$。\n\n"
            "$\\gamma=0.9$ 时 $\\frac{1}{1-\\gamma}=10$。\n\n$$m=\\frac{1}{1-\\gamma}$$\n\n"
            "$\\gamma=0.99$ 时 $m=100$。\n")
    report = verify(content(tmp_path, body))
    [literal] = [r for r in by_line(report, 7) if r.text == "gamma == 0.9"]
    assert literal.status == "unused" and "used by no claim" in literal.message
    [named] = [r for r in by_line(report, 9) if r.text == "gamma == 0.9"]
    assert named.status == "setting"
    [through] = [r for r in by_line(report, 13) if r.text == "gamma == 0.99"]
    assert through.status == "setting"
    [claim] = [r for r in by_line(report, 13) if r.status not in ("setting", "unused")]
    assert claim.status == "symbolic" and claim.text.startswith("with_value(m, gamma, 0.99)")


def test_an_example_value_reaches_a_definition_inside_an_approx(tmp_path: Path) -> None:
    body = ("## 近似？ {#ap}\n\n$$d_{ff}=\\frac{8}{3}d$$\n\n"
            "LLaMA 的 $d=4096$，$d_{ff}\\approx10922.7$ 不是整数。\n")
    [claim] = [r for r in by_line(verify(content(tmp_path, body)), 9) if r.text.startswith("approx")]
    assert claim.status == "symbolic" and "with_value(d_ff, d, 4096)" in claim.text


def test_strict_mode_refuses_an_example_value_no_claim_uses(tmp_path: Path) -> None:
    folder = content(tmp_path, "## 几倍？ {#momentum}\n\n$\\gamma=0.9$ 时 $\\frac{1}{1-0.9}=10$。\n")
    [problem] = strict_problems(folder)
    assert problem.line == 7 and "used by no claim" in problem.message and "\\gamma=0.9" in problem.message


def test_a_shown_definition_no_claim_uses_is_counted_and_strict_refuses_it(tmp_path: Path) -> None:
    """`$p=q-v$` (an update rule) that nothing after it uses is read and checked by nothing: a
    changed term would pass. Used by a claim directly, or through another definition a claim uses, it
    is guarded."""
    body = ("## 更新？ {#update}\n\n$$p=q-v$$\n\n"
            "$$s(x)=x^2$$\n\n$$u(x)=s(x)+1$$\n\n所以 $u(2)=5$。\n")
    folder = content(tmp_path, body)
    report = verify(folder)
    [unused] = by_line(report, 7)
    assert unused.status == "unused definition" and "used by no claim" in unused.message
    assert [r.status for r in by_line(report, 9)] == ["definition"]  # through u
    assert [r.status for r in by_line(report, 11)] == ["definition"]
    [problem] = strict_problems(folder)
    assert problem.line == 7 and "«p=q-v»" in problem.message and "used by no claim" in problem.message


def test_a_definition_a_check_line_or_a_computed_number_uses_is_guarded(tmp_path: Path) -> None:
    body = ("## 用？ {#used}\n\n$$f(x)=3x$$\n\n$$g(x)=x+1$$\n\n$g(1)$ 是 `= g(1)`。\n\n"
            "```check\nf(2) == 6\n```\n")
    report = verify(content(tmp_path, body))
    assert [r.status for r in report.results if r.source == "formula"] == ["definition", "definition"]


def test_a_claim_under_conditions_no_value_satisfies_states_nothing(tmp_path: Path) -> None:
    """`当 $1<\\gamma<1$ 时 …` (a mutated `0<\\gamma<1`), or an example value outside its sentence's
    condition, made any claim true of nothing: it is unread, and strict mode refuses it."""
    body = ("## 级数？ {#geo}\n\n当 $0<\\gamma<1$ 时 $\\sum_{k=0}^{\\infty}\\gamma^k=1/(1-\\gamma)$。\n\n"
            "当 $1<\\gamma<1$ 时 $\\sum_{k=0}^{\\infty}\\gamma^k=1/(1-\\gamma)$。\n\n"
            "当 $0<\\gamma<1$ 时，$\\gamma=1$ 时 $1/(1-\\gamma)=10$。\n")
    folder = content(tmp_path, body)
    report = verify(folder)
    [general] = [r for r in by_line(report, 7) if r.status != "setting"]
    assert general.status in ("symbolic", "numeric"), general.message
    for line in (9, 11):
        [empty] = [r for r in by_line(report, line) if r.status != "setting"]
        assert empty.status == "unread" and "no value satisfies its conditions" in empty.message, empty
    assert sorted(d.line for d in strict_problems(folder)) == [9, 11]
