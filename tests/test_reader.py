"""The reader: Markdown → model, with positions, and every bad input reported with its line."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import pytest

from dldeck.errors import BuildError
from dldeck.model import (
    CheckBlock,
    Cloze,
    DisplayMath,
    Emph,
    FigureBlock,
    ListBlock,
    Math,
    Paragraph,
    Strong,
    Table,
    Text,
)
from dldeck.source import read_collection

GOOD = """\
---
deck: 深度学习面试::激活函数
tags: [activation]
sources: ["Goodfellow et al. *Deep Learning*, 2016"]
---

# Sigmoid 家族

## Sigmoid 的导数最大是多少？ {#sigmoid-derivative-max covers="sigmoid relu" tags="derivative"}

在 $x_1*y_2*z$ 处取最大值 $\\tfrac14$，第二行
中文换行 and English
words.

$$\\sigma'(x) = \\sigma(x)\\bigl(1-\\sigma(x)\\bigr)$$

- item *a*
- item **b**

| a | b |
|---|---|
| $x$ | 2 |

```check
sigma(x) := 1/(1 + exp(-x))
```

```figure
plot: [sigma(x)]
```

::: extra
More *text*.
:::

::: sources
- Own source.
:::

## Cloze 卡 {#sigmoid-cloze}

导数是 $\\sigma'(x) = {{c1::\\sigma(x)(1-\\sigma(x))}}$ 和 {{c2::**文字**::提示}}。
"""


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def read_one(tmp_path: Path, text: str):
    write(tmp_path / "content", "a.md", text)
    return read_collection(tmp_path / "content")


def errors_of(tmp_path: Path, text: str) -> list[str]:
    write(tmp_path / "content", "a.md", text)
    with pytest.raises(BuildError) as caught:
        read_collection(tmp_path / "content")
    return [str(d) for d in caught.value.diagnostics]


def test_card_structure_and_positions(tmp_path: Path) -> None:
    collection = read_one(tmp_path, GOOD)
    first, cloze = collection.cards
    assert first.slug == "sigmoid-derivative-max"
    assert first.question == (Text("Sigmoid 的导数最大是多少？"),)
    assert first.deck == "深度学习面试::激活函数"
    assert first.section == "Sigmoid 家族"
    assert first.tags == ("activation", "derivative")
    assert first.covers == ("sigmoid", "relu")
    assert first.kind == "basic"
    assert first.span.line == 9 and first.span.path == "content/a.md"
    paragraph = first.answer[0]
    assert isinstance(paragraph, Paragraph) and paragraph.span.line == 11
    # math is protected from emphasis: `*` and `_` stay inside the formula
    assert Math("x_1*y_2*z", paragraph.children[1].span) == paragraph.children[1]
    text = "".join(c.text for c in paragraph.children if isinstance(c, Text))
    # a line break between CJK characters joins without a space; between words it is a space
    assert "第二行中文换行 and English words." in text
    kinds = [type(b) for b in first.answer]
    assert kinds == [Paragraph, DisplayMath, ListBlock, Table, CheckBlock, FigureBlock]
    display = first.answer[1]
    assert isinstance(display, DisplayMath) and display.span.line == 15
    lst = first.answer[2]
    assert isinstance(lst, ListBlock)
    assert isinstance(lst.items[0][0].children[1], Emph) and isinstance(lst.items[1][0].children[1], Strong)
    check = first.answer[4]
    assert isinstance(check, CheckBlock) and check.span.line == 24 and check.line_of(0) == 25
    assert check.source.strip() == "sigma(x) := 1/(1 + exp(-x))"
    figure = first.answer[5]
    assert isinstance(figure, FigureBlock) and figure.index == 0 and figure.span.line == 28
    assert first.extra[0].span.line == 33
    # the card's own sources block replaces the file default
    assert "Own source." in repr(first.sources)
    assert cloze.kind == "cloze"
    cloze_node = [c for c in cloze.answer[0].children if isinstance(c, Cloze)][0]
    assert cloze_node.number == 2 and cloze_node.hint == "提示"
    assert isinstance(cloze_node.children[0], Strong)
    assert "Goodfellow" in repr(cloze.sources)  # file default


def test_deck_from_folders_when_front_matter_has_none(tmp_path: Path) -> None:
    write(tmp_path / "content", "01-网络/02-卷积/a.md", "## Q {#q}\n\nA.\n")
    collection = read_collection(tmp_path / "content")
    assert collection.cards[0].deck == "网络::卷积"


def test_files_read_in_path_order_and_underscore_files_skipped(tmp_path: Path) -> None:
    write(tmp_path / "content", "b.md", "## B {#b}\n\nB.\n")
    write(tmp_path / "content", "a.md", "## A {#a}\n\nA.\n")
    write(tmp_path / "content", "_facts/x.md", "not a card\n")
    assert [c.slug for c in read_collection(tmp_path / "content").cards] == ["a", "b"]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("## Q\n\nA.\n", "content/a.md:1: card heading has no {#slug} id"),
        ("## Q {#Bad_Slug}\n\nA.\n", "content/a.md:1: card id 'Bad_Slug' is not a slug"),
        ("## Q {#a}\n\nA.\n\n## R {#a}\n\nB.\n",
         "content/a.md:5: duplicate card id 'a' (first used at content/a.md:1)"),
        ("## {#a}\n\nA.\n", "content/a.md:1: empty question"),
        ("## Q {#a}\n\n```check\nx := 1\n```\n", "content/a.md:1: empty answer for card 'a'"),
        ("## Q {#a}\n\nA <b>bold</b>.\n", "content/a.md:3: raw HTML is not allowed"),
        ("## Q {#a}\n\n<div>x</div>\n", "content/a.md:3: raw HTML is not allowed"),
        ("## Q {#a}\n\nCost $5 and more.\n", "content/a.md:3: unbalanced math delimiter '$'"),
        ("## Q {#a}\n\nSee $\\frac{a}{b$ here.\n", "content/a.md:3: unbalanced braces in math «\\frac{a}{b»"),
        ("## Q {#a}\n\nSee $\\left( x$ here.\n", "content/a.md:3: \\left without matching \\right"),
        ("## Q {#a}\n\nA wrapped\nline: $\\frac{a}{b$.\n", "content/a.md:4: unbalanced braces in math"),
        ("## Q {#a}\n\nA $x +\ny$ b.\n", "content/a.md:3: newline inside inline math"),
        ("## Q {#a}\n\nA $x = {{c1::\\frac{a}{b}}}$.\n", "content/a.md:3: '}}' inside a cloze in math"),
        ("## Q {#a}\n\n![plot](missing.png)\n", "content/a.md:3: image file not found: «missing.png»"),
        ("## Q {#a}\n\n### Sub\n\nA.\n", "content/a.md:3: h3 heading «Sub» inside a card"),
        ("Intro text.\n\n## Q {#a}\n\nA.\n", "content/a.md:1: text outside a card"),
        ("---\ndeck: [x\n---\n## Q {#a}\n\nA.\n", "content/a.md:2: front matter is not valid YAML"),
        ("---\ndekc: x\n---\n## Q {#a}\n\nA.\n", "content/a.md:2: unknown front matter key 'dekc'"),
        ("---\ntags: 3\n---\n## Q {#a}\n\nA.\n", "content/a.md:2: front matter 'tags' must be a list"),
        ("## Q {#a colour=red}\n\nA.\n", "content/a.md:1: unknown heading attribute 'colour'"),
        ("::: extra\nx\n:::\n\n## Q {#a}\n\nA.\n", "content/a.md:1: '::: extra' outside a card"),
    ],
)
def test_bad_input_is_reported_with_line(tmp_path: Path, source: str, expected: str) -> None:
    messages = errors_of(tmp_path, source)
    assert any(m.startswith(expected) for m in messages), messages


def test_all_errors_of_a_run_are_reported_together(tmp_path: Path) -> None:
    write(tmp_path / "content", "a.md", "## Q\n\nA.\n")
    write(tmp_path / "content", "b.md", "## Q {#b}\n\nA <i>x</i>.\n\n## R {#b}\n\nB.\n")
    with pytest.raises(BuildError) as caught:
        read_collection(tmp_path / "content")
    lines = [str(d) for d in caught.value.diagnostics]
    assert len(lines) == 4  # `<i>` and `</i>` are each refused
    assert lines[0].startswith("content/a.md:1:") and lines[1].startswith("content/b.md:3: raw HTML")
    assert lines[2].startswith("content/b.md:3: raw HTML")
    assert lines[3].startswith("content/b.md:5: duplicate card id 'b'")


def test_cloze_in_math_with_spaced_braces_is_accepted(tmp_path: Path) -> None:
    collection = read_one(tmp_path, "## Q {#a}\n\nA $x = {{c1::\\frac{a}{b} }}$.\n")
    assert collection.cards[0].kind == "cloze"


def test_image_resolves_next_to_markdown(tmp_path: Path) -> None:
    (tmp_path / "content").mkdir()
    from PIL import Image as Picture

    Picture.new("RGB", (2, 2)).save(tmp_path / "content" / "pic.png")
    collection = read_one(tmp_path, "## Q {#a}\n\n![a plot](pic.png)\n")
    image = collection.cards[0].answer[0].children[0]
    assert Path(image.src) == (tmp_path / "content" / "pic.png").resolve()
    assert image.alt == "a plot"


def test_figure_indices_count_within_each_card(tmp_path: Path) -> None:
    fig = "```figure\nplot: [x]\n```\n"
    collection = read_one(tmp_path, f"## A {{#a}}\n\nA.\n\n{fig}\n{fig}\n## B {{#b}}\n\nB.\n\n{fig}")
    a, b = collection.cards
    assert [f.index for f in a.figures] == [0, 1]
    assert [f.index for f in b.figures] == [0]


def test_forked_readers_give_what_reading_here_gives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A large read goes to one forked reader per core; the collection and every problem (with its
    file and line) are the same as reading each file here, in the same order."""
    import dldeck.source as source

    content = tmp_path / "content"
    content.mkdir()
    for n in range(6):
        (content / f"{n}.md").write_text(re.sub(r"\{#([a-z0-9-]+)", rf"{{#\1-{n}", GOOD), encoding="utf-8")
    broken = "---\ndeck: x\n---\n\n# s\n\n## 问？ {#broken}\n\n$x\n\n## 问？ {#broken}\n\n答。\n"
    (content / "3.md").write_text(broken, encoding="utf-8")
    monkeypatch.setattr(source, "PARALLEL_BYTES", 10**9)
    with pytest.raises(BuildError) as here:
        read_collection(content)
    monkeypatch.setattr(source, "PARALLEL_BYTES", 1)
    monkeypatch.setattr(source, "_read_one", _counting(source._read_one, tmp_path / "pids"))
    with pytest.raises(BuildError) as forked:
        read_collection(content)
    assert forked.value.diagnostics == here.value.diagnostics
    assert set((tmp_path / "pids").read_text().split()) - {str(os.getpid())}  # read elsewhere
    (content / "3.md").unlink()
    monkeypatch.setattr(source, "PARALLEL_BYTES", 10**9)
    serial = read_collection(content)
    monkeypatch.setattr(source, "PARALLEL_BYTES", 1)
    assert read_collection(content) == serial
    assert [card.order for card in serial.cards] == list(range(len(serial.cards)))


def _counting(read_one, log: Path):
    """`read_one` that notes the id of the process it ran in."""

    def wrapped(*args, **kwargs):
        with log.open("a") as handle:
            handle.write(f"{os.getpid()}\n")
        return read_one(*args, **kwargs)

    return wrapped
