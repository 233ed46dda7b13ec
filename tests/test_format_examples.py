"""Every example in docs/FORMAT.md's `| name | example |` tables is a claim that holds.

Card authors copy these lines; a table that drifts from the code would teach wrong usage.
"""

from __future__ import annotations

import re
from pathlib import Path

from test_verify_claims import make_card, verify

FORMAT = Path(__file__).resolve().parents[1] / "docs" / "FORMAT.md"


def table_examples() -> list[str]:
    examples: list[str] = []
    in_table = False
    for line in FORMAT.read_text(encoding="utf-8").splitlines():
        if line.startswith("| name | example |"):
            in_table = True
            continue
        if in_table and not line.startswith("|"):
            in_table = False
        if in_table and not line.startswith("| ---"):
            cell = line.rstrip().rstrip("|").rsplit("|", 1)[-1].strip()
            match = re.fullmatch(r"`(.+)`", cell)
            assert match, f"example cell is not one code span: {line}"
            examples.append(match.group(1))
    return examples


def test_every_table_example_in_the_format_doc_holds():
    examples = table_examples()
    assert len(examples) >= 35
    source = "\n".join(examples) + "\n"
    report = verify(make_card("format-examples", (1, source)))
    assert report.ok, report.diagnostics
    assert len(report.results) == len(examples)
    assert all(r.status == "symbolic" for r in report.results), [
        (r.line, r.status) for r in report.results if r.status != "symbolic"
    ]
