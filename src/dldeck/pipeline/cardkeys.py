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
    """The hash of `describe(card)` for each card, reused while the card's digest is unchanged; with
    `locate`, also where the card's parts are (any JSON value `locate(card)` gives), which the digest
    fixes too (it covers every source position), so restoring a card's results need not walk it."""

    def __init__(self, build_dir: Path | None, name: str, describe: Callable[[Card], Any],
                 work: Work, locate: Callable[[Card], Any] | None = None) -> None:
        from dldeck.source.codec import digest  # the reader's package: not imported by a no-op build

        self.executor = Executor(build_dir, name, code=DESCRIBE_CODE, work=work, sharded=True)
        self.describe = describe
        self.locate = locate
        self.located: dict[str, Any] = {}  # slug → `locate` of the card last described
        self.digest = digest
        self.name = name
        self.work = work

    def __call__(self, card: Card) -> str:
        digest = self.digest(card) if self.executor.cache is not None else ""
        known = self.executor.get(digest, self._restore) if digest else None
        if known is None:
            known = [Executor.key(self.describe(card)), self.locate(card) if self.locate else None]
            self.work.described.append(f"{self.name}: {card.slug}")
        self.executor.put(digest, known if self.locate else known[0])
        if self.locate:
            self.located[card.slug] = known[1]
        return known[0]

    def _restore(self, value: Any) -> list[Any] | None:
        if self.locate is None:
            return [value, None] if isinstance(value, str) else None
        return value if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) else None

    def save(self) -> None:
        self.executor.save()
