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
    mutants = set(mutate.text_mutants("x^2 \\le 3.5 + y_1", operators=True))
    assert {"x^3 \\le 3.5 + y_1", "x^2 \\le 3.6 + y_1", "x^2 \\ge 3.5 + y_1", "x^2 \\le 3.5 - y_1",
            "x^2 \\le 3.5 + y_2"} == mutants
    assert set(mutate.text_mutants("{{c1::2}}", operators=True)) == {"{{c1::3}}"}


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
