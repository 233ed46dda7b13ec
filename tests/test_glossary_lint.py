"""The language lint: glossary terms and curly quotes in what a learner reads, each at its own line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from dldeck.errors import BuildError
from dldeck.source import read_collection

GLOSSARY = """\
curly_quotes = true

[[term]]
use = "下采样"
not = ["降采样"]

[[term]]
use = "超参数"
not = ["超参"]

[[term]]
use = "早停"
not = ["early stopping"]
allow = ["早停（early stopping）"]
"""


def messages(tmp_path: Path, card: str, glossary: str = GLOSSARY) -> list[str]:
    content = tmp_path / "content"
    content.mkdir(exist_ok=True)
    (content / "_glossary.toml").write_text(textwrap.dedent(glossary), encoding="utf-8")
    (content / "a.md").write_text(textwrap.dedent(card), encoding="utf-8")
    try:
        read_collection(content)
    except BuildError as error:
        return [str(d) for d in error.diagnostics]
    return []


def test_variant_is_reported_at_its_own_line_of_a_wrapped_paragraph(tmp_path: Path) -> None:
    card = "## Q {#a}\n\n第一行说池化，\n第二行 $x$ 再说降采样，\n第三行。\n"
    assert messages(tmp_path, card) == ["content/a.md:4: use “下采样” instead of “降采样”"]


def test_every_visible_part_is_checked(tmp_path: Path) -> None:
    card = """\
    ## 降采样是什么？ {#a}

    - 列表里的**降采样**

    | 名称 | 说明 |
    | --- | --- |
    | 池化 | 一种降采样 |

    ::: extra
    {{c1::超参}}要调。
    :::
    """
    assert messages(tmp_path, card) == [
        "content/a.md:1: use “下采样” instead of “降采样”",
        "content/a.md:3: use “下采样” instead of “降采样”",
        "content/a.md:7: use “下采样” instead of “降采样”",
        "content/a.md:10: use “超参数” instead of “超参”",
    ]


def test_math_code_checks_figures_and_sources_are_exempt(tmp_path: Path) -> None:
    card = """\
    ## Q {#a}

    公式 $\\text{"降采样"}$ 和代码 `padding="same"`，Adam's 更新。

    $$\\text{降采样 "x"}$$

    ```python
    s = "降采样"
    ```

    ```check
    x := 1
    ```

    ```figure
    plot: [x]
    caption: "降采样"
    ```

    ::: sources
    - Paper "降采样 Early Stopping", 2020.
    :::
    """
    assert messages(tmp_path, card) == []


def test_preferred_term_and_allowed_phrase_contain_their_variants(tmp_path: Path) -> None:
    card = "## Q {#a}\n\n超参数要调；早停（early stopping）按验证集；Early Stopping 又出现。\n"
    assert messages(tmp_path, card) == ["content/a.md:3: use “早停” instead of “Early Stopping”"]


def test_straight_quotes_are_reported_with_their_context(tmp_path: Path) -> None:
    card = "## Q {#q}\n\n第一行\n所谓\"退化\"问题，和 'same' 填充。\n"
    found = messages(tmp_path, card)
    assert len(found) == 3 and all(m.startswith("content/a.md:4: use curly quotes") for m in found)
    assert sum("“…” instead of straight \" in «" in m and '所谓"退化"问题' in m for m in found) == 2
    assert sum("‘…’ instead of straight ' in" in m for m in found) == 1


def test_curly_quotes_pass(tmp_path: Path) -> None:
    assert messages(tmp_path, "## Q {#q}\n\n所谓“退化”问题，和‘same’填充，He's right.\n") == []


def test_without_glossary_no_language_rule(tmp_path: Path) -> None:
    content = tmp_path / "content"
    content.mkdir()
    (content / "a.md").write_text('## Q {#q}\n\n所谓"降采样"。\n', encoding="utf-8")
    assert len(read_collection(content).cards) == 1


@pytest.mark.parametrize(
    ("glossary", "expected"),
    [
        ("[[term]]\nuse = \"下采样\"\nnot = [\"降采样\"\n",
         "content/_glossary.toml:3: glossary is not valid TOML"),
        ("curly_quotes = true\ncolour = 1\n", "content/_glossary.toml:2: unknown glossary key 'colour'"),
        ("curly_quotes = \"yes\"\n", "content/_glossary.toml:1: curly_quotes must be true or false"),
        ("[[term]]\nuse = \"a\"\nnot = [\"b\"]\n\n[[term]]\nnot = [\"c\"]\n",
         "content/_glossary.toml:5: [[term]] needs `use"),
        ("[[term]]\nuse = \"超参数\"\nnot = [\"超参数\"]\n",
         "content/_glossary.toml:3: «超参数» is listed as its own variant"),
        ("[[term]]\nuse = \"下采样\"\nnot = []\n", "content/_glossary.toml:1: term «下采样» needs `not"),
        ("[[term]]\nuse = \"下采样\"\nnot = [\"降采样\"]\nsee = 1\n",
         "content/_glossary.toml:4: unknown key 'see' in [[term]]"),
        ("[[term]]\nuse = \"下采样\"\nnot = \"降采样\"\n", "content/_glossary.toml:3: 'not' must be a list"),
        ("[[term]]\nuse = \"a\"\nnot = [\"b\"]\n[[term]]\nuse = \"b\"\nnot = [\"c\"]\n",
         "content/_glossary.toml:1: «b» is both a variant of «a» and a preferred term"),
        ("[[term]]\nuse = \"a\"\nnot = [\"c\"]\n[[term]]\nuse = \"b\"\nnot = [\"c\"]\n",
         "content/_glossary.toml:4: variant «c» is listed for «a» and «b»"),
    ],
)
def test_glossary_errors_name_their_line(tmp_path: Path, glossary: str, expected: str) -> None:
    found = messages(tmp_path, "## Q {#q}\n\n答案。\n", glossary)
    assert any(m.startswith(expected) for m in found), found
