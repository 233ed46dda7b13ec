"""Anki's own MathJax over every formula: what a learner sees is what Anki's reviewer renders, and
KaTeX accepts things Anki 26.x's MathJax shows raw (`\\text{a\\_b}` keeps its backslash there).

Anki 26.x ships MathJax 3.2.2's `tex-chtml-full.js`; the npm package `mathjax-full@3.2.2` holds the
same file byte for byte, so Node.js runs it here with Anki's settings (see `anki_mathjax.cjs`) and no
Qt. `make` installs the package into `tools/mathjax/`; without Node.js or the package the check is
skipped with a one-line note, never silently.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ANKI_MATHJAX_VERSION = "3.2.2"  # the MathJax inside aqt 26.x (aqt/data/web/js/vendor/mathjax)
SCRIPT = Path(__file__).with_name("anki_mathjax.cjs")
ENVIRONMENT_VARIABLE = "DLDECK_MATHJAX"  # a mathjax-full package folder, instead of tools/mathjax
TIME_LIMIT = 120.0  # seconds for one batch; ~1,000 formulas take about 2 s


@dataclass(frozen=True)
class MathJax:
    node: str
    bundle: Path  # <mathjax-full>/es5/tex-chtml-full.js


class MathJaxUnavailable(RuntimeError):
    """Why the check cannot run here (no Node.js, no package, another version, a crash)."""


def _candidates() -> list[Path]:
    configured = os.environ.get(ENVIRONMENT_VARIABLE)
    if configured:
        return [Path(configured)]
    relative = Path("tools") / "mathjax" / "node_modules" / "mathjax-full"
    checkout = Path(__file__).resolve().parents[3]  # the source checkout of an editable install
    return [checkout / relative, Path.cwd() / relative]


@functools.cache
def locate() -> MathJax | str:
    """The Node.js executable and the bundle, or a one-line reason why the check cannot run."""
    node = shutil.which("node")
    if node is None:
        return "Node.js (`node`) is not installed"
    for package in _candidates():
        try:
            meta = json.loads((package / "package.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        version = meta.get("version") if isinstance(meta, dict) else None
        if version != ANKI_MATHJAX_VERSION:
            return f"{package} is mathjax-full {version}, Anki runs {ANKI_MATHJAX_VERSION}"
        bundle = package / "es5" / "tex-chtml-full.js"
        if bundle.is_file():
            return MathJax(node, bundle)
    return f"mathjax-full {ANKI_MATHJAX_VERSION} is not installed (`make mathjax` puts it in tools/mathjax)"


def version_tag() -> str:
    """Part of the formula cache key: a formula passed without MathJax is checked again once it is here."""
    return f"anki-mathjax-{ANKI_MATHJAX_VERSION}" if isinstance(locate(), MathJax) else "anki-mathjax-none"


def check(formulas: Sequence[tuple[str, bool]]) -> list[str | None]:
    """Per (tex, display): None when Anki's MathJax renders it, else what the learner would see instead.

    Raises MathJaxUnavailable when the check cannot run; callers turn that into a note.
    """
    found = locate()
    if isinstance(found, str):
        raise MathJaxUnavailable(found)
    if not formulas:
        return []
    payload = json.dumps([[tex, display] for tex, display in formulas])
    try:
        done = subprocess.run([found.node, str(SCRIPT), str(found.bundle)], input=payload, text=True,
                              capture_output=True, timeout=TIME_LIMIT, check=False)
    except subprocess.TimeoutExpired as exc:
        raise MathJaxUnavailable(f"MathJax took over {TIME_LIMIT:.0f} s") from exc
    except OSError as exc:
        raise MathJaxUnavailable(f"cannot run {found.node}: {exc}") from exc
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise MathJaxUnavailable(f"MathJax failed: {last[:200]}")
    try:
        result = json.loads(done.stdout)
        problems = result["problems"]
    except (ValueError, KeyError, TypeError) as exc:
        raise MathJaxUnavailable("MathJax wrote no result") from exc
    if result.get("version") != ANKI_MATHJAX_VERSION or len(problems) != len(formulas):
        raise MathJaxUnavailable(f"MathJax {result.get('version')} answered {len(problems)} of "
                                 f"{len(formulas)} formulas")
    return [problem if isinstance(problem, str) else None for problem in problems]
