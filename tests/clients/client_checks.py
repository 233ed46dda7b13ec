"""What counts as a card shown wrongly, from the records the real-client runners write, and the
explicit list of notes known to be shown wrongly today (known_offenders.toml)."""

from __future__ import annotations

import base64
import json
import re
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from pathlib import Path

KNOWN_OFFENDERS = Path(__file__).with_name("known_offenders.toml")
MIN_LABEL_PX = 11.0  # figure text at phone width, CSS px
PHONE = 360
_SCALE = re.compile(r"scale\(\s*([0-9.]+)")
_FONT_SCALE = 100.0  # matplotlib draws path glyphs at 1/100 of the font size, then scales them


def read_records(path: Path) -> list[dict]:
    """The JSON lines that measure a card. Split on newlines only: str.splitlines would also split
    inside a record at U+2028 or U+0085, which json.dumps(ensure_ascii=False) leaves as they are."""
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if '"slug"' in line:
            try:
                records.append(json.loads(line))
            except ValueError as exc:
                raise AssertionError(f"{path}:{number}: not a JSON record ({exc}): {line[:80]!r}") from None
    return records


# --------------------------------------------------------------------------- figures


def figure_label_pt(svg: str) -> tuple[float, float] | None:
    """(smallest label's font size in pt, the figure's width in pt) of a matplotlib SVG, or None.

    Glyphs are paths (`svg.fonttype: path`): each text is a `<g id="text_N">` holding `<g>`s scaled by
    font size / 100 (a `<use>` scale inside is relative: sub/superscripts). A label's size is its
    largest such scale."""
    root = ET.fromstring(svg)
    width = float(root.get("viewBox", "0 0 0 0").split()[2])
    sizes = []
    for group in root.iter("{http://www.w3.org/2000/svg}g"):
        if not (group.get("id") or "").startswith("text_"):
            continue
        scales = [float(m[1]) for inner in group.iter("{http://www.w3.org/2000/svg}g")
                  if (m := _SCALE.search(inner.get("transform", "")))]
        if scales:
            sizes.append(max(scales) * _FONT_SCALE)
    return (min(sizes), width) if sizes and width else None


def svg_of(src: str, figures_dir: Path | None) -> str | None:
    """The SVG behind an image: inline data (the sheet) or the SVG twin of an Anki PNG."""
    if src.startswith("data:image/svg+xml;base64,"):
        return base64.b64decode(src.split(",", 1)[1]).decode("utf-8")
    if figures_dir is not None and re.fullmatch(r"fig-[0-9a-f]+\.png", src):
        path = figures_dir / src.replace(".png", ".svg")
        return path.read_text(encoding="utf-8") if path.exists() else None
    return None


def smallest_label_px(record: dict, figures_dir: Path | None) -> float | None:
    """The smallest figure label in a rendered card, in CSS px: label pt × rendered width / width pt."""
    sizes = []
    for image in record["images"]:
        svg = svg_of(image["src"], figures_dir)
        measured = figure_label_pt(svg) if svg else None
        if measured and image["width"] > 0:
            label_pt, width_pt = measured
            sizes.append(label_pt * image["width"] / width_pt)
    return min(sizes) if sizes else None


# --------------------------------------------------------------------------- checks


def checks(figures_dir: Path | None) -> dict[str, Callable[[dict], str | None]]:
    """Check name → what is wrong in one record (None when nothing is)."""

    def small_labels(record: dict) -> str | None:
        if record["target"] != PHONE:
            return None
        px = smallest_label_px(record, figures_dir)
        return f"smallest figure label {px:.1f} px" if px is not None and px < MIN_LABEL_PX else None

    return {
        "display-math-scrolls": lambda r: (f"{len(r['wideDisplays'])} display formula(s) scroll, up to "
                                           f"{max(r['wideDisplays'])} px" if r["wideDisplays"] else None),
        "page-scrolls": lambda r: "; ".join(r["sticksOut"]) or None,
        "mathjax-error": lambda r: "; ".join(f"{p['problem']} in {p['tex'][:60]}"
                                             for p in r["mathjaxProblems"]) or None,
        "raw-tex": lambda r: f"TeX left as text: {r['rawTex']}" if r["rawTex"] else None,
        "broken-image": lambda r: "; ".join(r["brokenImages"]) or None,
        "figure-label-small": small_labels,
    }


Measured = dict[tuple[str, str, int], dict[str, str]]  # (check, theme, width) → slug → what was seen


def offenders(records: Iterable[dict], figures_dir: Path | None) -> Measured:
    """(check, theme, width) → slug → what was measured (first offending side)."""
    found: Measured = {}
    named = checks(figures_dir)
    records = list(records)
    variants = {(r["theme"], r["target"]) for r in records}
    for name in named:
        for theme, width in variants:
            found[(name, theme, width)] = {}
    for record in records:
        for name, check in named.items():
            problem = check(record)
            if problem:
                found[(name, record["theme"], record["target"])].setdefault(record["slug"], problem)
    return found


def known(client: str) -> dict[str, dict[str, str]]:
    """`[client."check@width"]` tables: slug → why (as measured when listed)."""
    data = tomllib.loads(KNOWN_OFFENDERS.read_text(encoding="utf-8")).get(client, {})
    return {key: dict(value) for key, value in data.items()}


def differences(client: str, measured: Measured) -> list[str]:
    """New offenders and listed ones that are fixed: both fail, so the list is always the truth."""
    listed = known(client)
    problems = []
    for (name, theme, width), found in sorted(measured.items()):
        expected = listed.get(f"{name}@{width}", {})
        for slug in sorted(set(found) - set(expected)):
            problems.append(f"{client} {name} at {width} px ({theme}): {slug}: {found[slug]}")
        for slug in sorted(set(expected) - set(found)):
            problems.append(f"{client} {name} at {width} px ({theme}): {slug} is fixed: remove it from "
                            f"{KNOWN_OFFENDERS.name} [{client}.\"{name}@{width}\"]")
    stale = set(listed) - {f"{name}@{width}" for name, _, width in measured}
    problems += [f"{KNOWN_OFFENDERS.name}: [{client}.\"{key}\"] names no measured check"
                 for key in sorted(stale)]
    return problems


def summary(client: str, measured: Measured) -> list[str]:
    """One line per check, theme and width: how many notes offend (for the README)."""
    order = sorted(measured.items(), key=lambda item: (item[0][1], item[0][2], item[0][0]))
    return [f"{client:6} {theme:5} {width:5} px  {name:22} {len(found):3} notes"
            for (name, theme, width), found in order]


def as_toml(client: str, measured: Measured) -> str:
    """The known-offenders tables for what was measured (themes merged), to review before pasting."""
    tables: dict[str, dict[str, str]] = {}
    for (name, _theme, width), found in sorted(measured.items()):
        tables.setdefault(f"{name}@{width}", {}).update({slug: found[slug] for slug in found})
    lines = []
    for key, found in tables.items():
        if found:
            lines.append(f'\n[{client}."{key}"]')
            lines += [f"{slug} = {json.dumps(why, ensure_ascii=False)}"
                      for slug, why in sorted(found.items())]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python tests/clients/client_checks.py anki build/review/anki.jsonl build/figures
    import sys

    client, records_path = sys.argv[1], Path(sys.argv[2])
    figures = Path(sys.argv[3]) if len(sys.argv) > 3 else None
    measured = offenders(read_records(records_path), figures)
    print("\n".join(summary(client, measured)), file=sys.stderr)
    print(as_toml(client, measured), end="")
