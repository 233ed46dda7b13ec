"""The real content: every claim verified, every seed question covered, every WRONG seed claim refused."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dldeck import pipeline
from dldeck.errors import BuildError

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "content"
INVENTORY = ROOT.parent / "shared" / "seeds" / "INVENTORY.md"


def mutations() -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for table in sorted((ROOT / "tests" / "mutations").glob("*.tsv")):
        with table.open(encoding="utf-8", newline="") as handle:
            rows.extend(csv.DictReader(handle, delimiter="\t"))
    return rows


def test_real_content_verifies(real_build: pipeline.BuildResult) -> None:
    """Built as `make build` does (strict, as the project's configuration asks): any failed claim or
    formula would have stopped the build with its path:line."""
    assert real_build.claim_counts["failed"] == real_build.claim_counts["timeout"] == 0
    assert real_build.claim_counts["symbolic"] + real_build.claim_counts["numeric"] > 600
    assert real_build.cards >= 549 and real_build.formulas > 3000


@pytest.mark.skipif(not INVENTORY.is_file(), reason="seed inventory not beside the checkout")
def test_every_inventory_slug_is_covered() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "coverage.py"), "--quiet"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "131/131 inventory slugs covered" in result.stdout


def test_all_twelve_wrong_seed_claims_have_a_mutation() -> None:
    ids = {row["claim_id"] for row in mutations()}
    assert ids == {"C004", "C038", "C052", "C061", "C063", "C070", "C098", "C106", "C135", "C136",
                   "C161", "C176"}


@pytest.mark.parametrize("row", mutations(), ids=lambda row: row["claim_id"])
def test_wrong_seed_claim_fails_the_build(tmp_path: Path, row: dict[str, str]) -> None:
    """Put the seed's wrong claim back into a copy of its file: the check must fail on that line (in
    strict mode, as the real content is built: a shown formula failing for some values is an error)."""
    source = CONTENT / row["file"]
    text = source.read_text(encoding="utf-8")
    lines = text.splitlines()
    matches = [i for i, line in enumerate(lines) if line.strip() == row["correct_line"].strip()]
    assert matches, f"{row['file']}: correct line not found: {row['correct_line']}"
    index = matches[0]
    indent = lines[index][: len(lines[index]) - len(lines[index].lstrip())]
    content = tmp_path / "content"
    (content / Path(row["file"]).parent).mkdir(parents=True)
    if (CONTENT / "_facts").is_dir():
        shutil.copytree(CONTENT / "_facts", content / "_facts")
    # the unmodified file verifies ...
    shutil.copy(source, content / row["file"])
    pipeline.check(content, tmp_path / "build", timeout=30, strict=True)
    # ... and the one with the seed's claim does not, naming the line (its card's claims are verified
    # again, the file's other cards keep their verdicts: a failure is never kept)
    lines[index] = indent + row["wrong_line"].strip()
    (content / row["file"]).write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(BuildError) as caught:
        pipeline.check(content, tmp_path / "build", timeout=30, strict=True)
    where = f"content/{row['file']}:{index + 1}:"
    assert any(str(d).startswith(where) for d in caught.value.diagnostics), caught.value
