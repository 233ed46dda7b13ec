"""What verification reports, in a module without sympy: the build cache restores results from it
without loading the checker (see dldeck.pipeline)."""

from __future__ import annotations

from dataclasses import dataclass, field

from dldeck.errors import Diagnostic

STATUSES = ("symbolic", "numeric", "failed", "timeout", "error")


@dataclass(frozen=True)
class ClaimResult:
    slug: str
    path: str
    line: int
    text: str
    status: str  # one of STATUSES
    message: str = ""


@dataclass(frozen=True)
class VerifyReport:
    results: tuple[ClaimResult, ...]
    diagnostics: tuple[Diagnostic, ...] = field(default=())
    not_run: tuple[str, ...] = ()  # slugs of cards verification stopped before finishing (too many timeouts)

    def count(self, status: str) -> int:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        return sum(1 for result in self.results if result.status == status)

    @property
    def ok(self) -> bool:
        return not self.diagnostics
