"""The formula allow-list: commands that make links, styles, raw HTML, external loads or macros are
refused by name at their line, before any engine or writer; length and nesting limits and a time
limit per conversion keep the native engines bounded."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from dldeck.mathengines import compile_formulas, formulas
from dldeck.mathengines.whitelist import (
    MAX_FORMULA_CHARS,
    FormulaRefused,
    check_formula,
    check_text_formulas,
)
from dldeck.model import Cloze, DisplayMath, Math, Text
from dldeck.source import read_collection
from dldeck.timelimit import each_in_child
from test_cheatsheet_samples import card, para, span, with_cards

CONTENT = Path(__file__).resolve().parent.parent / "content"

# Each of these reaches Anki's MathJax verbatim unless refused here.
DANGEROUS = {
    r"\href{javascript:alert(1)}{x}": "\\href creates a link",
    r"\url{javascript:alert(1)}": "\\url creates a link",
    r"\style{background:url(x)}{x}": "\\style sets HTML",
    r"\class{evil}{x}": "\\class sets HTML",
    r"\cssId{evil}{x}": "\\cssId sets HTML",
    r"\data{x=1}{x}": "\\data sets HTML",
    r"\html{<b>}": "\\html sets HTML",
    r"\htmlClass{a}{x}": "\\htmlClass sets HTML",
    r"\htmlStyle{color:red}{x}": "\\htmlStyle sets HTML",
    r"\htmlId{a}{x}": "\\htmlId sets HTML",
    r"\htmlData{a=b}{x}": "\\htmlData sets HTML",
    r"\color{red}{x}": "\\color sets HTML",
    r"\unicode{x1F600}": "\\unicode loads",
    r"\require{html}": "\\require loads",
    r"\includegraphics{http://evil/x.png}": "\\includegraphics loads",
    r"\mmlToken{mi}{x}": "\\mmlToken loads",
    r"\input{/etc/passwd}": "\\input loads",
    r"\verb|x|": "\\verb loads",
    r"\def\h{\hr}\h": "\\def defines or expands macros",
    r"\newcommand{\h}{x}": "\\newcommand defines",
    r"\renewcommand{\frac}{x}": "\\renewcommand defines",
    r"\let\h=\href": "\\let defines",
    r"\gdef\h{x}": "\\gdef defines",
    r"\edef\h{x}": "\\edef defines",
    r"\xdef\h{x}": "\\xdef defines",
    r"\csname href\endcsname": "\\csname defines",
    r"\expandafter\h": "\\expandafter defines",
    r"\catcode`\^=11": "\\catcode defines",
    r"x + \ce{H2O}": "unknown TeX command \\ce (not on the formula allow-list)",
    r"\begin{verbatim}x\end{verbatim}": "unknown environment {verbatim}",
    r"\begin x": "\\begin must be followed by an environment name",
    "x \\": "a lone backslash",
}


def _card_with(tex: str, *, display: bool = False, in_cloze: bool = False):
    node = DisplayMath(tex, span(12)) if display else Math(tex, span(12))
    if display:
        return card("hostile", (Text("Q"),), (para(11, Text("see")), node), line=10)
    children = (Cloze(1, (node,)),) if in_cloze else (node,)
    return card("hostile", (Text("Q"),), (para(12, Text("see "), *children),), line=10)


@pytest.mark.parametrize(("tex", "why"), DANGEROUS.items(), ids=list(DANGEROUS))
def test_each_dangerous_command_is_refused_by_name_at_its_line(tex: str, why: str) -> None:
    report = compile_formulas(with_cards(_card_with(tex)))
    (diagnostic,) = report.diagnostics
    assert (diagnostic.path, diagnostic.line) == ("content/activations.md", 12)
    assert diagnostic.message.startswith("formula refused: ") and why in diagnostic.message
    assert "[card hostile]" in diagnostic.message


@pytest.mark.parametrize("where", ["display", "cloze"])
def test_display_math_and_cloze_math_are_checked_too(where: str) -> None:
    tex = r"a + {{c1::\href{javascript:x}{b} }}" if where == "cloze" else r"\href{javascript:x}{b}"
    hostile = _card_with(tex, display=where == "display", in_cloze=where == "cloze")
    report = compile_formulas(with_cards(hostile))
    assert [(d.line, "\\href creates a link" in d.message) for d in report.diagnostics] == [(12, True)]


def test_common_math_and_environments_pass() -> None:
    for tex in (r"\begin{pmatrix} a & b \\ c & d \end{pmatrix}", r"\sum_{i=1}^{n} \alpha_i \,\mathrm{d}x",
                r"f(x)=\begin{cases} x & x>0 \\ 0 & \text{else} \end{cases}",
                r"\left\lVert x \right\rVert_2"):
        check_formula(tex)
    assert not compile_formulas(with_cards(_card_with(r"\begin{bmatrix} 1 \\ 2 \end{bmatrix}"))).diagnostics


def test_length_and_nesting_limits_refuse_before_any_engine() -> None:
    with pytest.raises(FormulaRefused, match="characters long"):
        check_formula("x+" * MAX_FORMULA_CHARS)
    with pytest.raises(FormulaRefused, match="braces nested deeper than 10"):
        check_formula(r"\frac{" * 11 + "x" + "}{y}" * 11)
    started = time.monotonic()
    report = compile_formulas(with_cards(_card_with("x+" * 32_000)))  # 64 KB took tex2typst 7 minutes
    assert time.monotonic() - started < 2
    assert "64,000 characters long (at most 2,000)" in report.diagnostics[0].message


def test_the_longest_allowed_formula_is_bounded() -> None:
    # tex2typst is quadratic: the worst formula under the length limit converts, or is stopped, in seconds
    started = time.monotonic()
    report = compile_formulas(with_cards(_card_with("x+" * (MAX_FORMULA_CHARS // 2 - 1) + "x")))
    assert time.monotonic() - started < formulas.FORMULA_TIME_LIMIT + 5
    assert all("time limit" in d.message for d in report.diagnostics)


def test_slow_conversions_are_stopped_and_after_three_the_rest_are_not_run(monkeypatch) -> None:
    monkeypatch.setattr(formulas, "FORMULA_TIME_LIMIT", 0.05)
    slow = [card(f"slow-{i}", (Text("Q"),), (para(20 + i, Math("x+" * 900 + f"{i}", span(20 + i))),),
                 line=19 + i, order=i) for i in range(5)]
    started = time.monotonic()
    report = compile_formulas(with_cards(*slow))
    assert time.monotonic() - started < 10
    messages = [(d.line, d.message.split(":")[0]) for d in report.diagnostics]
    assert messages == [(20, "formula took longer than 0.05 s to convert (time limit)"),
                        (21, "formula took longer than 0.05 s to convert (time limit)"),
                        (22, "formula took longer than 0.05 s to convert (time limit)"),
                        (23, "formula not converted"), (24, "formula not converted")]


def _hostile_item(item: str) -> str:
    if item == "abort":
        os.abort()  # what a native engine's heap corruption looks like from here
    if item == "hang":
        time.sleep(60)
    if item == "raise":
        raise ValueError("bad input")
    return item.upper()


def test_each_in_child_survives_crashes_hangs_and_exceptions() -> None:
    started = time.monotonic()
    outcomes = each_in_child(_hostile_item, ["a", "abort", "b", "hang", "raise", "c"], 0.5)
    assert time.monotonic() - started < 10
    assert outcomes == [("ok", "A"), ("crash", None), ("ok", "B"), ("timeout", None),
                        ("error", "ValueError: bad input"), ("ok", "C")]
    assert each_in_child(_hostile_item, ["hang", "hang", "a"], 0.2, stop_after=2) == [
        ("timeout", None), ("timeout", None), ("skipped", None)]


def test_real_content_uses_only_allowed_commands() -> None:
    collection = read_collection(CONTENT)
    for use in formulas.collection_formulas(collection):
        check_formula(use.tex)
    for card_ in collection.cards:
        for block in card_.figures:
            check_text_formulas(block.source)  # captions and labels
