"""The formula check: both engines, real failures named by card, file and line, and the cache."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dldeck.mathengines import (
    MathEngineError,
    compile_formulas,
    mathjax,
    strip_cloze_markers,
    tex_to_mathml,
    tex_to_typst,
)
from dldeck.mathengines.formulas import CACHE_FILE_NAME, all_passed_before, collection_formulas, formula_key
from dldeck.model import Cloze, DisplayMath, Math, Text
from test_cheatsheet_samples import card, para, sample_collection, span, with_cards


def test_strip_cloze_markers_keeps_the_inside_and_drops_hints() -> None:
    tex = r"\frac{ {{c1::a::the numerator}} }{ {{c2::b}} } + {{c3::c}}"
    assert strip_cloze_markers(tex) == r"\frac{ a }{ b } + c"
    assert strip_cloze_markers(r"x^{2}") == r"x^{2}"


def test_tex_to_mathml_is_mathml_without_html_layout() -> None:
    out = tex_to_mathml(r"\frac{1}{1+e^{-x}}", display=True)
    assert "<math" in out and 'display="block"' in out and "<mfrac>" in out
    assert "katex-html" not in out  # no HTML/CSS rendering that would need KaTeX's stylesheet and fonts
    assert 'display="block"' not in tex_to_mathml("x", display=False)


def test_tex_to_mathml_sees_through_cloze_markers() -> None:
    assert "{{" not in tex_to_mathml(r"{{c1::e^{z} }}", display=False)


@pytest.mark.parametrize("tex", [r"\foo{x}", r"\frac{1}{2", r"x^{2"])
def test_katex_refuses_unknown_macros_and_unbalanced_braces(tex: str) -> None:
    with pytest.raises(MathEngineError) as info:
        tex_to_mathml(tex, display=False)
    assert info.value.engine == "KaTeX"


def test_tex_to_typst_converts_and_refuses_code_injection() -> None:
    assert tex_to_typst(r"\frac{1}{4}") == "1/4"
    with pytest.raises(MathEngineError, match="Typst code"):
        tex_to_typst(r'\text{" #read("x") "}')


def test_every_formula_is_collected_including_cloze_and_question_math() -> None:
    uses = collection_formulas(sample_collection())
    texs = {u.tex for u in uses}
    assert r"\max(0, x)" in texs  # in a question
    assert r"\mathbb{1}[x>0]" in texs  # in a table cell
    assert any("{{c2::" in t for t in texs)  # cloze inside display math
    displays = {u.tex for u in uses if u.display}
    assert r"\sigma'(x) = \sigma(x)\bigl(1-\sigma(x)\bigr)" in displays


def test_good_collection_passes_and_counts_every_occurrence() -> None:
    collection = sample_collection()
    report = compile_formulas(collection)
    assert report.diagnostics == ()
    assert report.count == len(collection_formulas(collection)) >= 7


def _bad_card(tex: str, *, in_cloze: bool = False):
    inline = Math(tex, span(12))
    children = (Cloze(1, (inline,)),) if in_cloze else (inline,)
    return card("bad-formula", (Text("Q"),), (para(12, Text("see "), *children),), line=10)


def test_katex_error_fails_naming_card_file_line_and_engine() -> None:
    report = compile_formulas(with_cards(_bad_card(r"x^2^3 + 1")))
    assert len(report.diagnostics) == 1
    message = str(report.diagnostics[0])
    assert message.startswith("content/activations.md:12: formula does not compile in KaTeX: «x^2^3 + 1»")
    assert "superscript" in message.split("—", 1)[1] and "bad-formula" in message


def test_unknown_macro_is_refused_by_name_before_any_engine() -> None:
    report = compile_formulas(with_cards(_bad_card(r"\foo{x} + 1")))
    assert [str(d) for d in report.diagnostics] == [
        "content/activations.md:12: formula refused: unknown TeX command \\foo (not on the formula "
        "allow-list): «\\foo{x} + 1» [card bad-formula]"]


def test_formula_only_typst_refuses_is_reported_with_typst_message() -> None:
    # KaTeX knows \xrightarrow; tex2typst passes it through as `xrightarrow`, which Typst does not know.
    bad = card("arrow", (Text("Q"),), (DisplayMath(r"a \xrightarrow{f} b", span(15)),), line=14)
    report = compile_formulas(with_cards(bad, *sample_collection().cards))
    assert [d.line for d in report.diagnostics] == [15]
    message = report.diagnostics[0].message
    assert "does not compile in Typst" in message and "xrightarrow" in message and "[card arrow]" in message


def test_bad_formula_inside_a_cloze_is_found() -> None:
    report = compile_formulas(with_cards(_bad_card(r"\frac{1}{2", in_cloze=True)))
    assert len(report.diagnostics) == 1 and report.diagnostics[0].line == 12


def test_cache_records_passes_only_and_is_reused(tmp_path: Path) -> None:
    good = sample_collection()
    first = compile_formulas(good, cache_dir=tmp_path)
    data = json.loads((tmp_path / CACHE_FILE_NAME).read_text())
    assert len(data["passed"]) == len({(u.tex, u.display) for u in collection_formulas(good)})
    second = compile_formulas(good, cache_dir=tmp_path)
    assert first == second
    bad = with_cards(_bad_card(r"\foo"))
    assert compile_formulas(bad, cache_dir=tmp_path).diagnostics
    assert compile_formulas(bad, cache_dir=tmp_path).diagnostics  # failures are never cached
    assert (tmp_path / CACHE_FILE_NAME).read_text() == json.dumps(data, indent=0) + "\n"


def test_formulas_passed_before_need_no_engine_and_no_child(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """An edit that adds no formula (a prose edit): every formula passed before, so the formula job
    starts no child, compiles nothing and gives the report compiling would give; the cache file is
    not written again. A new formula, or one the allow-list refuses, is compiled as always."""
    import dldeck.mathengines as mathengines
    from dldeck.mathengines import engines
    from dldeck.pipeline import formulas as formula_pass
    from dldeck.pipeline.outcome import Work

    good = sample_collection()
    compiled = compile_formulas(good, cache_dir=tmp_path)
    cache = tmp_path / CACHE_FILE_NAME
    before = cache.stat().st_mtime_ns, cache.stat().st_ino
    assert compile_formulas(good, cache_dir=tmp_path) == compiled
    assert (cache.stat().st_mtime_ns, cache.stat().st_ino) == before

    def no_child(*args: object, **kwargs: object) -> None:
        raise AssertionError("a child was started with nothing to convert")

    monkeypatch.setattr(formula_pass.ChildProcess, "start", no_child)
    monkeypatch.setattr(engines, "typst_ran_here", lambda: False)  # else no child would start anyway
    monkeypatch.setattr(mathengines, "compile_formulas", no_child)  # what finish() would compile with
    memo = formula_pass.FormulaMemo(tmp_path)
    memo.load(good, Work())
    job = formula_pass.FormulaJob(good, tmp_path, memo=memo)
    job.start_in_background()
    assert job.finish() == compiled

    uses = collection_formulas(good)
    assert all_passed_before({(u.tex, u.display) for u in uses}, tmp_path)
    assert not all_passed_before({(u.tex, u.display) for u in uses} | {(r"\sqrt{q_{new}}", False)}, tmp_path)
    assert not all_passed_before({(r"\foo{x}", False)}, tmp_path)  # refused: compiled to report it


def test_corrupt_cache_is_ignored(tmp_path: Path) -> None:
    (tmp_path / CACHE_FILE_NAME).write_text("{not json")
    assert compile_formulas(with_cards(_bad_card(r"\foo")), cache_dir=tmp_path).diagnostics


def test_cases_keep_a_gap_between_value_and_condition() -> None:
    typst = tex_to_typst(r"f(x)=\begin{cases} x & x>0 \\ 0 & x\le 0\end{cases}")
    assert typst == "f(x) = cases(x & quad x > 0, 0 & quad x <= 0)"
    assert tex_to_typst(r"a \& b") == r"a \& b"  # an escaped ampersand outside cases is text


# --------------------------------------------------------------------------- Anki's own MathJax

def _anki_mathjax() -> None:
    """The MathJax check must run where `make` installed it (DLDECK_REQUIRE_MATHJAX=1 there)."""
    found = mathjax.locate()
    if isinstance(found, str):
        if os.environ.get("DLDECK_REQUIRE_MATHJAX") == "1":
            pytest.fail(f"Anki's MathJax is required here but unavailable: {found}")
        pytest.skip(found)


def test_katex_accepts_what_anki_shows_raw_and_the_build_fails_at_its_line() -> None:
    _anki_mathjax()
    tex = r"\text{output\_padding}"
    tex_to_mathml(tex, display=False)  # KaTeX alone would pass it
    report = compile_formulas(with_cards(_bad_card(tex)))
    assert [str(d).split(": ", 1)[0] for d in report.diagnostics] == ["content/activations.md:12"]
    message = report.diagnostics[0].message
    assert "shows wrong in Anki (MathJax 3.2.2" in message and r"output\_padding" in message
    assert "raw TeX shown as text" in message and "[card bad-formula]" in message
    assert report.notes == ()


@pytest.mark.parametrize(("tex", "expected"), [
    (r"\frac{a}{b", "MathJax error: Missing close brace"),
    (r"\foo x", r"unknown macro \foo"),
    (r"a\text{ \alpha } b", r"raw TeX shown as text: \alpha"),
    (r"\tfrac12 \bigl(x\bigr) \operatorname{sgn} \coloneqq \text{中文}", None),  # mathtools: \coloneqq
])
def test_anki_mathjax_names_what_the_learner_would_see(tex: str, expected: str | None) -> None:
    _anki_mathjax()
    [problem] = mathjax.check([(tex, True)])
    if expected is None:
        assert problem is None
    else:
        assert problem is not None and problem.startswith(expected)


def test_mathjax_unavailable_is_a_one_line_note_not_a_silent_pass(monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    monkeypatch.setenv(mathjax.ENVIRONMENT_VARIABLE, str(tmp_path / "missing"))
    mathjax.locate.cache_clear()
    try:
        report = compile_formulas(with_cards(_bad_card(r"\text{output\_padding}")))
        key = formula_key("x", False)
    finally:
        monkeypatch.undo()
        mathjax.locate.cache_clear()
    assert report.diagnostics == ()
    assert len(report.notes) == 1 and "MathJax check skipped" in report.notes[0]
    assert "\n" not in report.notes[0]
    assert key != formula_key("x", False) or isinstance(mathjax.locate(), str)  # rechecked once it is here


def test_typst_checks_formulas_in_batches_in_its_own_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Formulas compile in batch documents, each in a short-lived Typst process (Typst's memory goes with
    it); a formula Typst refuses is found in its batch and named, the others pass."""
    from dldeck.emit import typeset as child
    from dldeck.mathengines import engines

    calls = []
    real = child.typeset
    monkeypatch.setattr(child, "typeset", lambda *args, **kwargs: calls.append(args) or real(*args, **kwargs))
    monkeypatch.setattr(engines, "CHECK_BATCH", 3)
    monkeypatch.setattr(engines, "compile_typst", lambda source: pytest.fail("Typst compiled here"))
    formulas = [("x + 1", False), ("y^2", True), ("z", False), ("a xrightarrow(f) b", True), ("w", False)]
    results = engines.typst_check_formulas(formulas)
    assert [result is None for result in results] == [True, True, True, False, True]
    assert "xrightarrow" in results[3]
    assert len(calls) >= 2  # one per batch at least, then the bisection of the failing one
