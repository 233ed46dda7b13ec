"""markup: content is text, never markup; clozes and math survive Anki's own syntax."""

from __future__ import annotations

from dldeck.emit.markup import anki_math, plain_text, render_blocks, render_inlines
from dldeck.model import (
    CheckBlock,
    Cloze,
    Code,
    CodeBlock,
    DisplayMath,
    Emph,
    FigureBlock,
    Image,
    LineBreak,
    Link,
    ListBlock,
    Math,
    Paragraph,
    Quote,
    SourceSpan,
    Strong,
    Table,
    Text,
)

SPAN = SourceSpan("content/a.md", 3)


def no_figure(block: FigureBlock) -> str:
    raise AssertionError("no figure expected")


def test_text_is_escaped_never_passed_through() -> None:
    html = render_inlines([Text('<script>alert("x")</script> & <b>')], anki_math)
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;" in html and "&amp;" in html


def test_text_cannot_open_a_cloze() -> None:
    html = render_inlines([Text("literal {{c1::not a deletion}}")], anki_math)
    assert "{{" not in html and "}}" not in html


def test_inline_formatting() -> None:
    html = render_inlines(
        [Strong((Text("a"),)), Emph((Text("b"),)), Code("x<y"), LineBreak(), Math("a<b", SPAN)], anki_math
    )
    assert html == "<strong>a</strong><em>b</em><code>x&lt;y</code><br>\\(a&lt;b\\)"


def test_anki_math_delimiters_and_escaping() -> None:
    assert anki_math("a<b & c>d", False) == "\\(a&lt;b &amp; c&gt;d\\)"
    assert anki_math("x^2", True) == "\\[x^2\\]"


def test_links_only_for_safe_schemes() -> None:
    safe = render_inlines([Link("https://pytorch.org/docs?a=1&b=2", (Text("docs"),))], anki_math)
    assert safe == '<a href="https://pytorch.org/docs?a=1&amp;b=2">docs</a>'
    assert render_inlines([Link("mailto:a@b.c", (Text("m"),))], anki_math).startswith('<a href="mailto:')
    for url in ("javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,x", "file:///etc/passwd"):
        assert render_inlines([Link(url, (Text("click"),))], anki_math) == "click"


def test_link_attribute_cannot_break_out() -> None:
    html = render_inlines([Link('https://x.org/"onmouseover="alert(1)', (Text("x"),))], anki_math)
    assert '"onmouseover' not in html


def test_cloze_syntax_and_hint() -> None:
    html = render_inlines([Text("导数为 "), Cloze(2, (Math("1", SPAN),), "数字")], anki_math)
    assert html == "导数为 {{c2::\\(1\\)::数字}}"


def test_cloze_body_cannot_end_early_or_start_a_hint() -> None:
    node = Cloze(1, (Text("a::b }} c}"), Math(r"\frac{1}{x^{2}}", SPAN)), "h::i}")
    html = render_inlines([node], anki_math)
    assert html.startswith("{{c1::") and html.endswith("}}")
    inner = html[len("{{c1::") : -2]
    # Exactly one hint separator and no closing braces pair before the real end.
    assert inner.count("::") == 1
    assert "}}" not in inner
    assert "\\frac{1}{x^{2} }" in inner


def test_image_source_callback() -> None:
    image = Image("/abs/content/pic.png", 'a "quoted" alt', SPAN)
    html = render_inlines([image], anki_math, lambda img: "img-abc.png")
    assert html == '<img src="img-abc.png" alt="a &quot;quoted&quot; alt">'


def test_blocks_checks_vanish_figures_delegate() -> None:
    figure = FigureBlock("plot: [x]", SPAN, 0)
    blocks = [
        Paragraph((Text("p"),), SPAN),
        CheckBlock("1 == 1", SPAN),
        figure,
        DisplayMath(r"\sum_i x_i < 1", SPAN),
    ]
    seen: list[FigureBlock] = []

    def render_figure(block: FigureBlock) -> str:
        seen.append(block)
        return "<figure>F</figure>"

    html = render_blocks(blocks, anki_math, render_figure)
    assert seen == [figure]
    assert "1 == 1" not in html
    assert html == ('<p>p</p>\n<figure>F</figure>\n<div class="math-display">\\[\\sum_i x_i &lt; 1\\]</div>')


def test_lists_tables_quotes_code() -> None:
    items = (
        (Paragraph((Text("one"),), SPAN),),
        (Paragraph((Text("two"),), SPAN), Paragraph((Text("more"),), SPAN)),
    )
    ordered = render_blocks([ListBlock(True, items, SPAN, start=3)], anki_math, no_figure)
    assert ordered == '<ol start="3"><li>one</li><li><p>two</p>\n<p>more</p></li></ol>'
    assert render_blocks([ListBlock(False, items[:1], SPAN)], anki_math, no_figure) == "<ul><li>one</li></ul>"

    table = Table(((Text("层"),), (Text("参数"),)), (((Text("Conv"),), (Math("C_{in}K^2", SPAN),)),), SPAN)
    assert render_blocks([table], anki_math, no_figure) == (
        "<table><thead><tr><th>层</th><th>参数</th></tr></thead>"
        "<tbody><tr><td>Conv</td><td>\\(C_{in}K^2\\)</td></tr></tbody></table>"
    )
    quote = render_blocks([Quote((Paragraph((Text("q"),), SPAN),), SPAN)], anki_math, no_figure)
    assert quote == "<blockquote><p>q</p></blockquote>"

    code = render_blocks([CodeBlock('py"><script>', "if a < b:\n    pass", SPAN)], anki_math, no_figure)
    assert code == "<pre><code>if a &lt; b:\n    pass</code></pre>"
    assert 'class="language-python"' in render_blocks([CodeBlock("python", "x", SPAN)], anki_math, no_figure)


def test_math_renderer_is_pluggable() -> None:
    html = render_inlines([Math("x", SPAN)], lambda tex, display: f"<m d={display}>{tex}</m>")
    assert html == "<m d=False>x</m>"


def test_plain_text() -> None:
    inlines = [Text("a "), Strong((Math("x", SPAN),)), Cloze(1, (Text("c"),)), Code("k")]
    assert plain_text(inlines) == "a xck"
