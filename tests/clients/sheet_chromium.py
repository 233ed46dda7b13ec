"""Open the HTML cheat sheet in headless Chromium (Debian's, driven by Playwright) and record what
each card looks like at each width and colour scheme.

    .venv-clients/bin/python tests/clients/sheet_chromium.py build/cheatsheet.html build/review/sheet.jsonl \
        [--widths 360,1280] [--schemes light,dark] [--screenshots slug,…]

One JSON line per card (`<article class="card" id=slug>`) × width × scheme, measured by measure.js.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("DLDECK_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]
TWO_FRAMES = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
MEASURE_ALL = """() => [...document.querySelectorAll('article.card')].map(card =>
  Object.assign(window.__dldeckMeasure(card), {slug: card.id}))"""


def main(argv: list[str] | None = None) -> int:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sheet", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--widths", default="360,1280")
    parser.add_argument("--schemes", default="light,dark")
    parser.add_argument("--screenshots", default="")
    args = parser.parse_args(argv)
    shots = [s for s in args.screenshots.split(",") if s]
    measure_js = (HERE / "measure.js").read_text(encoding="utf-8")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    url = args.sheet.resolve().as_uri()
    with sync_playwright() as playwright, tempfile.TemporaryDirectory(prefix="dldeck-chromium-") as profile, \
            args.out.open("w", encoding="utf-8") as out:
        browser = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=ARGS, offline=True)
        try:
            page = browser.new_page()
            for scheme in args.schemes.split(","):
                for width in (int(w) for w in args.widths.split(",")):
                    page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
                    page.set_viewport_size({"width": width, "height": 900})
                    page.goto(url, wait_until="load")
                    page.evaluate(measure_js)
                    page.evaluate(TWO_FRAMES)
                    for record in page.evaluate(MEASURE_ALL):
                        record.update(theme=scheme, target=width)
                        out.write(json.dumps(record, ensure_ascii=False) + "\n")
                    for slug in shots:
                        card = page.locator(f"article.card[id='{slug}']")
                        if card.count():
                            card.screenshot(path=str(args.out.parent / f"sheet-{slug}-{width}-{scheme}.png"))
            out.write(json.dumps({"done": True}) + "\n")
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
