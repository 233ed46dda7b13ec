"""An Anki add-on (copied into a throw-away profile by anki_desktop.py, never installed for real):
imports the deck, shows every card side in the real reviewer at each width and theme, measures it
with measure.js and writes one JSON line per card side × width × theme, then quits Anki.

Driven by Qt timers and JS polling (no fixed sleeps): a side is measured once Anki's reviewer has
swapped in the new card, typeset it with MathJax and made it visible (`#qa` opacity back to 1)."""

from __future__ import annotations

import json
import os
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from anki.collection import ImportAnkiPackageOptions, ImportAnkiPackageRequest
from aqt import errors, gui_hooks, mw
from aqt.qt import QTimer
from aqt.theme import Theme

CONFIG = json.loads(Path(os.environ["DLDECK_PROBE"]).read_text(encoding="utf-8"))
OUT = open(CONFIG["out"], "w", encoding="utf-8")  # noqa: SIM115 - closed when Anki quits
MEASURE_JS = Path(CONFIG["measure_js"]).read_text(encoding="utf-8")
POLL_MS = 10
SHOT_DELAY_MS = 600
SIDE_TIMEOUT_S = 30.0
PAGE_TIMEOUT_S = 300.0  # the first reviewer page starts Chromium: slow on a busy machine (120 s ran out)

# Replaces #qa's content with a marker: the side is shown once Anki has replaced it and shown #qa.
MARK = "document.getElementById('qa').innerHTML = '<i id=\"__dldeck_old\"></i>';"
READY = """(() => {
  const qa = document.getElementById('qa');
  if (!qa || document.getElementById('__dldeck_old') || qa.style.opacity !== '1') return null;
  if ([...qa.querySelectorAll('img')].some(i => !i.complete)) return null;
  if (!window.__dldeckMeasure) { MEASURE_JS }
  return 'ready';
})()""".replace("MEASURE_JS", MEASURE_JS)
# Two animation frames after a zoom change, so the layout is the new width's.
MEASURE = """window.__dldeckResult = null;
requestAnimationFrame(() => requestAnimationFrame(() => {
  window.__dldeckResult = JSON.stringify(window.__dldeckMeasure(document.getElementById('qa')));
}));"""


