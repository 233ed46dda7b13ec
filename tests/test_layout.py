"""Cards on a 360 px phone: formula widths, the layout lint, no-wrap punctuation, figure text sizes.

The width samples were measured with Anki 26.9.3's own MathJax 3 in Chromium at 17 px text (the
card text size under 480 px); a formula wider than 325 px scrolled sideways in a 360 px window.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib.text
import numpy as np
import pytest
from PIL import Image

from dldeck.emit.markup import anki_math, caption_inlines, render_inlines
from dldeck.figures import raster, style
from dldeck.figures.examples import EXAMPLES
from dldeck.figures.kinds import KINDS
from dldeck.model import Cloze, Math, SourceSpan, Text
from dldeck.source.lint import PHONE_LIMIT_EM, lint
from dldeck.source.reader import read_files
from dldeck.source.texwidth import width_em
from test_figures_kinds import data_of

SPAN = SourceSpan("content/x.md", 3)

# (tex, display?, width in CSS px measured in Anki's MathJax at 17 px)
MEASURED = [
    (r"\mathrm{ELU}(x)=\begin{cases}x,\ &x>0\\\alpha(e^x-1),\ &x\le0\end{cases},\qquad "
     r"\mathrm{ELU}'(x)=\begin{cases}1,\ &x>0\\\alpha e^x=\mathrm{ELU}(x)+\alpha,\ &x\le0\end{cases}",
     True, 714),
    (r"x_{k+1}=x_k-H^{-1}\nabla f(x_k)\qquad\text{（一维：}x_{k+1}=x_k-f'(x_k)/f''(x_k)\text{）}",
     True, 590),
    (r"\min_G\max_D V(D,G)=\mathbb E_{x\sim p_{\text{data}}}[\log D(x)]"
     r"+\mathbb E_{z\sim p_z}[\log(1-D(G(z)))]", True, 575),
    (r"m_t=\beta_1m_{t-1}+(1-\beta_1)g_t,\qquad v_t=\beta_2v_{t-1}+(1-\beta_2)g_t^2", True, 505),
    (r"\mathrm{Mish}(x)=x\tanh\bigl(\mathrm{softplus}(x)\bigr)=x\tanh\bigl(\ln(1+e^x)\bigr)", True, 471),
    (r"o = s(i-1) - 2p + d(k-1) + \text{output\_padding} + 1", True, 470),
    (r"s_i=\frac{e^{x_i}}{\sum_j e^{x_j}},\qquad \frac{\partial s_i}{\partial x_j}=s_i\,(\delta_{ij}-s_j)",
     True, 334),
    (r"\mathrm{PReLU}(x)=\max(0,x)+a\min(0,x)", True, 333),
    (r"r_l = r_{l-1} + (k_l - 1)\, d_l \prod_{m<l} s_m", True, 253),
    (r"D^*(x)=\frac{p_{\text{data}}(x)}{p_{\text{data}}(x)+p_g(x)}", True, 234),
    (r"\frac{C K^2 + C N}{N C K^2} = \frac1N + \frac1{K^2}", True, 233),
    (r"\frac{\partial L}{\partial x}=\frac{\partial L}{\partial h_L}\prod_{l=1}^{L}w_l\,f'(z_l)", True, 216),
    (r"\mathrm{Dice} = \frac{2\,\mathrm{IoU}}{1 + \mathrm{IoU}}", True, 147),
    (r"\theta_{t+1}=\theta_t-\eta\,g_t", True, 137),
    (r"1 + 2(1 + 2 + \dots + 2^i) = 1 + 2(2^{i+1}-1) = 2^{i+2}-1", False, 464),
    (r"W_2(W_1x+b_1)+b_2=(W_2W_1)x+(W_2b_1+b_2)", False, 419),
    (r"\mathrm{Var}(q_ik_i)=\mathbb E[q_i^2]\mathbb E[k_i^2]-(\mathbb E q_i\,\mathbb E k_i)^2=1", False, 357),
]
COLUMN_PX = 325


@pytest.mark.parametrize(("tex", "display", "measured"), MEASURED)
def test_width_estimate_follows_mathjax(tex: str, display: bool, measured: int) -> None:
    estimate = width_em(tex, display)
    assert 18.0 <= measured / estimate <= 25.0  # px per em: 21 typical, the lint's limit allows 25
    if measured > COLUMN_PX:
        assert estimate > PHONE_LIMIT_EM, "a formula that scrolled on the phone must be reported"
    if measured < 260:
        assert estimate <= PHONE_LIMIT_EM, "a formula that fits comfortably must pass"


def _card_file(tmp_path: Path, body: str) -> list:
    content = tmp_path / "content"
    content.mkdir()
    (content / "a.md").write_text("---\ndeck: D\n---\n\n" + body, encoding="utf-8")
    diagnostics: list = []
    cards, _ = read_files(content, diagnostics)
    assert not diagnostics
    return cards


def _messages(tmp_path: Path, body: str) -> list[str]:
    return [f"{d.line}: {d.message}" for d in lint(_card_file(tmp_path, body))]


def test_joined_display_is_reported_at_its_line(tmp_path: Path) -> None:
    found = _messages(tmp_path, "## Q {#q}\n\n文字\n\n$$a=1,\\qquad b=2$$\n")
    assert len(found) == 1
    assert found[0].startswith("9: display formula joins separate formulas with \\quad/\\qquad")


def test_quad_inside_cases_is_not_a_join(tmp_path: Path) -> None:
    body = "## Q {#q}\n\n$$f(x)=\\begin{cases}1,\\quad &x>0\\\\0,\\quad &x\\le0\\end{cases}$$\n"
    assert _messages(tmp_path, body) == []


def test_wide_display_and_inline_are_reported(tmp_path: Path) -> None:
    body = ("## Q {#q}\n\n"
            "$$\\mathrm{Mish}(x)=x\\tanh\\bigl(\\mathrm{softplus}(x)\\bigr)=x\\tanh\\bigl(\\ln(1+e^x)\\bigr)$$\n\n"
            "见 $W_2(W_1x+b_1)+b_2=(W_2W_1)x+(W_2b_1+b_2)$。\n")
    found = _messages(tmp_path, body)
    assert any(m.startswith("7: display formula too wide for a phone") for m in found), found
    assert any(m.startswith("9: inline formula too wide for a phone") for m in found), found


def test_aligned_rows_fit_where_the_chain_did_not(tmp_path: Path) -> None:
    body = ("## Q {#q}\n\n$$\\begin{aligned}\\mathrm{Mish}(x)&=x\\tanh\\bigl(\\mathrm{softplus}(x)\\bigr)\\\\"
            "&=x\\tanh\\bigl(\\ln(1+e^x)\\bigr)\\end{aligned}$$\n")
    assert _messages(tmp_path, body) == []


def test_pseudo_tex_in_text_and_captions(tmp_path: Path) -> None:
    body = ("## 为什么除以 √d_k？ {#q}\n\n一个 p_t=0.9 的样本；参数 output_padding 与 `x_1` 不算。\n\n"
            "```figure\nplot: [x]\nx: [0, 1]\ncaption: 当 d_k 很大，$d_k$ 正常\n```\n")
    found = _messages(tmp_path, body)
    assert any(m.startswith("5: TeX written as plain text «√»") for m in found), found
    assert any(m.startswith("5: TeX written as plain text «d_k»") for m in found), found
    assert any(m.startswith("7: TeX written as plain text «p_t»") for m in found), found
    assert any(m.startswith("12: TeX written as plain text «d_k»") for m in found), found
    assert len(found) == 4, found  # not output_padding, not code, not the $d_k$ in the caption


def test_escape_inside_text_is_reported(tmp_path: Path) -> None:
    body = "## Q {#q}\n\n$$o=\\text{output\\_padding}+1$$\n\n$$o=\\text{output}\\_\\text{padding}$$\n"
    found = _messages(tmp_path, body)
    assert len(found) == 1 and found[0].startswith("7: escape inside \\text"), found


def test_the_deck_passes_the_layout_rules() -> None:
    diagnostics: list = []
    cards, _ = read_files(Path(__file__).resolve().parent.parent / "content", diagnostics)
    layout = [d for d in lint(cards) if any(word in d.message for word in ("phone", "plain text", "\\text"))]
    assert layout == []


# ------------------------------------------------------------------ formula + punctuation stay together


def test_formula_and_following_punctuation_share_a_no_wrap_span() -> None:
    out = render_inlines((Text("设 "), Math("x", SPAN), Text("，则"), Math("y", SPAN), Text("。")), anki_math)
    assert out == '设 <span class="nobr">\\(x\\)，</span>则<span class="nobr">\\(y\\)。</span>'


def test_no_span_without_punctuation_and_inside_clozes() -> None:
    assert "nobr" not in render_inlines((Math("x", SPAN), Text(" 与")), anki_math)
    out = render_inlines((Cloze(1, (Math("a", SPAN), Text("：b"))),), anki_math)
    assert out == '{{c1::<span class="nobr">\\(a\\)：</span>b}}'


def test_caption_math_becomes_inlines() -> None:
    assert caption_inlines("γ 越大，$p_t$ 越大", SPAN) == (Text("γ 越大，"), Math("p_t", SPAN), Text(" 越大"))
    assert caption_inlines("价格 5", SPAN) == (Text("价格 5"),)


# ------------------------------------------------------------------ figures at phone size


EXAMPLE_FIGURES = [
    pytest.param(kind, source, checks, id=f"{kind}-{number}")
    for kind, examples in EXAMPLES.items()
    for number, (_, source, checks) in enumerate(examples)
]


@pytest.mark.parametrize(("kind_name", "source", "checks"), EXAMPLE_FIGURES)
def test_figure_text_is_readable_on_a_phone(kind_name: str, source: str, checks: str) -> None:
    data = data_of(source, checks)
    kind = KINDS[kind_name]
    with style.figure(kind.size(data)) as fig:
        kind.draw(data, fig)
        svg = style.to_svg(fig)
        width_pt = fig.get_size_inches()[0] * 72
        sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_text().strip()]
    (png,) = raster.rasterize([svg], style.PNG_DPI)  # the PNG the deck ships
    assert width_pt == style.WIDTH_IN * 72
    assert min(sizes) >= style.MIN_FONT_PT
    assert min(sizes) * style.PHONE_WIDTH_PX / width_pt >= 11.0  # CSS px in a 360 px Anki window
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    assert pixels.shape[1] == round(style.WIDTH_IN * style.PNG_DPI) == 900
    edges = (pixels[:3], pixels[-3:], pixels[:, :3], pixels[:, -3:])
    ring = np.concatenate([edge.ravel() for edge in edges])
    assert ring.min() > 140, "something is drawn into the figure's edge: text cut off"


def test_transposed_conv_figure_uses_the_cards_names() -> None:
    from dldeck.figures.kinds import transposed_conv

    data = transposed_conv.compute({"input": 3, "kernel": 3, "stride": 2, "padding": 1, "output_padding": 1})
    with style.figure(transposed_conv.size(data)) as fig:
        transposed_conv.draw(data, fig)
        texts = " ".join(t.get_text() for t in fig.findobj(matplotlib.text.Text))
    assert "output_padding=1" in texts and "i=3" in texts and r"\mathrm{output\_padding}" in texts
    assert "(n" not in texts and "op " not in texts and "+ op" not in texts
