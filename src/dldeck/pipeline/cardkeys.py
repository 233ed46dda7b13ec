"""What a card's claims or figures depend on, described once per card: describing it walks the
card's formulas and sentences, which at 5,000 cards was most of what an edit cost before anything
was verified. The description's hash is cached through the one Executor under the card's digest
(`dldeck.source.codec.digest`), so an unchanged card costs one look-up."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from dldeck.model import Card
from dldeck.pipeline.executor import Executor
from dldeck.pipeline.outcome import Work

# The code that describes a card: editing it invalidates the descriptions.
DESCRIBE_CODE = ("pipeline/cardkeys.py", "pipeline/claims.py", "pipeline/figures.py", "verify/sentences.py",
                 "source", "model.py")


class CardKeys:
    """The hash of `describe(card)` for each card, reused while the card's digest is unchanged."""

    def __init__(self, build_dir: Path | None, name: str, describe: Callable[[Card], Any],
                 work: Work) -> None:
        from dldeck.source.codec import digest  # the reader's package: not imported by a no-op build

        self.executor = Executor(build_dir, name, code=DESCRIBE_CODE, work=work, sharded=True)
        self.describe = describe
        self.digest = digest
        self.name = name
        self.work = work

    def __call__(self, card: Card) -> str:
        digest = self.digest(card) if self.executor.cache is not None else ""
        known = self.executor.get(digest, _text) if digest else None
        if known is None:
            known = Executor.key(self.describe(card))
            self.work.described.append(f"{self.name}: {card.slug}")
        self.executor.put(digest, known)
        return known

    def save(self) -> None:
        self.executor.save()


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
