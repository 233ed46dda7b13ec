"""Verification pass: every ```check claim of the collection decided with sympy, under time limits.

`verify_collection` is the entry point for builds; `dldeck.verify.language` gives figures the
card's definitions (`scope_for_card`, `evaluate_expression`).
"""

from dldeck.verify.runner import STATUSES, ClaimResult, VerifyReport, verify_collection

__all__ = ["STATUSES", "ClaimResult", "VerifyReport", "verify_collection"]
