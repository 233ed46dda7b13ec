#!/usr/bin/env python3
"""Which cards answer which question: prints slug → cards, fails on an uncovered slug.

Questions come from two places: the `### `slug` …` headings of the seeds' INVENTORY.md, and the
same headings in every docs/syllabus/*.md (the topics the seeds lack, one file per topic). A card
covers the slugs named in its `covers="…"` attribute (default: its own id). The seed table prints
first, then one syllabus table for all syllabus files.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INVENTORY = ROOT.parent / "shared" / "seeds" / "INVENTORY.md"
DEFAULT_SYLLABUS = ROOT / "docs" / "syllabus"
ENTRY = re.compile(r"^### `([a-z0-9-]+)`\s*(.*)$")


def inventory_slugs(path: Path) -> dict[str, str]:
    """slug → question, in inventory order."""
    entries: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = ENTRY.match(line)
        if match:
            entries[match.group(1)] = match.group(2).strip()
    return entries


def syllabus_slugs(directory: Path) -> tuple[dict[str, str], list[str]]:
    """slug → question over every syllabus file in name order, plus slugs given twice."""
    entries: dict[str, str] = {}
    where: dict[str, Path] = {}
    problems: list[str] = []
    for path in sorted(directory.glob("*.md")) if directory.is_dir() else []:
        for slug, question in inventory_slugs(path).items():
            if slug in entries:
                problems.append(f"{path}: syllabus slug {slug!r} is already in {where[slug]}")
                continue
            entries[slug] = question
            where[slug] = path
    return entries, problems


def coverage(
    content_dir: Path, inventory: Path, syllabus: Path | None = None
) -> tuple[dict[str, list[str]], dict[str, list[str]], list[str]]:
    """(seed table, syllabus table, problems): each table maps a slug to the cards covering it."""
    from dldeck.source import read_collection

    seed_entries = inventory_slugs(inventory)
    syllabus_entries, problems = syllabus_slugs(syllabus) if syllabus is not None else ({}, [])
    problems += [
        f"{syllabus}: syllabus slug {slug!r} is already in the seed inventory"
        for slug in syllabus_entries
        if slug in seed_entries
    ]
    seed_table: dict[str, list[str]] = {slug: [] for slug in seed_entries}
    syllabus_table: dict[str, list[str]] = {
        slug: [] for slug in syllabus_entries if slug not in seed_entries
    }
    for card in read_collection(content_dir).cards:
        for slug in card.covers:
            table = seed_table if slug in seed_table else syllabus_table
            if slug in table:
                table[slug].append(card.slug)
            elif slug != card.slug:
                problems.append(f"{card.span}: covers unknown inventory slug {slug!r}")
    return seed_table, syllabus_table, problems


def print_table(table: dict[str, list[str]]) -> None:
    width = max(len(slug) for slug in table)
    for slug, cards in table.items():
        print(f"{slug:<{width}}  {', '.join(cards) if cards else '-- UNCOVERED --'}")


@click.command()
@click.option("--content", "content_dir", type=click.Path(path_type=Path), default=ROOT / "content")
@click.option("--inventory", type=click.Path(path_type=Path), default=DEFAULT_INVENTORY, show_default=True)
@click.option(
    "--syllabus",
    type=click.Path(path_type=Path),
    default=DEFAULT_SYLLABUS,
    show_default=True,
    help="Folder of syllabus files (*.md, same headings as the inventory).",
)
@click.option("--quiet", is_flag=True, help="Print only the summary and problems.")
def main(content_dir: Path, inventory: Path, syllabus: Path, quiet: bool) -> None:
    if not inventory.is_file():
        sys.exit(f"inventory not found: {inventory} (pass --inventory)")
    seed_table, syllabus_table, problems = coverage(content_dir, inventory, syllabus)
    missing: list[str] = []
    for name, table in (("inventory", seed_table), ("syllabus", syllabus_table)):
        if not table:
            continue
        if not quiet:
            print_table(table)
        uncovered = [slug for slug, cards in table.items() if not cards]
        print(f"{len(table) - len(uncovered)}/{len(table)} {name} slugs covered")
        missing += uncovered
    for line in problems:
        print(line)
    if missing:
        print("uncovered: " + ", ".join(missing))
    if missing or problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
