"""One mechanism for incremental work: a step's inputs are hashed, its result is cached under that
hash, and the next build that meets the same inputs reuses the result instead of redoing the step.

Every pass (claims, figures, formula conversions) and every output goes through an `Executor`, so
what "incremental" means — which entries are trusted, which are dropped, when the cache is
written — is written once here and tested once. Results live in `build/cache/<name>.json` (a
cache with an entry per card in 16 files `<name>.<0-f>.json`, so an edit rewrites few of them)
(see `dldeck.buildcache.JsonCache`: versioned, digested, written atomically, entries a build did
not use are dropped); the code that produces them is part of the key (`tool`), so an edit to
dldeck invalidates exactly the caches of the code it touched. Only the standard library and
`buildcache` are imported here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Generic, TypeVar

from dldeck import buildcache
from dldeck.pipeline.outcome import Work

Item = TypeVar("Item")
Result = TypeVar("Result")


def _as_is(value: Any) -> Any:
    return value


class Executor:
    """Results keyed by the hash of their inputs; without a build folder nothing is kept.

    `restore` turns a cached JSON value back into a result and returns None for one of the wrong
    shape: such an entry is dropped, never trusted, and the step runs again."""

    def __init__(self, build_dir: Path | None, name: str, *, code: Sequence[str] = (), version: str = "",
                 work: Work | None = None, sharded: bool = False) -> None:
        """`sharded`: a cache with an entry per card, kept in 16 files so an edit rewrites few."""
        self.name = name
        self.cache: buildcache.JsonCache | buildcache.ShardedCache | None = None
        if build_dir is not None:
            tool = buildcache.tool_hash(*code) + (f"|{version}" if version else "")
            kind = buildcache.ShardedCache if sharded else buildcache.JsonCache
            self.cache = kind(build_dir, name, tool)
            if work is not None:
                work.cache_status[name] = self.cache.status

    @staticmethod
    def key(inputs: Any) -> str:
        """The hash of a JSON-able description of everything a result depends on."""
        return buildcache.hash_json(inputs)

    def get(self, key: str, restore: Callable[[Any], Result | None] = _as_is) -> Result | None:
        """The result cached under `key`, restored; None if there is none or it cannot be trusted."""
        if self.cache is None:
            return None
        value = self.cache.get(key)
        restored = restore(value) if value is not None else None
        if restored is None:
            self.cache.forget(key)
        return restored

    def put(self, key: str, value: Any) -> None:
        """Keep a result (as JSON) for the next build."""
        if self.cache is not None:
            self.cache.put(key, value)

    def save(self) -> None:
        """Write what this build used or made; entries it did not use are dropped."""
        if self.cache is not None:
            self.cache.save()

    def close(self) -> None:
        """Save, then let go of every entry: the step is done, and a large cache's memory can go back
        while the build does other work (nothing is kept or found after this)."""
        self.save()
        self.cache = None

    def split(self, items: Iterable[Item], inputs: Callable[[Item], Any],
              restore: Callable[[Item, Any], Result | None]) -> Split[Item, Result]:
        """Which items have a cached result (reused) and which must be computed (pending). The results
        restored live as long as the build: made under `buildcache.bulk`, the collector does not walk
        them again and again (at 20,000 cards it spent about 0.4 s of an edit finding nothing)."""
        split: Split[Item, Result] = Split()
        with buildcache.bulk():
            for item in items:
                key = self.key(inputs(item))
                result = self.get(key, lambda value, item=item: restore(item, value))
                if result is None:
                    split.pending.append((key, item))
                else:
                    split.reused.append((key, item, result))
        return split


class Split(Generic[Item, Result]):
    """Items whose results came from the cache, and items still to compute, each with its key."""

    def __init__(self) -> None:
        self.reused: list[tuple[str, Item, Result]] = []
        self.pending: list[tuple[str, Item]] = []

    @property
    def pending_items(self) -> list[Item]:
        return [item for _, item in self.pending]
