"""What a check or a build did and produced. Kept apart so every pass can record its work here
without importing the pass order (and the order can import every pass)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dldeck.model import Collection, Verified

Progress = Callable[[str], None]


def quiet(_: str) -> None:
    return None


@dataclass
class Work:
    """What a build actually did, not what it reused: how tests see that a cache was used."""

    read: list[str] = field(default_factory=list)  # content files read and linted afresh
    described: list[str] = field(default_factory=list)  # "<cache>: <slug>": card inputs described afresh
    rendered: list[str] = field(default_factory=list)  # "<output>: <slug>": card fragments rendered afresh
    verified: list[str] = field(default_factory=list)  # slugs whose claims were checked afresh
    figured: list[str] = field(default_factory=list)  # slugs whose figures were prepared afresh
    typeset: list[str] = field(default_factory=list)  # PDFs joined afresh (not reused)
    typeset_parts: list[str] = field(default_factory=list)  # "<pdf>: <part>" parts, skeleton typeset afresh
    cache_status: dict[str, str] = field(default_factory=dict)  # cache name → "ok" or why discarded


@dataclass(frozen=True)
class CheckSummary:
    """What `dldeck check` reports: claim statuses and formulas compiled."""

    collection: Collection
    claim_counts: dict[str, int]
    formulas: int
    results: tuple = field(default=())
    work: Work = field(default_factory=Work)
    coverage: Any = None  # dldeck.pipeline.coverage.Coverage
    verified: Verified = field(default_factory=Verified)
    notes: tuple[str, ...] = ()  # checks skipped on this machine, one line each


@dataclass(frozen=True)
class BuildResult:
    """`summary` is None when the build was up to date and nothing was read."""

    summary: CheckSummary | None
    outputs: tuple[Path, ...]
    up_to_date: bool = False
    cards: int = 0
    claim_counts: dict[str, int] = field(default_factory=dict)
    formulas: int = 0
    work: Work = field(default_factory=Work)
