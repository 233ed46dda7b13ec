"""scripts/coverage.py: seed inventory first, then every syllabus file; an uncovered slug fails."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CARDS = """---
deck: Test
---

# Section

## Seed question? {#seed-card covers="seed-one"}

Answer.

## Syllabus question? {#syllabus-card covers="alpha-topic beta-topic"}

Answer.
"""


def run(tmp_path: Path, syllabus_files: dict[str, str], cards: str = CARDS) -> subprocess.CompletedProcess:
    content = tmp_path / "content"
    (content / "01-test").mkdir(parents=True, exist_ok=True)
    (content / "01-test" / "01-cards.md").write_text(cards, encoding="utf-8")
    inventory = tmp_path / "INVENTORY.md"
    inventory.write_text("# Inventory\n\n### `seed-one` 种子问题\n\n- facts\n", encoding="utf-8")
    syllabus = tmp_path / "syllabus"
    syllabus.mkdir(exist_ok=True)
    for name, text in syllabus_files.items():
        (syllabus / name).write_text(text, encoding="utf-8")
    command = [sys.executable, str(ROOT / "scripts" / "coverage.py"), "--content", str(content),
               "--inventory", str(inventory), "--syllabus", str(syllabus)]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_every_syllabus_file_is_read_and_printed_after_the_seed_table(tmp_path: Path) -> None:
    result = run(tmp_path, {"17-a.md": "### `alpha-topic` 问题 A\nmust say X\n",
                            "18-b.md": "# B\n\n### `beta-topic` 问题 B\nmust say Y\n"})
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines.index("1/1 inventory slugs covered") < lines.index("2/2 syllabus slugs covered")
    assert lines.index("1/1 inventory slugs covered") < next(
        i for i, line in enumerate(lines) if line.startswith("alpha-topic") and "syllabus-card" in line)


def test_an_uncovered_syllabus_slug_fails(tmp_path: Path) -> None:
    result = run(tmp_path, {"17-a.md": "### `alpha-topic` A\n", "18-b.md": "### `beta-topic` B\n",
                            "19-c.md": "### `gamma-topic` C\n"})
    assert result.returncode == 1
    assert "2/3 syllabus slugs covered" in result.stdout
    assert "uncovered: gamma-topic" in result.stdout


def test_a_slug_in_two_syllabus_files_or_an_unknown_cover_fails(tmp_path: Path) -> None:
    result = run(tmp_path, {"17-a.md": "### `alpha-topic` A\n### `beta-topic` B\n",
                            "18-b.md": "### `beta-topic` B again\n"})
    assert result.returncode == 1
    assert "syllabus slug 'beta-topic' is already in" in result.stdout
    unknown = run(tmp_path / "second", {}, cards=CARDS.replace("beta-topic", "delta-topic"))
    assert unknown.returncode == 1
    assert "covers unknown inventory slug 'delta-topic'" in unknown.stdout
