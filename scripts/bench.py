#!/usr/bin/env python3
"""Build speed and memory, measured as a user feels them: whole processes, wall time, peak RSS.

Scenarios (median of --runs runs after one warm-up): cold build, no-op rebuild and a one-card
edit, on the real content and on generated corpora of 500 and 5,000 cards that carry checks and
figures in the same proportion as the real content. Side by side, the same generated corpus
without checks or figures goes through dldeck (deck only) and through `markdown-anki-decks`
from PyPI (installed into its own venv, `build/bench/mad-venv`). Prints a table and writes
`build/bench.json`. Peak RSS is the largest sum of resident memory over the build's whole
process tree (worker processes included), sampled every 10 ms from /proc.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "build" / "bench"
DLDECK = [sys.executable, "-m", "dldeck.cli"]
CLAIM_TIMEOUT = "30"  # generous: a claim that times out on a busy machine would fail the build
PEER = ["markdown-anki-decks==1.1.1", "click<8.2"]  # its typer 0.4 breaks on click 8.2's flag parsing
TARGETS = {
    "no-op rebuild": 0.5,
    "one-card edit": 1.5,
    "cold build (real content)": 15.0,
    "cold build (5000 cards)": 60.0,
}


# --------------------------------------------------------------------------- measuring


def _descendants(root_pid: int) -> list[int]:
    """The process and all its descendants, from /proc/<pid>/task/*/children (no full /proc scan)."""
    found, stack = [], [root_pid]
    while stack:
        pid = stack.pop()
        found.append(pid)
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as handle:
                    stack.extend(int(child) for child in handle.read().split())
            except OSError:
                continue
    return found


def _memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process; PSS shares copy-on-write pages out among the forked workers."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return 0, 0
    rss = re.search(r"^Rss:\s+(\d+)", text, re.M)
    pss = re.search(r"^Pss:\s+(\d+)", text, re.M)
    return (int(rss.group(1)) if rss else 0), (int(pss.group(1)) if pss else 0)


def _tree_memory_kib(root_pid: int) -> tuple[int, int]:
    """Sums of RSS and of PSS over a process tree."""
    rss = pss = 0
    for pid in _descendants(root_pid):
        one_rss, one_pss = _memory_kib(pid)
        rss += one_rss
        pss += one_pss
    return rss, pss


@dataclass
class Run:
    seconds: float
    peak_rss_mb: float
    peak_pss_mb: float
    stdout: str


def measure(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> Run:
    """Run one whole process; sample its tree's memory every 10 ms until it exits."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=err)
        peak_rss = peak_pss = 0
        while process.poll() is None:
            rss, pss = _tree_memory_kib(process.pid)
            peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
            time.sleep(0.01)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if process.returncode != 0:
        raise SystemExit(f"benchmark command failed ({process.returncode}): {' '.join(command)}\n"
                         f"{stdout}\n{stderr}")
    return Run(seconds, peak_rss / 1024, peak_pss / 1024, stdout)


@dataclass
class Result:
    scenario: str
    corpus: str
    cards: int
    median_s: float
    runs_s: list[float]
    peak_rss_mb: float
    peak_pss_mb: float
    per_card_ms: float
    target_s: float | None = None


def repeat(name: str, corpus: str, cards: int, runs: int, prepare, command: list[str], cwd: Path,
           expect: str = "") -> Result:
    """Median of `runs` measured runs after one warm-up; `expect` is text every run must print."""
    prepare()
    measure(command, cwd)  # warm-up: file caches, .pyc files
    samples = []
    for _ in range(runs):
        prepare()
        run = measure(command, cwd)
        if expect and expect not in run.stdout:
            raise SystemExit(f"{name} ({corpus}): expected {expect!r} in the output, got:\n{run.stdout}")
        samples.append(run)
    seconds = [s.seconds for s in samples]
    median = statistics.median(seconds)
    return Result(name, corpus, cards, median, seconds, max(s.peak_rss_mb for s in samples),
                  max(s.peak_pss_mb for s in samples), 1000 * median / max(cards, 1))


# --------------------------------------------------------------------------- corpora


def real_proportions() -> tuple[int, float, float]:
    """Cards, check blocks per card and figures per card of the real content."""
    sys.path.insert(0, str(ROOT / "src"))
    from dldeck.source import read_collection

    cards = read_collection(ROOT / "content").cards
    n = max(len(cards), 1)
    return len(cards), sum(len(c.checks) for c in cards) / n, sum(len(c.figures) for c in cards) / n


def generate_corpus(target: Path, cards: int, checks_per_card: float, figures_per_card: float) -> None:
    """Cards shaped like the real ones: Chinese text, inline and display math, checks, figures."""
    if target.exists():
        shutil.rmtree(target)
    per_file = 50
    for start in range(0, cards, per_file):
        deck = start // 500
        lines = [f"---\ndeck: 基准::第{deck}组\ntags: [bench]\n---\n", f"# 第 {start // per_file} 节\n"]
        for i in range(start, min(start + per_file, cards)):
            k = i % 17 + 2
            c, n = i % 13 + 1, i % 29 + 4
            lines.append(f"## 第 {i} 题：缩放 sigmoid ${k}\\sigma(x)$ 的导数是什么？ {{#gen-{i}}}\n")
            lines.append(f"导数为 ${k}\\,\\sigma(x)\\bigl(1-\\sigma(x)\\bigr)$，"
                         f"最大值是 $\\tfrac{{{k}}}{{4}}$。\n")
            lines.append(f"$$\\frac{{d}}{{dx}}\\,{k}\\sigma(x) = {k}\\sigma(x)(1-\\sigma(x))$$\n")
            if int((i + 1) * checks_per_card) > int(i * checks_per_card):
                lines.append("```check\nsigma(x) := 1/(1 + exp(-x))\n"
                             f"diff({k}*sigma(x), x) == {k}*sigma(x)*(1 - sigma(x))\n"
                             f"params(Conv2d({c}, {n}, 3)) == {c * n * 9 + n}\n```\n")
            if int((i + 1) * figures_per_card) > int(i * figures_per_card):
                lines.append(f"```figure\nplot: ['{k}/(1 + exp(-x))']\nx: [-{k}, {k}]\n```\n")
            lines.append("::: extra\n补充说明：链式法则给出常数倍的导数。\n:::\n")
        path = target / f"{start // per_file:04d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines), encoding="utf-8")


def generate_plain_corpus(target: Path, cards: int) -> None:
    """The same cards without checks or figures, in a form both tools read (h2 question, answer)."""
    generate_corpus(target, cards, 0.0, 0.0)


# --------------------------------------------------------------------------- scenarios


def project(name: str, content_from: Path | None, generate=None) -> Path:
    """A throw-away project folder (content/ + build/) so benchmarks never touch the real build."""
    folder = BENCH / name
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "build").mkdir(parents=True)
    if content_from is not None:
        shutil.copytree(content_from, folder / "content")
    else:
        generate(folder / "content")
    return folder


def dldeck_scenarios(label: str, folder: Path, cards: int, runs: int, extra: list[str]) -> list[Result]:
    command = [*DLDECK, "build", "--content", "content", "--build-dir", "build", "--timeout", CLAIM_TIMEOUT,
               *extra]
    content = folder / "content"
    manifest = content / ".dldeck-manifest.json"
    first = sorted(p for p in content.rglob("*.md") if not p.name.startswith("_"))[0]
    original = first.read_text(encoding="utf-8")
    counter = {"n": 0}

    def cold() -> None:
        shutil.rmtree(folder / "build", ignore_errors=True)
        manifest.unlink(missing_ok=True)

    def nothing() -> None:
        return None

    def edit() -> None:
        counter["n"] += 1
        # a new paragraph under the first card's heading: every later line of the file moves down
        edited = re.sub(r"(\n## [^\n]*\n\n)", rf"\1（修订 {counter['n']}）\n\n", original, count=1)
        assert edited != original
        first.write_text(edited, encoding="utf-8")

    results = [repeat(f"cold build ({label})", label, cards, runs, cold, command, folder)]
    measure(command, folder)
    results.append(repeat("no-op rebuild", label, cards, runs, nothing, command, folder, expect="up to date"))
    results.append(repeat("one-card edit", label, cards, runs, edit, command, folder, expect="wrote"))
    first.write_text(original, encoding="utf-8")
    return results


def markdown_anki_decks_command() -> list[str]:
    venv = BENCH / "mad-venv"
    binary = venv / "bin" / "mdankideck"
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        done = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", *PEER], capture_output=True,
                              text=True)
        if done.returncode != 0:
            raise SystemExit(f"cannot install {' '.join(PEER)}:\n{done.stdout}{done.stderr}")
    return [str(binary)]


def comparison(cards: int, runs: int) -> list[Result]:
    folder = project(f"plain-{cards}", None, lambda target: generate_plain_corpus(target, cards))
    ours_cmd = [*DLDECK, "build", "--content", "content", "--build-dir", "build", "--only", "anki",
                "--timeout", CLAIM_TIMEOUT]

    def cold() -> None:
        shutil.rmtree(folder / "build", ignore_errors=True)
        (folder / "build").mkdir()
        (folder / "content" / ".dldeck-manifest.json").unlink(missing_ok=True)

    ours = repeat("deck only: dldeck", f"plain {cards}", cards, runs, cold, ours_cmd, folder)
    theirs_cmd = [*markdown_anki_decks_command(), "content", "build"]
    theirs = repeat("deck only: markdown-anki-decks", f"plain {cards}", cards, runs, cold, theirs_cmd, folder)
    return [ours, theirs]


@click.command()
@click.option("--runs", default=3, show_default=True, help="Measured runs per scenario (after one warm-up).")
@click.option("--sizes", default="500,5000", show_default=True, help="Generated corpus sizes.")
@click.option("--skip-peer", is_flag=True, help="Do not install and run markdown-anki-decks.")
def main(runs: int, sizes: str, skip_peer: bool) -> None:
    BENCH.mkdir(parents=True, exist_ok=True)
    real_cards, checks_per_card, figures_per_card = real_proportions()
    results: list[Result] = []
    folder = project("real", ROOT / "content")
    results += dldeck_scenarios("real content", folder, real_cards, runs, [])
    per_size: dict[int, Result] = {}
    for size in [int(s) for s in sizes.split(",") if s]:
        folder = project(f"gen-{size}", None,
                         lambda target, n=size: generate_corpus(target, n, checks_per_card, figures_per_card))
        scenario = dldeck_scenarios(f"{size} cards", folder, size, runs, [])
        per_size[size] = scenario[0]
        results += scenario
        if not skip_peer:
            results += comparison(size, runs)
    for result in results:
        key = result.scenario if result.scenario in TARGETS else None
        if result.scenario.startswith("cold build (5000"):
            key = "cold build (5000 cards)"
        if key and (result.corpus == "real content" or key.startswith("cold build (5000")):
            result.target_s = TARGETS[key]
    _print(results, per_size, checks_per_card, figures_per_card)
    out = ROOT / "build" / "bench.json"
    out.write_text(json.dumps({"results": [asdict(r) for r in results],
                               "summary": summary_lines(results, per_size),
                               "cores": os.cpu_count(),
                               "proportions": {"checks_per_card": checks_per_card,
                                               "figures_per_card": figures_per_card}},
                              indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}")


def _print(results: list[Result], per_size: dict[int, Result], checks: float, figures: float) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"dldeck build benchmark (checks/card {checks:.2f}, figures/card {figures:.2f}, "
                        f"{os.cpu_count()} cores)")
    columns = ("scenario", "corpus", "cards", "median s", "runs s", "ms/card", "peak RSS MB", "peak PSS MB",
               "target")
    for column in columns:
        table.add_column(column)
    for r in results:
        verdict = ""
        if r.target_s is not None:
            verdict = (f"≤ {r.target_s:g} s ok" if r.median_s <= r.target_s
                       else f"MISSED by {r.median_s - r.target_s:.2f} s ({r.median_s / r.target_s:.1f}×)")
        table.add_row(r.scenario, r.corpus, str(r.cards), f"{r.median_s:.2f}",
                      " ".join(f"{x:.2f}" for x in r.runs_s), f"{r.per_card_ms:.2f}", f"{r.peak_rss_mb:.0f}",
                      f"{r.peak_pss_mb:.0f}", verdict)
    console = Console(width=160)
    console.print(table)
    for line in summary_lines(results, per_size):
        console.print(line, markup=False)


def summary_lines(results: list[Result], per_size: dict[int, Result]) -> list[str]:
    """The targets that are ratios or sizes, each with how far off it is when missed."""
    lines = []
    if 500 in per_size and 5000 in per_size:
        ratio = per_size[5000].per_card_ms / per_size[500].per_card_ms
        lines.append(f"cold build time per card at 5,000 / at 500: {ratio:.2f} (target ≤ 1.5)"
                     + ("" if ratio <= 1.5 else f"  MISSED by {ratio - 1.5:.2f} ({ratio / 1.5:.2f}×)"))
        rss = max(r.peak_rss_mb for r in results if r.corpus == "5000 cards")
        pss = max(r.peak_pss_mb for r in results if r.corpus == "5000 cards")
        lines.append(f"peak RSS at 5,000 cards: {rss:.0f} MB, summed over the process tree; PSS {pss:.0f} MB "
                     "(target ≤ 1024)" + ("" if rss <= 1024 else f"  MISSED by {rss - 1024:.0f} MB"))
    by_corpus: dict[str, dict[str, Result]] = {}
    for r in results:
        if r.scenario.startswith("deck only"):
            by_corpus.setdefault(r.corpus, {})[r.scenario] = r
    for corpus, pair in by_corpus.items():
        ours, theirs = pair.get("deck only: dldeck"), pair.get("deck only: markdown-anki-decks")
        if ours and theirs:
            speedup = theirs.per_card_ms / ours.per_card_ms
            lines.append(f"{corpus}: dldeck is {speedup:.2f}× as fast per card as markdown-anki-decks "
                         "(target ≥ 5×)" + ("" if speedup >= 5 else f"  MISSED by {5 - speedup:.2f}×"))
    return lines


if __name__ == "__main__":
    main()
