"""The two math engines every formula must satisfy: KaTeX (HTML, and a stand-in for Anki's MathJax)
and Typst (the PDF), reached through tex2typst.

A formula that only one engine understands would render on the phone but break the printout (or
the other way round), so the build checks both and the writers use exactly these functions.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from pathlib import Path

import pykatex
import tex2typst as _tex2typst
import typst

from dldeck.fonts import find_cjk_font

KATEX_VERSION = "pykatex-0.1.1/katex-0.16.22"


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
    try:
        return str(
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


# --------------------------------------------------------------------------- TeX → Typst


def tex_to_typst(tex: str) -> str:
    """Typst math source (without `$`) for a TeX formula; refuses output that would be Typst code."""
    try:
        converted = str(_tex2typst.tex2typst(strip_cloze_markers(tex)))
    except Exception as exc:  # tex2typst reports every failure as a bare Exception/ValueError
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        message = message.removeprefix("Conversion failed: ")
        raise MathEngineError("tex2typst", message) from exc
    problem = _code_outside_strings(converted)
    if problem:
        raise MathEngineError("tex2typst", f"conversion {converted!r} contains {problem}")
    return converted


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


def compile_typst(source: str, root: Path | None = None) -> bytes:
    """Compile Typst source to PDF bytes; every warning is an error (a missing font means boxes)."""
    kwargs: dict[str, object] = {"font_paths": list(typst_font_paths()), "ignore_system_fonts": True}
    if root is not None:
        kwargs["root"] = str(root)
    try:
        pdf, warnings = typst.compile_with_warnings(source.encode("utf-8"), **kwargs)
    except typst.TypstError as exc:
        raise MathEngineError("Typst", _typst_message(exc)) from exc
    if warnings:
        raise MathEngineError("Typst", "; ".join(_typst_message(w) for w in warnings))
    return bytes(pdf)


def _typst_message(problem: BaseException) -> str:
    message = getattr(problem, "message", "") or str(problem)
    hints = getattr(problem, "hints", None) or []
    text = _one_line(str(message))
    if hints:
        text += " (hint: " + "; ".join(_one_line(str(h)) for h in hints) + ")"
    return text


def typst_check_formulas(formulas: Sequence[tuple[str, bool]]) -> list[str | None]:
    """Compile converted Typst formulas; one batch document first, one by one only when it fails.

    Returns, per formula, None when it compiles or the Typst message when it does not.
    """
    if not formulas:
        return []
    if _compiles(_formula_document(formulas)) is None:
        return [None] * len(formulas)
    return [_compiles(_formula_document([formula])) for formula in formulas]


def _formula_document(formulas: Sequence[tuple[str, bool]]) -> str:
    body = "\n\n".join(typst_math(source, display) for source, display in formulas)
    return typst_preamble() + "#set page(width: 12cm, height: auto)\n" + body + "\n"


def _compiles(source: str) -> str | None:
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
