#!/usr/bin/env python3
"""Which cards answer which inventory question: prints slug → cards, fails on an uncovered slug.

Inventory entries are the `### `slug` …` headings of the seeds' INVENTORY.md; a card covers the
slugs named in its `covers="…"` attribute (default: its own id).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INVENTORY = ROOT.parent / "shared" / "seeds" / "INVENTORY.md"
ENTRY = re.compile(r"^### `([a-z0-9-]+)`\s*(.*)$")


def inventory_slugs(path: Path) -> dict[str, str]:
    """slug → question, in inventory order."""
    entries: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = ENTRY.match(line)
        if match:
            entries[match.group(1)] = match.group(2).strip()
    return entries


def coverage(content_dir: Path, inventory: Path) -> tuple[dict[str, list[str]], list[str]]:
    from dldeck.source import read_collection

    entries = inventory_slugs(inventory)
    table: dict[str, list[str]] = {slug: [] for slug in entries}
    unknown: list[str] = []
    for card in read_collection(content_dir).cards:
        for slug in card.covers:
            if slug in table:
                table[slug].append(card.slug)
            elif slug != card.slug:
                unknown.append(f"{card.span}: covers unknown inventory slug {slug!r}")
    return table, unknown


@click.command()
@click.option("--content", "content_dir", type=click.Path(path_type=Path), default=ROOT / "content")
@click.option("--inventory", type=click.Path(path_type=Path), default=DEFAULT_INVENTORY, show_default=True)
@click.option("--quiet", is_flag=True, help="Print only the summary and problems.")
def main(content_dir: Path, inventory: Path, quiet: bool) -> None:
    if not inventory.is_file():
        sys.exit(f"inventory not found: {inventory} (pass --inventory)")
    table, unknown = coverage(content_dir, inventory)
    missing = [slug for slug, cards in table.items() if not cards]
    if not quiet:
        width = max(len(slug) for slug in table)
        for slug, cards in table.items():
            print(f"{slug:<{width}}  {', '.join(cards) if cards else '-- UNCOVERED --'}")
    for line in unknown:
        print(line)
    print(f"{len(table) - len(missing)}/{len(table)} inventory slugs covered")
    if missing:
        print("uncovered: " + ", ".join(missing))
    if missing or unknown:
        sys.exit(1)


if __name__ == "__main__":
    main()
