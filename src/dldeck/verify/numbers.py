"""Computed numbers in prose: `` `= expr | format` `` and how a value is printed.

The reader only needs the syntax (no sympy here); the claim worker formats the evaluated value with
`format_value`, so the text every output shows is decided once, in one place.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

COMPUTED_PREFIX = "="
# "" (an integer as is), "," (thousands separators), ".2f", ",.2f", ".1%", "d", ",d"
FORMAT = re.compile(r"(?P<comma>,)?(?:\.(?P<digits>\d)(?P<kind>[f%])|(?P<int>d))?\Z")
FORMATS_HELP = "`,` (thousands), `d` (integer), `.2f` (2 decimals), `.1%` (percent), or `,.2f`"


def split_computed(code: str) -> tuple[str, str] | None:
    """`= expr | fmt` → (expr, fmt); None when the inline code is not a computed number.

    `|` is no operator of the check language, so the first one always starts the format."""
    text = code.strip()
    if not text.startswith(COMPUTED_PREFIX) or text.startswith("=="):
        return None
    expression, _, spec = text[len(COMPUTED_PREFIX):].partition("|")
    return expression.strip(), spec.strip()


class FormatError(ValueError):
    pass


def format_value(value: Fraction, spec: str) -> str:
    """Print an exact value; refuse to silently round or drop a fraction the format does not show."""
    match = FORMAT.match(spec)
    if match is None:
        raise FormatError(f"unknown number format {spec!r} (use {FORMATS_HELP})")
    comma = "," if match["comma"] else ""
    if match["kind"]:
        digits = int(match["digits"])
        scale = 100 if match["kind"] == "%" else 1
        with localcontext() as context:
            context.prec = 80
            exact = Decimal(value.numerator * scale) / Decimal(value.denominator)
            rounded = exact.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
        text = format(rounded, f"{comma}.{digits}f")
        if text.lstrip("-").strip("0.,") == "" and text.startswith("-"):
            text = text[1:]  # -0.00 prints as 0.00
        return text + ("%" if match["kind"] == "%" else "")
    if value.denominator != 1:
        raise FormatError(f"the value {value} is not an integer: give a format such as `.2f` or `.1%`")
    return format(value.numerator, f"{comma}d")
