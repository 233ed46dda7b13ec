"""The built deck in the real Anki desktop and the HTML sheet in real Chromium: every card side at
phone and desktop width, light and night, must not scroll sideways, show a MathJax error or raw TeX,
or miss an image; figure labels must be readable at phone width. Notes known to fail today are listed
in known_offenders.toml, and the list must match the measurement exactly.

The clients live in .venv-clients (`make clients`: aqt, Playwright) with Debian's Xvfb and Chromium.
Where they are missing the tests skip with the reason, except under `make test`
(DLDECK_REQUIRE_CLIENTS=1), where missing clients fail."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from client_checks import differences, offenders, read_records, summary

from dldeck.pipeline import BuildResult

ROOT = Path(__file__).resolve().parents[2]
CLIENTS_PYTHON = Path(os.environ.get("DLDECK_CLIENTS_PYTHON", ROOT / ".venv-clients" / "bin" / "python"))
REVIEW = ROOT / "build" / "review"  # screenshots and measurements, for people to look at
SAMPLE = ("sigmoid-derivative-max", "transposed-conv-output-size", "adam", "conv-1x1-bottleneck-cost",
          "elu-definition-derivative")
HERE = Path(__file__).resolve().parent

pytestmark = pytest.mark.xdist_group("real-clients")  # one worker: each client runs once


def _unavailable(reason: str) -> None:
    if os.environ.get("DLDECK_REQUIRE_CLIENTS") == "1":
        pytest.fail(f"real-client test required here but cannot run: {reason}")
    pytest.skip(reason)


def _clients_python(module: str) -> None:
    if not CLIENTS_PYTHON.exists():
        _unavailable(f"{CLIENTS_PYTHON} missing (`make clients` installs aqt and Playwright there)")
    done = subprocess.run([str(CLIENTS_PYTHON), "-c", f"import {module}"], capture_output=True, check=False)
    if done.returncode != 0:
        _unavailable(f"{module} is not installed in {CLIENTS_PYTHON}")


@pytest.fixture(scope="module")
def built(real_build: BuildResult) -> Path:
    """The folder of the real deck and sheet, as `make build` leaves them."""
    return real_build.outputs[0].parent


def _run(script: str, *args: str, timeout: float) -> None:
    done = subprocess.run([str(CLIENTS_PYTHON), str(HERE / script), *args], capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert done.returncode == 0, f"{script} failed:\n{done.stderr[-4000:]}"


def _measured_once(name: str, measure: Callable[[Path], None]) -> Path:
    """build/review/<name>.jsonl, measured once per test run. The group's tests should share one xdist
    worker, but if two workers ever set this fixture up, each would truncate the file the other is
    writing; a lock, a stamp of the run and a rename rule that out. (A CI run once failed with a JSON
    error reading sheet.jsonl after the first sheet test had passed, which such a race explains.)"""
    REVIEW.mkdir(parents=True, exist_ok=True)
    out, stamp = REVIEW / f"{name}.jsonl", REVIEW / f".{name}.run"
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")
    with (REVIEW / f".{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        fresh = run_id and out.is_file() and stamp.is_file() and stamp.read_text(encoding="utf-8") == run_id
        if not fresh:
            stamp.unlink(missing_ok=True)
            partial = REVIEW / f".{name}.jsonl.partial"
            measure(partial)
            partial.replace(out)
            stamp.write_text(run_id, encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def anki(built: Path) -> tuple[int, list[dict]]:
    _clients_python("aqt")
    if not os.environ.get("DISPLAY") and shutil.which("xvfb-run") is None:
        _unavailable("no display and no xvfb-run (Debian package xvfb)")
    out = _measured_once("anki", lambda to: _run(
        "anki_desktop.py", str(built / "dldeck.apkg"), str(to), "--widths", "360,1200",
        "--themes", "light,dark", "--screenshots", ",".join(SAMPLE), "--timeout", "900", timeout=1860))
    first = out.read_text(encoding="utf-8").splitlines()[0]
    cards = int(first.split('"cards": ')[1].split(",")[0])
    return cards, read_records(out)


@pytest.fixture(scope="module")
def sheet(built: Path) -> list[dict]:
    _clients_python("playwright")
    chromium = os.environ.get("DLDECK_CHROMIUM", "/usr/bin/chromium")
    if not Path(chromium).exists():
        _unavailable(f"{chromium} missing (Debian package chromium)")
    out = _measured_once("sheet", lambda to: _run(
        "sheet_chromium.py", str(built / "cheatsheet.html"), str(to), "--widths", "360,1280",
        "--schemes", "light,dark", "--screenshots", ",".join(SAMPLE), timeout=300))
    return read_records(out)


def _write_summary(name: str, lines: list[str]) -> None:
    REVIEW.mkdir(parents=True, exist_ok=True)
    (REVIEW / f"summary-{name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- Anki desktop


def test_anki_desktop_shows_every_card_side_at_each_width_in_light_and_night(anki: tuple[int, list[dict]]
                                                                              ) -> None:
    cards, records = anki
    assert cards >= 300
    seen = {(r["slug"], r["ord"], r["side"], r["theme"], r["target"]) for r in records}
    assert len(seen) == len(records) == cards * 2 * 2 * 2
    assert all(r["innerWidth"] == r["target"] for r in records), "the reviewer is not at the width asked for"
    assert all(r["mathjax"] for r in records), "Anki's MathJax did not load"
    backgrounds = {theme: {r["background"] for r in records if r["theme"] == theme}
                   for theme in ("light", "dark")}
    assert backgrounds["light"] == {"rgb(255, 255, 255)"}
    assert backgrounds["dark"] and not backgrounds["dark"] & backgrounds["light"], "night mode not applied"
    for slug in SAMPLE:
        assert (REVIEW / f"anki-{slug}-0-a-360-dark.png").stat().st_size > 1000


def test_anki_desktop_offends_exactly_where_known_offenders_says(anki: tuple[int, list[dict]],
                                                                 built: Path) -> None:
    measured = offenders(anki[1], built / "figures")
    _write_summary("anki", summary("anki", measured))
    problems = differences("anki", measured)
    assert not problems, "\n".join(problems)


def test_anki_runs_the_mathjax_the_formula_check_runs() -> None:
    _clients_python("aqt")
    where = "import _aqt, pathlib; print(pathlib.Path(_aqt.__path__[0]) / 'data' / 'web' / 'js')"
    found = subprocess.run([str(CLIENTS_PYTHON), "-c", where], capture_output=True, text=True, check=True)
    js = Path(found.stdout.strip())
    ours = ROOT / "tools" / "mathjax" / "node_modules" / "mathjax-full" / "es5" / "tex-chtml-full.js"
    if not ours.exists():
        _unavailable("tools/mathjax is not installed (`make mathjax`)")
    theirs = js / "vendor" / "mathjax" / "tex-chtml-full.js"
    assert hashlib.sha256(theirs.read_bytes()).hexdigest() == hashlib.sha256(ours.read_bytes()).hexdigest()
    config = (js / "mathjax.js").read_text(encoding="utf-8")
    script = (ROOT / "src" / "dldeck" / "mathengines" / "anki_mathjax.cjs").read_text(encoding="utf-8")
    for setting in ('packages=["noerrors","mathtools"]', '"[-]":["textmacros"]', "processEscapes:!1",
                    "processEnvironments:!1", "processRefs:!1", 'displayMath:[["\\\\[","\\\\]"]]'):
        assert setting in config, f"Anki's MathJax settings changed: {setting} is gone"
    for setting in ('["noerrors", "mathtools"]', '"[-]": ["textmacros"]', "processEscapes: false",
                    "processEnvironments: false", "processRefs: false"):
        assert setting in script


# --------------------------------------------------------------------------- the HTML sheet in Chromium


def test_sheet_in_chromium_measures_every_card_at_each_width_and_scheme(sheet: list[dict]) -> None:
    slugs = {r["slug"] for r in sheet}
    assert len(slugs) >= 300 and len(sheet) == len(slugs) * 2 * 2
    assert all(r["innerWidth"] == r["target"] for r in sheet)
    dark = {r["background"] for r in sheet if r["theme"] == "dark"}
    assert dark and "rgb(255, 255, 255)" not in dark
    for slug in SAMPLE:
        assert (REVIEW / f"sheet-{slug}-360-light.png").stat().st_size > 1000


def test_sheet_in_chromium_offends_exactly_where_known_offenders_says(sheet: list[dict]) -> None:
    measured = offenders(sheet, None)
    _write_summary("sheet", summary("sheet", measured))
    problems = differences("sheet", measured)
    assert not problems, "\n".join(problems)
