"""Verification pass: every ```check claim of the collection decided with sympy, under time limits.

`verify_collection` is the entry point for builds; `dldeck.verify.language` gives figures the
card's definitions (`scope_for_card`, `evaluate_expression`). Names are loaded on first use, so
reading `dldeck.verify.results` does not import sympy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dldeck.verify.results import STATUSES, ClaimResult, VerifyReport
    from dldeck.verify.runner import verify_collection

__all__ = ["STATUSES", "ClaimResult", "VerifyReport", "verify_collection"]


def __getattr__(name: str) -> Any:
    if name == "verify_collection":
        from dldeck.verify.runner import verify_collection

        return verify_collection
    if name in ("STATUSES", "ClaimResult", "VerifyReport"):
        from dldeck.verify import results

        return getattr(results, name)
    raise AttributeError(f"module 'dldeck.verify' has no attribute {name!r}")
