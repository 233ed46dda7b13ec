"""Sample collections built directly from the model, shared by the cheat-sheet and math tests.

Built by hand (not by the reader) so these tests pin the writers, whatever the reader does.
"""

from __future__ import annotations

from dldeck.model import (
    Card,
    Cloze,
    Code,
    Collection,
    DisplayMath,
    Emph,
    FigureBlock,
    Inline,
    Link,
    ListBlock,
    Math,
    Paragraph,
    SourceSpan,
    Strong,
    Table,
    Text,
)

PATH = "content/activations.md"


def span(line: int, path: str = PATH) -> SourceSpan:
    return SourceSpan(path, line)


def para(line: int, *children: Inline) -> Paragraph:
    return Paragraph(tuple(children), span(line))


def card(slug: str, question: tuple[Inline, ...], answer: tuple, *, deck: str = "深度学习面试::激活函数",
         section: str = "Sigmoid 家族", extra: tuple = (), sources: tuple = (), tags: tuple[str, ...] = (),
         kind: str = "basic", line: int = 5, order: int = 0, path: str = PATH) -> Card:
    return Card(slug=slug, question=question, answer=answer, extra=extra, sources=sources, deck=deck,
                section=section, tags=tags, covers=(slug,), kind=kind,  # type: ignore[arg-type]
                span=span(line, path), order=order)


def sample_collection(with_figure: bool = False) -> Collection:
    """Chinese text with English terms, inline and display math, a cloze (also inside math), a table."""
    sigmoid = card(
        "sigmoid-derivative-max",
        (Text("Sigmoid 的导数最大是多少？在哪里取到？"),),
        (
            para(7, Text("在 "), Math("x=0", span(7)), Text(" 处取最大值 "), Math(r"\tfrac14", span(7)),
                 Text("，所以每经过一层 sigmoid，梯度至少缩小为四分之一。")),
            DisplayMath(r"\sigma'(x) = \sigma(x)\bigl(1-\sigma(x)\bigr)", span(9)),
            *((FigureBlock("plot: [sigma(x)]\nx: [-6, 6]\n", span(11), 0),) if with_figure else ()),
        ),
        extra=(para(20, Text("Longer explanation: "), Emph((Text("vanishing gradients"),)),
                    Text(" 梯度消失；see "), Link("https://example.org/sigmoid", (Text("notes"),)),
                    Text(".")),),
        sources=(para(24, Text("Goodfellow et al., "), Emph((Text("Deep Learning"),)), Text(", §6.3")),),
        tags=("activation",),
        order=0,
    )
    relu = card(
        "relu-dead-neurons",
        (Text("什么是 "), Strong((Text("dead ReLU"),)), Text("？"), Math(r"\max(0, x)", span(30))),
        (
            para(32, Text("当 "), Math("x<0", span(32)), Text(" 时 "), Code("relu'(x) = 0"),
                 Text("，梯度为零 & 参数不再更新 #1 [a] *b* _c_ $5."),),
            ListBlock(False, ((para(33, Text("学习率过大")),), (para(34, Text("偏置初始化为负")),)),
                      span(33)),
            Table(((Text("函数"),), (Text("导数"),)),
                  (((Text("ReLU"),), (Math(r"\mathbb{1}[x>0]", span(37)),)),), span(36)),
        ),
        deck="深度学习面试::激活函数",
        section="ReLU 家族",
        line=30,
        order=1,
    )
    softmax = card(
        "softmax-cloze",
        (Text("Softmax 的定义"),),
        (
            para(42, Text("softmax 把 logits 变成 "), Cloze(1, (Text("概率分布"),), "what?"), Text("。")),
            DisplayMath(r"\operatorname{softmax}(z)_i = \frac{ {{c2::e^{z_i} }} }{\sum_j e^{z_j}}", span(43)),
        ),
        deck="深度学习面试::输出层",
        section="",
        kind="cloze",
        line=40,
        order=2,
        path="content/output.md",
    )
    return Collection((sigmoid, relu, softmax), "content", (PATH, "content/output.md"))


def with_cards(*cards: Card) -> Collection:
    return Collection(tuple(cards), "content", tuple(sorted({c.span.path for c in cards})))


def test_sample_collection_is_well_formed() -> None:
    collection = sample_collection()
    slugs = [c.slug for c in collection.cards]
    assert slugs == ["sigmoid-derivative-max", "relu-dead-neurons", "softmax-cloze"]
    assert collection.decks() == ("深度学习面试::激活函数", "深度学习面试::输出层")
