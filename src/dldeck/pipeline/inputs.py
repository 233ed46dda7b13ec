"""Everything a build reads, hashed: the stamp that lets an unchanged rebuild stop before importing
anything heavy, and the facts hash that keys the claim and figure caches. Only the standard library
and `dldeck.buildcache` are imported here, because the no-op build runs this and nothing more."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dldeck import buildcache
from dldeck.model import Collection

MANIFEST_NAME = ".dldeck-manifest.json"
CONFIG_FILES = ("pyproject.toml", "dldeck.toml")


def build_inputs(content_dir: Path, project_dir: Path, only: Sequence[str], timeout: float) -> str:
    """One hash over everything a build reads, except the manifest (which the build itself writes)."""
    return buildcache.hash_json({
        "content": buildcache.hash_tree(content_dir, skip=(MANIFEST_NAME,)),
        "content_dir": [str(content_dir), str(content_dir.resolve())],
        "config": {name: buildcache.hash_file(project_dir / name) for name in CONFIG_FILES},
        "only": sorted(only),
        "timeout": float(timeout),
        "date": build_date(),
    })


def build_date() -> str:
    """The date printed on the sheets: a new day is a new input."""
    import datetime

    from dldeck.manifest import build_time

    moment = datetime.datetime.fromtimestamp(build_time(), tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d")


def facts_hash(collection: Collection) -> str:
    """Facts may be looked up by any card; where they live follows verify.library.facts_directory."""
    root = Path(collection.root)
    return buildcache.hash_json([buildcache.hash_tree(root / "_facts"),
                                 buildcache.hash_tree(root / "content" / "_facts")])
