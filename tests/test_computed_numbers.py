"""Numbers in prose computed by the check language, shown the same in the deck and both sheets."""

from __future__ import annotations

import html
import sqlite3
import zipfile
from fractions import Fraction
from pathlib import Path

import pypdf
import pytest

from dldeck import pipeline
from dldeck.errors import BuildError
from dldeck.source import read_collection
from dldeck.verify.numbers import FormatError, format_value, split_computed

CARD = """\
---
deck: 测试
---

## 3×3 卷积有多少参数？ {#conv-params}

64 个 3×3 卷积核、3 个输入通道：`= params(Conv2d(3, 64, 3)) | ,` 个参数；
学习率衰减到 `= 0.1**3 | .1%`；$(a+b)^2 = a^2 + 2ab + b^2$。

```check
params(Conv2d(3, 64, 3)) == 1792
```
"""


@pytest.mark.parametrize(("value", "spec", "text"), [
    (Fraction(1792), ",", "1,792"),
    (Fraction(1792), "", "1792"),
    (Fraction(1, 8), ".2f", "0.13"),  # half up, as a learner rounds
    (Fraction(1, 1000), ".1%", "0.1%"),
    (Fraction(-1, 1000), ".2f", "0.00"),
    (Fraction(1234567, 100), ",.2f", "12,345.67"),
    (Fraction(7), "d", "7"),
])
def test_values_are_formatted_exactly(value: Fraction, spec: str, text: str) -> None:
    assert format_value(value, spec) == text


def test_a_fraction_is_never_printed_as_an_integer() -> None:
    with pytest.raises(FormatError, match="not an integer"):
        format_value(Fraction(1, 3), "")


def test_the_inline_syntax() -> None:
    assert split_computed("= params(Conv2d(3, 64, 3)) | ,") == ("params(Conv2d(3, 64, 3))", ",")
    assert split_computed("=2**10") == ("2**10", "")
    assert split_computed("== x") is None and split_computed("x = 1") is None


def build(tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    folder = tmp_path / "content"
    folder.mkdir()
    (folder / "a.md").write_text(text, encoding="utf-8")
    pipeline.build(folder, tmp_path / "build")
    return tmp_path / "build"


def deck_fields(apkg: Path) -> str:
    with zipfile.ZipFile(apkg) as archive:
        data = archive.read("collection.anki2")
    database = apkg.parent / "collection.anki2"
    database.write_bytes(data)
    connection = sqlite3.connect(database)
    try:
        return "\n".join(row[0] for row in connection.execute("SELECT flds FROM notes"))
    finally:
        connection.close()


def test_computed_numbers_read_the_same_in_deck_html_and_pdf(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    out = build(tmp_path, CARD, monkeypatch)
    deck = deck_fields(out / "dldeck.apkg")
    page = html.unescape((out / "cheatsheet.html").read_text(encoding="utf-8"))
    pdf = "".join(page.extract_text() for page in pypdf.PdfReader(out / "cheatsheet.pdf").pages)
    for text in ("1,792", "0.1%"):
        assert f'<span class="computed">{text}</span><sup class="vmark">✓</sup>' in deck
        assert f'<span class="computed">{text}</span><sup class="vmark">✓</sup>' in page
        assert f"{text}✓" in pdf.replace(" ", "")
    assert "params(" not in page and "params(" not in pdf and "params(" not in deck
    # the verified formula carries the mark too, and each output explains it once
    assert "</math></span><sup class=\"vmark\">✓</sup>" in page
    assert "公式与数值已由 sympy 验证" in page and "公式与数值已由 sympy 验证" in pdf


def test_a_computed_number_that_is_not_a_number_is_a_path_line_error(tmp_path: Path) -> None:
    folder = tmp_path / "content"
    folder.mkdir()
    text = "---\ndeck: 测试\n---\n\n## 问？ {#q}\n\n值：\n`= x + 1`。\n"
    (folder / "a.md").write_text(text, encoding="utf-8")
    with pytest.raises(BuildError) as caught:
        pipeline.check(folder)
    [problem] = caught.value.diagnostics
    assert problem.line == 8 and "not a number" in problem.message


def test_an_unknown_number_format_is_a_reading_error(tmp_path: Path) -> None:
    folder = tmp_path / "content"
    folder.mkdir()
    (folder / "a.md").write_text("---\ndeck: 测试\n---\n\n## 问？ {#q}\n\n`= 2 | .2x`\n", encoding="utf-8")
    with pytest.raises(BuildError, match="unknown number format"):
        read_collection(folder)
