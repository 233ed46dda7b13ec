"""The one formula allow-list every engine and writer relies on.

Formula text reaches Anki's note fields verbatim, and Anki's bundled MathJax autoloads extensions
that turn TeX into links (`\\href{javascript:…}`), CSS (`\\style`, `\\class`, `\\cssId`), raw HTML
(`\\html…`, `\\mmlToken`), external loads (`\\require`, `\\unicode`) and macro definitions that
can rebuild any of these out of harmless-looking pieces (`\\def`, `\\csname`, `\\expandafter`).
KaTeX and Typst compiling a formula proves nothing about what MathJax does with it, so every
formula is tokenized here, before any engine or writer sees it: only known math commands and
environments pass, and size limits keep the (native, uninterruptible) engines fast.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

MAX_FORMULA_CHARS = 2_000  # the longest real formula is under 200; tex2typst is quadratic in length
MAX_GROUP_DEPTH = 10  # real formulas nest braces 3 deep; tex2typst is exponential in \frac/\sqrt depth

# Math commands the content uses, plus common math. Anything else is refused by name.
ALLOWED_COMMANDS = frozenset(
    """
    alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi
    pi varpi rho varrho sigma varsigma tau upsilon phi varphi chi psi omega
    Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega
    frac dfrac tfrac cfrac binom dbinom tbinom sqrt
    sum prod coprod int iint iiint oint bigcup bigcap bigoplus bigotimes bigvee bigwedge limits nolimits
    sin cos tan cot sec csc arcsin arccos arctan sinh cosh tanh coth log ln lg exp max min sup inf
    lim liminf limsup arg argmax argmin det dim ker deg gcd Pr hom mod bmod pmod
    operatorname mathop mathrm mathbf mathit mathcal mathbb mathsf mathtt mathfrak mathscr
    boldsymbol bm text textrm textbf textit textsf texttt mbox
    hat widehat bar overline underline tilde widetilde vec dot ddot check breve acute grave
    overbrace underbrace overset underset stackrel overrightarrow overleftarrow xrightarrow
    xleftarrow substack
    left right middle big Big bigg Bigg bigl bigr Bigl Bigr biggl biggr Biggl Biggr bigm Bigm
    langle rangle lceil rceil lfloor rfloor lVert rVert lvert rvert vert Vert backslash
    dots ldots cdots vdots ddots cdot
    quad qquad enspace thinspace medspace thickspace negthinspace
    infty partial nabla forall exists nexists neg lnot emptyset varnothing
    in notin ni subset subseteq supset supseteq subsetneq supsetneq cup cap setminus
    times div pm mp circ odot oplus otimes ominus star ast bullet wedge vee land lor
    le leq ge geq ne neq approx sim simeq cong equiv propto ll gg lesssim gtrsim leqslant geqslant
    prec preceq succ succeq mid nmid parallel perp top bot models vdash
    to gets rightarrow leftarrow Rightarrow Leftarrow leftrightarrow Leftrightarrow iff implies
    impliedby mapsto longrightarrow longleftarrow Longrightarrow Longleftarrow longmapsto
    uparrow downarrow Uparrow Downarrow nearrow searrow rightleftharpoons
    hbar ell Re Im aleph imath jmath wp prime angle triangle square Box diamond dagger ddagger
    checkmark degree
    displaystyle textstyle scriptstyle scriptscriptstyle not
    begin end
    """.split()
)
# `\,` and friends: spacing, escaped specials, the row separator.
ALLOWED_SYMBOLS = frozenset(",;:!> \\{}|_%&#$")
ALLOWED_ENVIRONMENTS = frozenset(
    """
    cases dcases rcases aligned alignedat gathered split array
    matrix pmatrix bmatrix Bmatrix vmatrix Vmatrix smallmatrix
    """.split()
)

# Why the dangerous commands are refused: named in the message, so an author sees it is deliberate.
_LINK = "creates a link (a `javascript:` URL would run in the Anki reviewer)"
_STYLE = "sets HTML classes, styles, ids or attributes in the Anki reviewer"
_LOAD = "loads an extension, a file or raw markup"
_MACRO = "defines or expands macros, which can rebuild any refused command"
REFUSED_COMMANDS = {
    **dict.fromkeys(("href", "url", "eqref", "ref", "label"), _LINK),
    **dict.fromkeys(("style", "class", "cssId", "html", "htmlClass", "htmlStyle", "htmlId", "htmlData",
                     "data", "bbox", "color", "textcolor", "colorbox", "fcolorbox"), _STYLE),
    **dict.fromkeys(("require", "input", "include", "includegraphics", "usepackage", "unicode",
                     "mmlToken", "verb", "char"), _LOAD),
    **dict.fromkeys(("def", "gdef", "edef", "xdef", "let", "futurelet", "newcommand", "renewcommand",
                     "providecommand", "newenvironment", "renewenvironment", "DeclareMathOperator",
                     "csname", "endcsname", "expandafter", "noexpand", "catcode", "Newextarrow"), _MACRO),
}

_TOKEN = re.compile(r"\\([A-Za-z]+|[^A-Za-z])?|[{}]")
_ENVIRONMENT_NAME = re.compile(r"\s*\{([^{}]*)\}")
# `$…$` inside plain text (figure captions and labels): the same TeX reaches MathJax there.
TEXT_MATH = re.compile(r"\$([^$\n]+)\$")


class FormulaRefused(ValueError):
    """A formula outside the allow-list; the message names the command and why."""


def check_formula(tex: str) -> None:
    """Raise FormulaRefused for a too long or deep formula, or a command or environment not allowed."""
    if len(tex) > MAX_FORMULA_CHARS:
        raise FormulaRefused(
            f"{len(tex):,} characters long (at most {MAX_FORMULA_CHARS:,}); split it")
    depth = 0
    for match in _TOKEN.finditer(tex):
        token = match[0]
        if token == "{":
            depth += 1
            if depth > MAX_GROUP_DEPTH:
                raise FormulaRefused(f"braces nested deeper than {MAX_GROUP_DEPTH}")
        elif token == "}":
            depth = max(0, depth - 1)
        elif match[1] is None:
            raise FormulaRefused("a lone backslash ends the formula")
        elif match[1] in REFUSED_COMMANDS:
            raise FormulaRefused(f"\\{match[1]} {REFUSED_COMMANDS[match[1]]}")
        elif len(match[1]) == 1 and not match[1].isalpha():
            if match[1] not in ALLOWED_SYMBOLS:
                raise FormulaRefused(f"unknown TeX command \\{match[1]} (not on the formula allow-list)")
        elif match[1] not in ALLOWED_COMMANDS:
            raise FormulaRefused(f"unknown TeX command \\{match[1]} (not on the formula allow-list)")
        elif match[1] in ("begin", "end"):
            _check_environment(tex, match)


def _check_environment(tex: str, match: re.Match[str]) -> None:
    name = _ENVIRONMENT_NAME.match(tex, match.end())
    if name is None:
        raise FormulaRefused(f"\\{match[1]} must be followed by an environment name in braces")
    if name[1].strip() not in ALLOWED_ENVIRONMENTS:
        raise FormulaRefused(f"unknown environment {{{name[1]}}} (not on the formula allow-list)")


def text_formulas(text: str) -> Iterator[str]:
    """The `$…$` formulas of a plain-text string such as a figure caption."""
    for match in TEXT_MATH.finditer(text):
        yield match[1]


def check_text_formulas(text: str) -> None:
    """check_formula for every `$…$` of a caption or label."""
    for tex in text_formulas(text):
        check_formula(tex)
