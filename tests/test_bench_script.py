"""scripts/bench.py: its measurements leave nothing behind, and its summary states every ratio target
with how far a miss is."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    spec = importlib.util.spec_from_file_location("bench_script", ROOT / "scripts" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_script", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "BENCH", tmp_path / "bench")
    (tmp_path / "bench").mkdir()
    return module


def test_a_measured_program_gets_its_own_temporary_folder_which_is_removed(bench, tmp_path: Path) -> None:
    leaving = ("import os, tempfile; fd, _ = tempfile.mkstemp(); os.close(fd); "
               "print(os.environ['TMPDIR'])")
    run = bench.measure([sys.executable, "-c", leaving], tmp_path)
    private = Path(run.stdout.strip())
    assert private.parent == tmp_path / "bench" and not private.exists()
    assert list((tmp_path / "bench").iterdir()) == []
    assert bench.LEFT_IN_TEMP["dldeck"] == 1  # sys.executable is counted as dldeck's own interpreter
    assert run.seconds > 0 and run.peak_rss_mb > 0


def test_a_failing_program_stops_the_benchmark_with_its_output(bench, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="benchmark command failed"):
        bench.measure([sys.executable, "-c", "raise SystemExit(3)"], tmp_path)
    assert list((tmp_path / "bench").iterdir()) == []


def result(bench, scenario: str, corpus: str, cards: int, seconds: float, rss: float = 100.0):
    return bench.Result(scenario, corpus, cards, seconds, [seconds], rss, rss, 1000 * seconds / cards)


def test_the_summary_states_each_ratio_target_and_the_misses(bench) -> None:
    results = [
        result(bench, "cold build (500 cards)", "500 cards", 500, 10.0),
        result(bench, "one-card edit", "500 cards", 500, 1.0),
        result(bench, "cold build (5000 cards)", "5000 cards", 5000, 50.0, rss=900),
        result(bench, "cold build (20000 cards)", "20000 cards", 20000, 600.0, rss=2000),
        result(bench, "deck only: dldeck", "plain 5000", 5000, 2.0),
        result(bench, "deck only: markdown-anki-decks", "plain 5000", 5000, 20.0),
        result(bench, "deck only: md2anki", "plain 5000", 5000, 6.0),
    ]
    lines = bench.summary_lines(results)
    assert "500 cards: one-card edit / cold build = 0.10" in lines
    assert ("cold build time per card at 20,000 / at 500: 1.50 (target ≤ 1.5)" in lines)
    assert any(line.startswith("peak RSS at 5,000 cards: 900 MB") and "MISSED" not in line for line in lines)
    assert any(line.startswith("peak RSS at 20,000 cards: 2000 MB") and line.endswith("MISSED by 464 MB")
               for line in lines)
    assert "plain 5000: dldeck is 10.00× as fast per card as markdown-anki-decks (target ≥ 5×)" in lines
    assert "plain 5000: dldeck is 3.00× as fast per card as md2anki (target ≥ 5×)  MISSED by 2.00×" in lines


def test_a_peer_that_needs_a_newer_python_finds_one_that_runs_or_none(bench) -> None:
    found = bench._python_at_least((3, 99))
    assert found is None
    assert bench._python_at_least(sys.version_info[:2]) == sys.executable


def test_the_machine_probe_times_the_additions_in_a_fresh_interpreter(bench) -> None:
    """The probe is a positive time that grows with the work asked of it (the host's speed is what it
    reads, so two runs of the benchmark can be compared)."""
    bench.PROBE_ADDITIONS = 10**3
    small = bench.machine_probe()
    bench.PROBE_ADDITIONS = 10**6
    large = bench.machine_probe()
    assert len(small) == len(large) == 3 and 0 < max(small) < min(large)
