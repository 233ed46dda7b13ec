"""Render every figure kind with representative specs into build/gallery.html, for a human eye.

Run with `make gallery`; open build/gallery.html. PNGs (what Anki shows) sit next to the inline
SVGs (what the cheat sheets show) so both renderings can be compared.
"""

from __future__ import annotations

import html
import sys
from pathlib import Path

from dldeck.errors import BuildError
from dldeck.figures import KINDS, render_figures
from dldeck.figures.examples import EXAMPLES
from dldeck.model import Card, CheckBlock, Collection, FigureBlock, SourceSpan, Text

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"


def example_card(kind: str, number: int, source: str, checks: str) -> Card:
    path = f"gallery/{kind}.md"
    slug = f"gallery-{kind}-{number}"
    blocks: tuple[CheckBlock | FigureBlock, ...] = (FigureBlock(source, SourceSpan(path, 4), 0),)
    if checks:
        blocks = (CheckBlock(checks, SourceSpan(path, 1)),) + blocks
    return Card(
        slug=slug,
        question=(Text(slug),),
        answer=blocks,
        extra=(),
        sources=(),
        deck="Gallery",
        section=kind,
        tags=(),
        covers=(slug,),
        kind="basic",
        span=SourceSpan(path, 1),
        order=number,
    )


def main() -> int:
    cards = []
    titles = {}
    for kind, examples in EXAMPLES.items():
        for number, (title, source, checks) in enumerate(examples):
            card = example_card(kind, number, source, checks)
            cards.append(card)
            titles[card.slug] = (kind, title, source)
    missing = sorted(set(KINDS) - set(EXAMPLES))
    try:
        rendered = render_figures(Collection(tuple(cards), root="gallery"), BUILD)
    except BuildError as error:
        print(error, file=sys.stderr)
        return 1
    parts = [
        "<!doctype html><meta charset='utf-8'><title>dldeck figure gallery</title>",
        "<style>body{font-family:sans-serif;max-width:1300px;margin:2em auto}"
        "section{display:grid;grid-template-columns:1fr 1fr;gap:1em;border-top:1px solid #ccc;padding:1em 0}"
        "img,svg{max-width:100%;height:auto}pre{background:#f6f6f6;padding:.5em;grid-column:1/3}</style>",
        "<h1>dldeck figure gallery</h1><p>Left: SVG (cheat sheets). Right: PNG (Anki).</p>",
    ]
    if missing:
        parts.append(f"<p><b>Kinds without an example:</b> {html.escape(', '.join(missing))}</p>")
    for card in cards:
        figure = rendered[next(key for key in rendered if key.slug == card.slug)]
        kind, title, source = titles[card.slug]
        svg = Path(figure.svg_path).read_text(encoding="utf-8")
        svg = svg[svg.index("<svg") :]
        png = Path(figure.png_path).relative_to(BUILD)
        parts.append(
            f"<section><h2 style='grid-column:1/3'>{html.escape(kind)}: {html.escape(title)}</h2>"
            f"<pre>{html.escape(source)}</pre><div>{svg}</div>"
            f"<div><img src='{html.escape(str(png))}' alt='{html.escape(figure.alt)}'></div></section>"
        )
    out = BUILD / "gallery.html"
    out.write_text("\n".join(parts), encoding="utf-8")
    print(f"wrote {out} ({len(cards)} figures)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