class Probe:
    def __init__(self) -> None:
        self.cards: list = []
        self.slugs: dict[int, str] = {}
        self.queue: list[Callable[[], None]] = []
        self.started = time.monotonic()
        self.finished = False

    # ------------------------------------------------------------------ plumbing

    def web(self):
        return mw.reviewer.web

    def poll(self, js: str, done: Callable[[object], None], what: str, deadline: float | None = None) -> None:
        deadline = deadline or time.monotonic() + SIDE_TIMEOUT_S

        def answer(value: object) -> None:
            if os.environ.get("DLDECK_PROBE_DEBUG"):
                self.write({"log": f"{what}: {str(value)[:80]}", "state": mw.state})
            if value:
                done(value)
            elif time.monotonic() > deadline:
                self.fail(f"timed out waiting for {what}")
            else:
                QTimer.singleShot(POLL_MS, lambda: self.web().evalWithCallback(js, answer))

        self.web().evalWithCallback(js, answer)

    def next(self) -> None:
        if not self.queue:
            self.finish()
            return
        step = self.queue.pop(0)
        QTimer.singleShot(0, lambda: self.guard(step))

    def guard(self, step: Callable[[], None]) -> None:
        try:
            step()
        except Exception:  # the add-on must end Anki, never leave it hanging
            self.fail(traceback.format_exc())

    def write(self, record: dict) -> None:
        OUT.write(json.dumps(record, ensure_ascii=False) + "\n")
        OUT.flush()

    def fail(self, message: str) -> None:
        if self.finished:
            return
        self.write({"error": message})
        self.queue = []
        self.finish()

    def finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        self.write({"done": True, "seconds": round(time.monotonic() - self.started, 1)})
        OUT.close()
        QTimer.singleShot(0, mw.unloadProfileAndExit)
        QTimer.singleShot(20_000, lambda: os._exit(3))  # a dialog at exit must not keep Anki alive

    # ------------------------------------------------------------------ steps

    def start(self) -> None:
        request = ImportAnkiPackageRequest(package_path=CONFIG["deck"], options=ImportAnkiPackageOptions())
        mw.col.import_anki_package(request)
        for cid in mw.col.find_cards(""):
            card = mw.col.get_card(cid)
            note = card.note()
            slug = note.fields[-1]  # the last field of every dldeck note type is its slug
            if CONFIG["slugs"] and slug not in CONFIG["slugs"]:
                continue
            self.cards.append(card)
            self.slugs[card.id] = slug
        self.cards.sort(key=lambda c: (self.slugs[c.id], c.ord))
        self.write({"cards": len(self.cards), "mathjax_bundle": CONFIG.get("bundle_note", "")})
        mw.col.decks.select(self.cards[0].did if self.cards else 1)
        for theme in CONFIG["themes"]:
            self.queue.append(lambda theme=theme: self.open_reviewer(theme))
            for card in self.cards:
                for side in ("q", "a"):
                    self.queue.append(lambda card=card, side=side, theme=theme: self.show(card, side, theme))
        self.next()

    def open_reviewer(self, theme: str) -> None:
        mw.set_theme(Theme.DARK if theme == "dark" else Theme.LIGHT)
        mw.resize(*CONFIG["window"])
        mw.moveToState("review")  # (re)loads the reviewer page in the theme
        # Ready once the reviewer has shown its own first card: ours cannot be overwritten by it then.
        self.poll("typeof _showQuestion === 'function' && !!window.MathJax"
                  " && (document.getElementById('qa') || {style: {}}).style.opacity === '1'",
                  lambda _: self.next(), "the reviewer page", time.monotonic() + PAGE_TIMEOUT_S)

    def show(self, card, side: str, theme: str) -> None:
        def shown(_: object) -> None:
            self.measure_widths(card, side, theme, list(CONFIG["widths"]))

        self.web().eval(MARK)  # queued before the reviewer's own update, so it runs first
        if side == "q":
            mw.reviewer.card = card
            card.start_timer()
            mw.reviewer._showQuestion()
        else:
            mw.reviewer._showAnswer()
        self.poll(READY, shown, f"{self.slugs[card.id]} {side} to show")

    def measure_widths(self, card, side: str, theme: str, widths: list[int]) -> None:
        if not widths:
            self.next()
            return
        width = widths.pop(0)
        web = self.web()
        web.setZoomFactor(web.width() / width)

        def measured(result: object) -> None:
            record = json.loads(str(result))
            slug = self.slugs[card.id]
            record.update(slug=slug, ord=card.ord, side=side, theme=theme, target=width)
            self.write(record)
            if slug not in CONFIG["screenshots"]:
                self.measure_widths(card, side, theme, widths)
                return
            shot = Path(CONFIG["shots"]) / f"anki-{slug}-{card.ord}-{side}-{width}-{theme}.png"

            def grab() -> None:
                web.grab().save(str(shot))
                self.measure_widths(card, side, theme, widths)

            # The widget's picture lags the page by a frame or more after a zoom change.
            QTimer.singleShot(SHOT_DELAY_MS, lambda: self.guard(grab))

        web.eval(MEASURE)
        self.poll("window.__dldeckResult", measured, f"{self.slugs[card.id]} {side} at {width}")


PROBE = Probe()


def _report_instead_of_dialog(handler: errors.ErrorHandler) -> None:
    """Anki shows errors in a modal dialog, which would block a headless run: end the run with it."""
    text, handler.pool = handler.pool, ""
    PROBE.fail("Anki reported an error: " + " | ".join(text.strip().splitlines()[-6:]))


errors.ErrorHandler.onTimeout = _report_instead_of_dialog
QTimer.singleShot(int(CONFIG["timeout"] * 1000),
                  lambda: PROBE.fail(f"no result within {CONFIG['timeout']} s"))
gui_hooks.profile_did_open.append(lambda: QTimer.singleShot(1000, lambda: PROBE.guard(PROBE.start)))
