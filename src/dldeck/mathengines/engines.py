"""The two math engines every formula must satisfy: KaTeX (HTML, and a stand-in for Anki's MathJax)
and Typst (the PDF), reached through tex2typst.

A formula that only one engine understands would render on the phone but break the printout (or
the other way round), so the build checks both and the writers use exactly these functions.
"""

from __future__ import annotations

import functools
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pykatex
import tex2typst as _tex2typst
import typst

from dldeck.fonts import find_cjk_font

KATEX_VERSION = "pykatex-0.1.1/katex-0.16.22"

# Successful conversions, so a formula is converted once per process (the cheat sheet and the formula
# check share them); `dldeck.pipeline` fills them from, and saves them to, the build cache.
MATHML_MEMO: dict[tuple[str, bool], str] = {}
TYPST_MEMO: dict[str, str] = {}


class MathEngineError(ValueError):
    """A formula one engine refuses; `engine` names which, the message is the engine's own."""

    def __init__(self, engine: str, message: str) -> None:
        self.engine = engine
        self.engine_message = message
        super().__init__(f"{engine}: {message}")


# --------------------------------------------------------------------------- cloze markers

_CLOZE_OPEN = re.compile(r"\{\{c\d+::")


def strip_cloze_markers(tex: str) -> str:
    """`{{c1::a::hint}}` inside math → `a`: the engines see the revealed formula, as the sheet shows it.

    A deletion inside math ends at the first `}}` (that is how Anki reads it), and its hint starts at
    the first `::` inside it.
    """
    out: list[str] = []
    position = 0
    while (match := _CLOZE_OPEN.search(tex, position)) is not None:
        out.append(tex[position : match.start()])
        end = tex.find("}}", match.end())
        if end < 0:  # an unterminated deletion: leave the rest alone, the engines will complain
            out.append(tex[match.start() :])
            return "".join(out)
        body = tex[match.end() : end]
        hint_at = body.find("::")
        out.append(body if hint_at < 0 else body[:hint_at])
        position = end + 2
    out.append(tex[position:])
    return "".join(out)


# --------------------------------------------------------------------------- KaTeX → MathML


def tex_to_mathml(tex: str, display: bool) -> str:
    """MathML (wrapped in KaTeX's span) for build-time math: browsers render it without script or fonts.

    Raises MathEngineError on unknown macros or unbalanced braces.
    """
    memo = MATHML_MEMO.get((tex, display))
    if memo is not None:
        return memo
    try:
        mathml = str(
            pykatex.renderToString(
                strip_cloze_markers(tex),
                displayMode=display,
                output="mathml",
                throwOnError=True,
                strict="ignore",  # Chinese inside math is fine for MathJax and Typst, so for us too
            )
        )
    except pykatex.ParseError as exc:
        raise MathEngineError("KaTeX", _one_line(str(exc))) from exc
    MATHML_MEMO[(tex, display)] = mathml
    return mathml


# --------------------------------------------------------------------------- TeX → Typst


# Macros KaTeX and MathJax know that tex2typst 0.1.7 passes through as unknown Typst names.
_TEX_SYNONYMS = {
    r"\lVert": r"\|",
    r"\rVert": r"\|",
    r"\lvert": "|",
    r"\rvert": "|",
    r"\bm": r"\boldsymbol",
    r"\cfrac": r"\frac",
    r"\stackrel": r"\overset",
}
# Delimiter sizing is layout, not meaning; Typst sizes delimiters itself.
_TEX_SIZING = re.compile(r"\\(?:big|Big|bigg|Bigg)[lrm]?(?![A-Za-z])|\\middle(?![A-Za-z])")
_TEX_TEXT_STYLE = re.compile(r"\\text(bf|it)\{([^{}]*)\}")
_TEX_CASES = re.compile(r"\\begin\{cases\}.*?\\end\{cases\}", re.S)
_TEX_ALIGNED_ENVIRONMENTS = re.compile(r"\\(begin|end)\{(?:gathered|split)\}")
# Symbol names tex2typst emits that this Typst version renamed.
_TYPST_RENAMES = {"dot.circle": "dot.o", "plus.circle": "plus.o", "times.circle": "times.o",
                  "minus.circle": "minus.o", "div.circle": "div.o", "alef": "aleph"}
