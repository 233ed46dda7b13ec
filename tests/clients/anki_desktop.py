"""Run the real Anki desktop (aqt) headless on a built deck and record what its reviewer shows.

    .venv-clients/bin/python tests/clients/anki_desktop.py build/dldeck.apkg build/review/anki.jsonl \
        [--widths 360,1200] [--themes light,dark] [--screenshots slug,…] [--only slug,…]

One Anki process for every card, side, width and theme (start-up is the slow part). Anki starts in
a throw-away profile with the add-on anki_probe_addon.py; under Xvfb (via xvfb-run) when there is no
display. Exit status 0 when the add-on wrote its last line, else 1 with the reason on stderr (Anki is
started a second time only when its first reviewer page did not load: PAGE_STALL).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCREEN = "1400x1000x24"
WINDOW = (720, 900)  # device px; the reviewer's zoom factor sets the CSS width
# Once, on a heavily loaded machine, the first reviewer page (Anki starting its Chromium) did not load
# within the add-on's 300 s, and the same Anki started again worked: that failure, before any card was
# measured, starts Anki once more. Any other failure is the result.
PAGE_STALL = "timed out waiting for the reviewer page"
ATTEMPTS = 2


def make_profile(base: Path) -> None:
    """A profile Anki opens without its first-run language dialog (which would block headless)."""
    from aqt.profiles import ProfileManager

    manager = ProfileManager(base)
    manager.setupMeta()
    manager.setLang("en_US")
    manager.create("test")


def install_addon(base: Path) -> None:
    addon = base / "addons21" / "dldeck_probe"
    addon.mkdir(parents=True)
    shutil.copyfile(HERE / "anki_probe_addon.py", addon / "__init__.py")


def run_anki(base: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    # Anki allows one instance per user name (getpass.getuser()): another Anki running as this user
    # would take our deck and exit ours with "Already running". A name of our own avoids that.
    user = f"dldeck-probe-{os.getpid()}"
    env = dict(os.environ, QTWEBENGINE_CHROMIUM_FLAGS="--no-sandbox", LOGNAME=user, USER=user)
    command = [sys.executable, "-c",
               "import sys, aqt; sys.argv = ['anki', '-b', sys.argv[1], '-p', 'test']; aqt.run()", str(base)]
    if not os.environ.get("DISPLAY"):
        xvfb = shutil.which("xvfb-run")
        if xvfb is None:
            raise SystemExit("no display and no xvfb-run (Debian package xvfb)")
        command = [xvfb, "-a", "-s", f"-screen 0 {SCREEN}", *command]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("deck", type=Path)
    parser.add_argument("out", type=Path, help="JSON lines, one per card side × width × theme")
    parser.add_argument("--widths", default="360,1200")
    parser.add_argument("--themes", default="light,dark")
    parser.add_argument("--screenshots", default="", help="slugs whose sides are saved as PNG beside out")
    parser.add_argument("--only", default="", help="measure only these slugs")
    parser.add_argument("--timeout", type=float, default=480.0)
    args = parser.parse_args(argv)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, ATTEMPTS):
        status, errors = _measure(args)
        if status == 0 or errors != [PAGE_STALL]:
            return status
        print(f"Anki's reviewer page did not load (attempt {attempt}); starting Anki again", file=sys.stderr)
    return _measure(args)[0]


def _measure(args: argparse.Namespace) -> tuple[int, list[str]]:
    """One Anki run: its exit status for main, and the errors the add-on recorded."""
    with tempfile.TemporaryDirectory(prefix="dldeck-anki-") as tmp:
        base = Path(tmp) / "base"
        base.mkdir()
        make_profile(base)
        install_addon(base)
        config = Path(tmp) / "probe.json"
        config.write_text(json.dumps({
            "deck": str(args.deck.resolve()), "out": str(args.out.resolve()),
            "measure_js": str(HERE / "measure.js"), "shots": str(args.out.resolve().parent),
            "widths": [int(w) for w in args.widths.split(",")], "themes": args.themes.split(","),
            "screenshots": [s for s in args.screenshots.split(",") if s],
            "slugs": [s for s in args.only.split(",") if s], "window": list(WINDOW),
            "timeout": max(args.timeout - 30, 10),
        }), encoding="utf-8")
        os.environ["DLDECK_PROBE"] = str(config)
        try:
            done = run_anki(base, args.timeout)
        except subprocess.TimeoutExpired as exc:
            print(f"Anki did not finish within {args.timeout:.0f} s", file=sys.stderr)
            print((exc.stderr or b"")[-3000:].decode("utf-8", "replace") if isinstance(exc.stderr, bytes)
                  else (exc.stderr or "")[-3000:], file=sys.stderr)
            return 1, []
    text = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
    lines = [line for line in text.split("\n") if line]  # not splitlines: U+2028 may sit inside a record
    last = json.loads(lines[-1]) if lines else {}
    errors = [json.loads(line)["error"] for line in lines if line.startswith('{"error"')]
    if not last.get("done") or errors:
        print("Anki probe failed: " + ("; ".join(errors) or "no result"), file=sys.stderr)
        print(done.stderr[-3000:], file=sys.stderr)
        return 1, errors
    return 0, []


if __name__ == "__main__":
    sys.exit(main())
