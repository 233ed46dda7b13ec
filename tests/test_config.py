"""Configuration: defaults, both sources and their precedence, sheet selection, named errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from dldeck.config import SheetConfig, deck_titles, group_sections, load_config
from dldeck.errors import BuildError
from test_cheatsheet_samples import sample_collection


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_configuration(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    assert [s.name for s in config.sheets] == ["cheatsheet"]
    sheet = config.sheets[0]
    layout = (sheet.paper, sheet.orientation, sheet.columns, sheet.include_extra)
    assert layout == ("a4", "landscape", 3, True)
    assert config.content_dir == "content" and config.build_dir == "build"


def test_pyproject_tool_table(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", """
[project]
name = "x"

[tool.dldeck]
title = "速查"

[[tool.dldeck.sheets]]
name = "activations"
decks = ["深度学习面试::激活函数"]
columns = 2
paper = "letter"
orientation = "portrait"
include_extra = false
""")
    config = load_config(tmp_path)
    assert config.title == "速查"
    expected = SheetConfig("activations", ("深度学习面试::激活函数",), (), "letter", "portrait", 2, False)
    assert config.sheets == (expected,)


def test_dldeck_toml_wins_over_pyproject(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.dldeck]\ntitle = "from pyproject"\nbuild_dir = "out"\n')
    write(tmp_path / "dldeck.toml", 'title = "from dldeck.toml"\n[[sheets]]\nname = "all"\n')
    config = load_config(tmp_path)
    assert config.title == "from dldeck.toml"
    assert config.build_dir == "out"  # keys the standalone file does not set still come from pyproject
    assert [s.name for s in config.sheets] == ["all"]


@pytest.mark.parametrize(
    ("sheet_line", "expected"),
    [
        ("columns = 5", "sheets[1].columns: must be an integer from 2 to 4, got 5"),
        ('paper = "a3"', "sheets[1].paper: must be \"a4\" or \"letter\", got 'a3'"),
        ('orientation = "sideways"', "sheets[1].orientation:"),
        ('include_extra = "yes"', "sheets[1].include_extra: must be true or false"),
        ("colums = 3", "sheets[1].colums: unknown key"),
        ('decks = "a"', "sheets[1].decks: must be a list"),
    ],
)
def test_invalid_sheet_names_file_line_and_key(tmp_path: Path, sheet_line: str, expected: str) -> None:
    path = write(tmp_path / "dldeck.toml",
                 f'title = "t"\n\n[[sheets]]\nname = "a"\n\n[[sheets]]\nname = "b"\n{sheet_line}\n')
    with pytest.raises(BuildError) as info:
        load_config(tmp_path)
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.path == str(path)
    assert diagnostic.line == 8  # the offending line inside the second [[sheets]] table
    assert expected in diagnostic.message


def test_invalid_pyproject_key_names_tool_table(tmp_path: Path) -> None:
    path = write(tmp_path / "pyproject.toml", '[project]\nname = "x"\n\n[tool.dldeck]\ntitel = "t"\n')
    with pytest.raises(BuildError) as info:
        load_config(tmp_path)
    known = "build_dir, content_dir, sheets, strict, title"
    assert str(info.value) == f"{path}:5: tool.dldeck.titel: unknown key (known: {known})"


def test_broken_toml_is_a_diagnostic_with_line(tmp_path: Path) -> None:
    write(tmp_path / "dldeck.toml", 'title = "ok"\ncolumns = = 3\n')
    with pytest.raises(BuildError) as info:
        load_config(tmp_path)
    assert info.value.diagnostics[0].line == 2


def test_duplicate_sheet_names_are_refused(tmp_path: Path) -> None:
    write(tmp_path / "dldeck.toml", '[[sheets]]\nname = "a"\n[[sheets]]\nname = "a"\n')
    with pytest.raises(BuildError, match="duplicate sheet name 'a'"):
        load_config(tmp_path)


def test_sheet_selection_by_deck_prefix_or_tag() -> None:
    collection = sample_collection()
    slugs = lambda sheet: [c.slug for c in sheet.select(collection)]  # noqa: E731
    assert len(slugs(SheetConfig())) == 3
    assert slugs(SheetConfig(decks=("深度学习面试::输出层",))) == ["softmax-cloze"]
    assert len(slugs(SheetConfig(decks=("深度学习面试",)))) == 3  # prefix: subdecks included
    assert slugs(SheetConfig(decks=("深度学习",))) == []  # a prefix is whole deck components
    assert slugs(SheetConfig(tags=("activation",))) == ["sigmoid-derivative-max"]
    assert slugs(SheetConfig(decks=("深度学习面试::输出层",), tags=("activation",))) == [
        "sigmoid-derivative-max", "softmax-cloze"]


def test_sections_group_by_deck_then_section_in_reading_order() -> None:
    sections = group_sections(sample_collection().cards)
    assert [(s.deck, s.section, [c.slug for c in s.cards]) for s in sections] == [
        ("深度学习面试::激活函数", "Sigmoid 家族", ["sigmoid-derivative-max"]),
        ("深度学习面试::激活函数", "ReLU 家族", ["relu-dead-neurons"]),
        ("深度学习面试::输出层", "", ["softmax-cloze"]),
    ]
    assert deck_titles(["A::B", "A::C::D"]) == {"A::B": "B", "A::C::D": "C › D"}
    assert deck_titles(["A::B"]) == {"A::B": "B"}
    assert deck_titles(["A", "B"]) == {"A": "A", "B": "B"}


def test_strict_is_a_boolean_key(tmp_path: Path) -> None:
    (tmp_path / "dldeck.toml").write_text("strict = true\n", encoding="utf-8")
    assert load_config(tmp_path).strict is True
    (tmp_path / "dldeck.toml").write_text('strict = "yes"\n', encoding="utf-8")
    with pytest.raises(BuildError, match="strict: must be true or false"):
        load_config(tmp_path)