_TYPST_RENAMED = re.compile(  # strings are matched (and kept) so names inside them stay untouched
    r'"(?:\\.|[^"\\])*"'
    r"|(?<![A-Za-z0-9.])(" + "|".join(re.escape(n) for n in _TYPST_RENAMES) + r")(?![A-Za-z0-9])"
)


def _space_cases(match: re.Match[str]) -> str:
    """TeX puts a quad between a `cases` value and its condition; Typst's alignment point adds none."""
    return re.sub(r"(?<!\\)&", r"&\\quad ", match[0])


def _prepare_tex(tex: str) -> str:
    tex = strip_cloze_markers(tex)
    tex = _TEX_CASES.sub(_space_cases, tex)
    tex = _TEX_SIZING.sub(" ", tex)
    tex = _TEX_TEXT_STYLE.sub(lambda m: rf"\math{m[1]}{{\text{{{m[2]}}}}}", tex)
    return _TEX_ALIGNED_ENVIRONMENTS.sub(lambda m: rf"\{m[1]}{{aligned}}", tex)


def _rename_typst_symbols(typst_math: str) -> str:
    return _TYPST_RENAMED.sub(lambda m: _TYPST_RENAMES[m[1]] if m[1] else m[0], typst_math)


def tex_to_typst(tex: str) -> str:
    """Typst math source (without `$`) for a TeX formula; refuses output that would be Typst code."""
    memo = TYPST_MEMO.get(tex)
    if memo is not None:
        return memo
    try:
        converted = str(_tex2typst.tex2typst(_prepare_tex(tex), custom_tex_macros=_TEX_SYNONYMS))
    except Exception as exc:  # tex2typst reports every failure as a bare Exception/ValueError
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        message = message.removeprefix("Conversion failed: ")
        raise MathEngineError("tex2typst", message) from exc
    problem = _code_outside_strings(converted)
    if problem:
        raise MathEngineError("tex2typst", f"conversion {converted!r} contains {problem}")
    renamed = _rename_typst_symbols(converted)
    TYPST_MEMO[tex] = renamed
    return renamed


# The one piece of code tex2typst emits on purpose: horizontal space for `\!` and `\hspace{…}`.
_ALLOWED_CODE = re.compile(r"#h\(-?(?:math\.[a-z]+\.amount|\d+(?:\.\d+)?(?:em|pt|mm|cm|in))\)")


def _code_outside_strings(typst_math: str) -> str:
    """A `#` or `$` outside a string would leave math mode: content must never become Typst code."""
    in_string = False
    index = 0
    while index < len(typst_math):
        char = typst_math[index]
        if char == "\\":
            index += 2
            continue
        if char == '"':
            in_string = not in_string
        elif not in_string and char == "#" and (allowed := _ALLOWED_CODE.match(typst_math, index)):
            index = allowed.end()
            continue
        elif not in_string and char in "#$":
            return f"a bare {char!r} (Typst code, not math)"
        index += 1
    return "an unterminated string" if in_string else ""


# --------------------------------------------------------------------------- Typst compilation


@functools.cache
def typst_font_paths() -> tuple[str, ...]:
    return (str(find_cjk_font().directory),)


@functools.cache
def cjk_family() -> str:
    return find_cjk_font().family


def typst_preamble() -> str:
    """Settings shared by formula checks and the sheet, so a formula that passes also renders there."""
    return f'#set text(font: ("{cjk_family()}",), lang: "zh", region: "cn")\n#set document(date: none)\n'


def typst_math(typst_source: str, display: bool) -> str:
    """Typst math markup; display math needs the spaces inside the dollars."""
    return f"$ {typst_source} $" if display else f"${typst_source}$"


_ran_here = False


def typst_ran_here() -> bool:
    """Whether Typst may have run in this process: its thread pool does not survive a fork (a forked
    child that runs Typst hangs), so work that needs Typst is not forked from such a process. Looked-up
    fonts count too: the sheet's error probes compile here after looking them up."""
    return _ran_here or bool(typst_font_paths.cache_info().currsize)


def _typst_here() -> None:
    global _ran_here
    _ran_here = True


