"""The `dldeck` command as an author uses it: exit statuses and messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dldeck.cli import main

GOOD = """\
---
deck: 测试
---

## 一加一等于几？ {#one-plus-one}

等于 $2$。

```check
1 + 1 == 2
```
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "a.md").write_text(GOOD, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    return tmp_path


def test_check_passes_and_summarises(project: Path) -> None:
    result = CliRunner().invoke(main, ["check", "--verbose"])
    assert result.exit_code == 0, result.output
    assert "1 cards; claims: 1 verified symbolically, 0 numerically, 0 failed, 0 timed out" in result.output
    assert "one-plus-one" in result.output and "content/a.md:10" in result.output
    assert not (project / "build" / "dldeck.apkg").exists()


def test_check_fails_with_every_error_as_path_line(project: Path) -> None:
    broken = GOOD.replace("1 + 1 == 2", "1 + 1 == 3") + "\n## 无 id\n\n答。\n"
    (project / "content" / "a.md").write_text(broken, encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "dldeck.cli", "check"], cwd=project, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 1
    # one diagnostic, one line, however narrow the terminal: editors and CI parse these
    whole = "content/a.md:13: card heading has no {#slug} id: add one, e.g. '## Question {#my-card}'"
    assert whole in result.stderr.splitlines()
    assert "nothing was written" in result.stderr


def test_check_reports_claims_after_reading_succeeds(project: Path) -> None:
    (project / "content" / "a.md").write_text(GOOD.replace("1 + 1 == 2", "1 + 1 == 3"), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "dldeck.cli", "check"], cwd=project, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 1
    assert "content/a.md:10: claim does not hold: 1 + 1 == 3" in result.stderr


def test_build_only_anki(project: Path) -> None:
    result = CliRunner().invoke(main, ["build", "--only", "anki"])
    assert result.exit_code == 0, result.output
    assert (project / "build" / "dldeck.apkg").is_file()
    assert not (project / "build" / "cheatsheet.pdf").exists()


def test_new_scaffolds_a_card_that_reads(project: Path) -> None:
    result = CliRunner().invoke(main, ["new", "two-plus-two", "--question", "二加二等于几？"])
    assert result.exit_code == 0, result.output
    created = project / "content" / "new" / "two-plus-two.md"
    assert "## 二加二等于几？ {#two-plus-two}" in created.read_text(encoding="utf-8")
    from dldeck.source import read_collection

    slugs = [card.slug for card in read_collection(project / "content").cards]
    assert slugs == ["one-plus-one", "two-plus-two"]


def test_new_refuses_a_taken_or_malformed_slug(project: Path) -> None:
    taken = CliRunner().invoke(main, ["new", "one-plus-one"])
    assert taken.exit_code == 2 and "content/a.md:5: card id 'one-plus-one' is already used" in taken.output
    bad = CliRunner().invoke(main, ["new", "Not_A_Slug"])
    assert bad.exit_code == 2 and "is not a slug" in bad.output


def test_stats_counts_cards_checks_and_figures(project: Path) -> None:
    result = CliRunner().invoke(main, ["stats"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "测试" in line)
    assert [cell.strip() for cell in row.strip("│ ").split("│")][1:] == ["1", "0", "1", "1", "0"]


def test_folders_default_to_the_configuration(project: Path) -> None:
    (project / "content").rename(project / "cards")
    (project / "dldeck.toml").write_text('content_dir = "cards"\nbuild_dir = "out"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["build", "--only", "anki"])
    assert result.exit_code == 0, result.output
    assert (project / "out" / "dldeck.apkg").is_file()


def test_a_bad_configuration_is_reported_with_its_key(project: Path) -> None:
    (project / "dldeck.toml").write_text('colums = 4\n', encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "dldeck.cli", "check"], cwd=project, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 1
    assert "dldeck.toml" in result.stderr and "colums" in result.stderr
