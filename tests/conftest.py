"""The real content built once per test run for every test that needs it, and what the real clients
measured (notes per check, theme and width) printed at the end of the run."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dldeck import pipeline

ROOT = Path(__file__).resolve().parents[1]
REVIEW = ROOT / "build" / "review"
STARTED = time.time()


@pytest.fixture(scope="session")
def real_build() -> pipeline.BuildResult:
    """The real content in the project's build/, as `make build` leaves it. Verifying it cold costs a
    minute of both cores, so the tests that need it share this build: the build folder's lock makes
    a second xdist worker wait for the first, then find its outputs up to date."""
    return pipeline.build(ROOT / "content", ROOT / "build", project_dir=ROOT)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    files = [p for p in sorted(REVIEW.glob("summary-*.txt")) if p.stat().st_mtime >= STARTED]
    if files:
        terminalreporter.section("real clients: notes shown wrongly (see build/review/)")
        for path in files:
            for line in path.read_text(encoding="utf-8").splitlines():
                terminalreporter.write_line(line)
