"""Math engines shared by the formula check and the cheat-sheet writers (KaTeX → MathML, TeX → Typst)."""

from dldeck.mathengines.engines import (
    MathEngineError,
    compile_typst,
    strip_cloze_markers,
    tex_to_mathml,
    tex_to_typst,
)
from dldeck.mathengines.formulas import FormulaReport, FormulaUse, compile_formulas

__all__ = [
    "FormulaReport",
    "FormulaUse",
    "MathEngineError",
    "compile_formulas",
    "compile_typst",
    "strip_cloze_markers",
    "tex_to_mathml",
    "tex_to_typst",
]