def compile_typst(source: str, root: Path | None = None) -> bytes:
    """Compile Typst source to PDF bytes; every warning is an error (a missing font means boxes)."""
    kwargs: dict[str, object] = {"font_paths": list(typst_font_paths()), "ignore_system_fonts": True}
    if root is not None:
        kwargs["root"] = str(root)
    _typst_here()
    try:
        pdf, warnings = typst.compile_with_warnings(source.encode("utf-8"), **kwargs)
    except typst.TypstError as exc:
        raise MathEngineError("Typst", _typst_message(exc)) from exc
    if warnings:
        raise MathEngineError("Typst", "; ".join(_typst_message(w) for w in warnings))
    return bytes(pdf)


def typst_png_pages(source: str, inputs: dict[str, str], ppi: float) -> list[bytes]:
    """Every page of a Typst document as PNG bytes. No font and no file: the document gets its data
    from `inputs` (`sys.inputs`), so nothing is escaped into the source."""
    _typst_here()
    try:
        pages = typst.compile(source.encode("utf-8"), format="png", ppi=ppi, sys_inputs=inputs,
                              font_paths=[], ignore_system_fonts=True)
    except typst.TypstError as exc:
        raise MathEngineError("Typst", _typst_message(exc)) from exc
    return [bytes(page) for page in pages] if isinstance(pages, list) else [bytes(pages)]


def _typst_message(problem: Any) -> str:
    message = getattr(problem, "message", "") or str(problem)
    hints = getattr(problem, "hints", None) or []
    text = _one_line(str(message))
    if hints:
        text += " (hint: " + "; ".join(_one_line(str(h)) for h in hints) + ")"
    return text


CHECK_BATCH = 2000  # formulas per Typst check document


def typst_check_formulas(formulas: Sequence[tuple[str, bool]]) -> list[str | None]:
    """Compile converted Typst formulas in batch documents; pinpoint failures only when one fails.

    Each batch compiles in a short-lived Typst process (dldeck.emit.typeset): Typst keeps what it laid
    out for the life of its process (about 330 MB for 20,000 formulas), and the formula pass runs in a
    child that lives until the claims are verified. Returns, per formula, None when it compiles or
    the Typst message when it does not.
    """
    results: list[str | None] = []
    for start in range(0, len(formulas), CHECK_BATCH):
        results += _check_batch(formulas[start:start + CHECK_BATCH])
    return results


def _check_batch(formulas: Sequence[tuple[str, bool]]) -> list[str | None]:
    if not formulas:
        return []
    problem = _compiles(_formula_document(formulas))
    if problem is None:
        return [None] * len(formulas)
    if len(formulas) == 1:
        return [problem]
    # Bisect: a few bad formulas among hundreds cost a few dozen compiles, not hundreds.
    middle = len(formulas) // 2
    return _check_batch(formulas[:middle]) + _check_batch(formulas[middle:])


def _formula_document(formulas: Sequence[tuple[str, bool]]) -> str:
    body = "\n\n".join(typst_math(source, display) for source, display in formulas)
    return typst_preamble() + "#set page(width: 12cm, height: auto)\n" + body + "\n"


def _compiles(source: str) -> str | None:
    """None if the document compiles without a warning, else Typst's message. In a Typst child; if
    the child fails without an answer, here (where any failure surfaces as itself)."""
    from dldeck.emit.typeset import TypesetError, typeset  # the Typst child: standard library only

    with tempfile.TemporaryDirectory(prefix="dldeck-formulas-") as folder:
        main = Path(folder) / "main.typ"
        main.write_text(source, encoding="utf-8")
        try:
            done = typeset(main, Path(folder), list(typst_font_paths()), Path(folder) / "out.pdf")
        except TypesetError as error:
            if error.problem is not None:
                return _typst_message(error.problem)
        else:
            return "; ".join(_typst_message(w) for w in done.warnings) or None
    try:
        compile_typst(source)
    except MathEngineError as exc:
        return exc.engine_message
    return None


def typst_version() -> str:
    return f"typst-py-{typst.__version__}"


def tex2typst_version() -> str:
    return f"tex2typst-{getattr(_tex2typst, '__version__', '?')}"


def _one_line(text: str) -> str:
    # KaTeX underlines the culprit with U+0332 combining marks, which terminals garble.
    return " ".join(text.replace("\u0332", "").split())
