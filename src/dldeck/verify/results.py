"""What verification reports, in a module without sympy: the build cache restores results from it
without loading the checker (see dldeck.pipeline)."""

from __future__ import annotations

from dataclasses import dataclass, field

from dldeck.errors import Diagnostic

STATUSES = ("symbolic", "numeric", "failed", "timeout", "error")
# What a shown formula or computed number can end as besides STATUSES (none of them is a problem):
# a definition (one no claim uses), proved wrong as marked, exempt (a relation, or an expression that
# states none), a value for an example (one no claim uses), not read, a computed value.
SHOWN_STATUSES = ("definition", "unused definition", "wrong", "exempt", "exempt expression", "setting",
                  "unused", "unread", "computed")
SOURCES = ("check", "formula", "computed")
PASSED = ("symbolic", "numeric")
# The message of a shown claim verified only at the example values of its paragraph (`$n=4$，$n^2=16$`).
AT_EXAMPLE = "holds at the example values of its paragraph, not for all values"


@dataclass(frozen=True)
class ClaimResult:
    slug: str
    path: str
    line: int
    text: str
    status: str  # one of STATUSES or SHOWN_STATUSES
    message: str = ""
    source: str = "check"  # one of SOURCES: a ```check line, a shown formula or a computed number
    formula: str = ""  # the shown formula's TeX (source "formula")
    value: str = ""  # the formatted number (source "computed")
    index: int = 0  # the computed number's position in its card (source "computed")


@dataclass(frozen=True)
class VerifyReport:
    results: tuple[ClaimResult, ...]
    diagnostics: tuple[Diagnostic, ...] = field(default=())
    not_run: tuple[str, ...] = ()  # slugs of cards verification stopped before finishing (too many timeouts)
    unchecked: tuple[tuple[str, int], ...] = ()  # (path, line) of each claim of theirs it did not reach
    stopped: Diagnostic | None = None  # the one message for all of them (also in `diagnostics`)

    def count(self, status: str) -> int:
        if status not in STATUSES + SHOWN_STATUSES:
            raise ValueError(f"unknown status {status!r}")
        return sum(1 for result in self.results if result.status == status)

    @property
    def ok(self) -> bool:
        return not self.diagnostics
