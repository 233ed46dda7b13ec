#!/usr/bin/env python3
"""Build speed and memory, measured as a user feels them: whole processes, wall time, peak RSS.

Scenarios (median of --runs runs after one warm-up; one run, no warm-up, for corpora over 5,000
cards): cold build, no-op rebuild and a one-card edit, on the real content and on generated
corpora (default 500, 5,000 and 20,000 cards) that carry checks and figures in the same proportion
as the real content. Side by side, the same generated corpus without checks or figures goes
through dldeck (deck only) and through two peers from PyPI, each in its own venv under
`build/bench/`: `markdown-anki-decks` and `md2anki` (which needs Python >= 3.12: the first
python3.12+ found on PATH or under ~/.pyenv; without one it is skipped, saying so).

Every measured process gets a temporary folder of its own under `build/bench/` (TMPDIR), removed
afterwards, so the run leaves nothing in the system's temporary folder; the summary counts what
each program left there (genanki, which both peers use, never deletes its temporary collection).
Generated corpora are removed once measured. Prints a table and the targets that are ratios, and
writes `build/bench.json`. Peak RSS is the largest sum of resident memory over the build's whole
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
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "build" / "bench"
DLDECK = [sys.executable, "-m", "dldeck.cli"]
CLAIM_TIMEOUT = "30"  # generous: a claim that times out on a busy machine would fail the build
TICK, PSS_EVERY = 0.02, 10  # memory sampling: RSS every tick, PSS every 10th
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
LARGE = 5000  # corpora above this many cards are measured once, without a warm-up


@dataclass(frozen=True)
class Peer:
    name: str
    requirements: tuple[str, ...]
    binary: str
    python_at_least: tuple[int, int] = (3, 0)

    def command(self, inputs: list[str], output: str) -> list[str]:
        venv = BENCH / f"{self.name}-venv"
        if self.name == "markdown-anki-decks":
            return [str(venv / "bin" / self.binary), "content", output]
        return [str(venv / "bin" / self.binary), *inputs, "-o-anki", f"{output}/deck.apkg", "-d", "ERROR"]


PEERS = (
    # its typer 0.4 breaks on click 8.2's flag parsing
    Peer("markdown-anki-decks", ("markdown-anki-decks==1.1.1", "click<8.2"), "mdankideck"),
    Peer("md2anki", ("md2anki==3.1.0",), "md2anki", (3, 12)),
)
# Targets in seconds by (scenario, corpus); None for a corpus means every corpus of that scenario.
TARGETS = {
    ("no-op rebuild", "real content"): 0.5,
    ("one-card edit", "real content"): 1.5,
    ("one-card edit", "5000 cards"): 2.0,
    ("one-card edit", "20000 cards"): 4.0,
    ("cold build (real content)", "real content"): 15.0,
    ("cold build (5000 cards)", "5000 cards"): 60.0,
    ("cold build (20000 cards)", "20000 cards"): 180.0,
}
MEMORY_TARGETS_MB = {5000: 1024, 20000: 1536}


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


def _rss_kib(pid: int) -> int:
    """RSS of one process from /proc/<pid>/statm: cheap enough to read every tick."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * PAGE_KIB
    except (OSError, ValueError, IndexError):
        return 0


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


def _tree_memory_kib(root_pid: int, with_pss: bool = True) -> tuple[int, int]:
    """Sums of RSS and of PSS (0 unless `with_pss`) over a process tree."""
    rss = pss = 0
    for pid in _descendants(root_pid):
        if with_pss:
            one_rss, one_pss = _memory_kib(pid)
        else:
            one_rss, one_pss = _rss_kib(pid), 0
        rss += one_rss
        pss += one_pss
    return rss, pss


@dataclass
class Run:
    seconds: float
    peak_rss_mb: float
    peak_pss_mb: float
    stdout: str


LEFT_IN_TEMP: Counter[str] = Counter()  # files a measured program left in its temporary folder


def measure(command: list[str], cwd: Path) -> Run:
    """Run one whole process with a temporary folder of its own; sample its tree's RSS every 20 ms and
    PSS every 200 ms (reading smaps_rollup walks the page tables: every 10 ms it took most of a core
    from the measured build on 2 cores, inflating its wall time by about a fifth)."""
    private_tmp = Path(tempfile.mkdtemp(prefix="tmp-", dir=BENCH))
    env = {**os.environ, "TMPDIR": str(private_tmp), "TEMP": str(private_tmp), "TMP": str(private_tmp)}
    try:
        with (private_tmp / ".stdout").open("w+b") as out, (private_tmp / ".stderr").open("w+b") as err:
            start = time.perf_counter()
            process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=err)
            peak_rss = peak_pss = 0
            tick = 0
            while process.poll() is None:
                rss, pss = _tree_memory_kib(process.pid, with_pss=tick % PSS_EVERY == 0)
                peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
                tick += 1
                time.sleep(TICK)
            seconds = time.perf_counter() - start
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
        left = [p.name for p in private_tmp.iterdir() if p.name not in (".stdout", ".stderr")]
        if left:
            LEFT_IN_TEMP[Path(command[0]).name if command[0] != sys.executable else "dldeck"] += len(left)
    finally:
        shutil.rmtree(private_tmp, ignore_errors=True)
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
    """Median of `runs` measured runs after one warm-up (none for a large corpus, measured once);
    `expect` is text every run must print."""
    large = cards > LARGE
    print(f"  {name if corpus in name else f'{name} ({corpus})'} …", file=sys.stderr, flush=True)
    if not large:
        prepare()
        measure(command, cwd)  # warm-up: file caches, .pyc files
    samples = []
    for _ in range(1 if large else runs):
        prepare()
        run = measure(command, cwd)
        if expect and expect not in run.stdout:
            raise SystemExit(f"{name} ({corpus}): expected {expect!r} in the output, got:\n{run.stdout}")
        samples.append(run)
    seconds = [s.seconds for s in samples]
    median = statistics.median(seconds)
    return Result(name, corpus, cards, median, seconds, max(s.peak_rss_mb for s in samples),
                  max(s.peak_pss_mb for s in samples), 1000 * median / max(cards, 1),
                  TARGETS.get((name, corpus)))


# --------------------------------------------------------------------------- corpora


PROBE_ADDITIONS = 10**7


def machine_probe() -> list[float]:
    """Seconds for 10^7 Python additions in a fresh interpreter, three times: the same code takes
    0.9 s on this machine at its fastest and up to 1.7 s when its host is busy, from one second to the
    next, and every figure of a run moves with it. Taken at the start and end of a run and printed as
    a range, so a slow host shows; the peers, measured beside dldeck in the same run, are the steadier
    yardstick (their ratio to dldeck is what the targets compare)."""
    loop = (f"import time\nt=time.perf_counter()\ns=0\nfor i in range({PROBE_ADDITIONS}): s+=i\n"
            "print(time.perf_counter()-t)")
    return [float(subprocess.run([sys.executable, "-c", loop], capture_output=True, text=True,
                                 check=True).stdout) for _ in range(3)]


def real_proportions() -> tuple[int, float, float]:
    """Cards, check blocks per card and figures per card of the real content."""
    sys.path.insert(0, str(ROOT / "src"))
    from dldeck.source import read_collection

    cards = read_collection(ROOT / "content").cards
    n = max(len(cards), 1)
    return len(cards), sum(len(c.checks) for c in cards) / n, sum(len(c.figures) for c in cards) / n


def generate_corpus(target: Path, cards: int, checks_per_card: float, figures_per_card: float) -> None:
    """Cards shaped like the real ones: Chinese text, inline and display math, checks, figures. Each
    card also claims something of its own (`i+1=…`), as real cards do: cards that claim the same are
    verified once, so a corpus of repeated cards would measure that sharing, not verification."""
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
                         f"最大值是 $\\tfrac{{{k}}}{{4}}$；本题序号满足 ${i}+1={i + 1}$。\n")
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
    if cards > LARGE:
        measure(command, folder)
    results.append(repeat("no-op rebuild", label, cards, runs, nothing, command, folder, expect="up to date"))
    results.append(repeat("one-card edit", label, cards, runs, edit, command, folder, expect="wrote"))
    first.write_text(original, encoding="utf-8")
    return results


def _python_at_least(version: tuple[int, int]) -> str | None:
    """An interpreter of at least `version` that runs: this one, one on PATH, or one under ~/.pyenv
    (pyenv's shims are on PATH even for versions that are not selected, and then fail)."""
    if sys.version_info[:2] >= version:
        return sys.executable
    candidates = [shutil.which(f"python3.{minor}") for minor in range(version[1], 20)]
    pyenv = Path.home() / ".pyenv" / "versions"
    if pyenv.is_dir():
        candidates += [str(p / "bin" / "python") for p in sorted(pyenv.iterdir(), reverse=True)
                       if re.fullmatch(r"3\.(\d+)\.\d+", p.name)
                       and int(p.name.split(".")[1]) >= version[1]]
    check = f"import sys; sys.exit(sys.version_info[:2] < {version!r})"
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", check], capture_output=True).returncode == 0:
            return candidate
    return None


def install_peer(peer: Peer) -> str | None:
    """Install a peer into its own venv once; None (with the reason printed) when it cannot run here."""
    venv = BENCH / f"{peer.name}-venv"
    if (venv / "bin" / peer.binary).exists():
        return None
    python = _python_at_least(peer.python_at_least)
    if python is None:
        wanted = ".".join(map(str, peer.python_at_least))
        return f"{peer.name} skipped: it needs Python ≥ {wanted}, none found"
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    done = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", *peer.requirements],
                          capture_output=True, text=True)
    if done.returncode != 0:
        shutil.rmtree(venv, ignore_errors=True)
        return (f"{peer.name} skipped: cannot install {' '.join(peer.requirements)}:\n"
                f"{done.stdout}{done.stderr}")
    return None


def comparison(cards: int, runs: int, peers: list[Peer]) -> list[Result]:
    """The same plain corpus through dldeck (deck only) and each peer, one after the other."""
    folder = project(f"plain-{cards}", None, lambda target: generate_plain_corpus(target, cards))
    ours_cmd = [*DLDECK, "build", "--content", "content", "--build-dir", "build", "--only", "anki",
                "--timeout", CLAIM_TIMEOUT]

    def cold() -> None:
        shutil.rmtree(folder / "build", ignore_errors=True)
        (folder / "build").mkdir()
        (folder / "content" / ".dldeck-manifest.json").unlink(missing_ok=True)

    results = [repeat("deck only: dldeck", f"plain {cards}", cards, runs, cold, ours_cmd, folder)]
    inputs = sorted(str(p.relative_to(folder)) for p in (folder / "content").glob("*.md"))
    for peer in peers:
        results.append(repeat(f"deck only: {peer.name}", f"plain {cards}", cards, runs, cold,
                              peer.command(inputs, "build"), folder))
    shutil.rmtree(folder, ignore_errors=True)
    return results


@click.command()
@click.option("--runs", default=3, show_default=True,
              help=f"Measured runs per scenario (after one warm-up); corpora over {LARGE:,} cards run once.")
@click.option("--sizes", default="500,5000,20000", show_default=True, help="Generated corpus sizes.")
@click.option("--peer-sizes", default="500,5000", show_default=True,
              help="Sizes at which the deck-only comparison with the peers runs.")
@click.option("--skip-peer", is_flag=True, help="Do not install and run the peers.")
def main(runs: int, sizes: str, peer_sizes: str, skip_peer: bool) -> None:
    BENCH.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    peers: list[Peer] = []
    if not skip_peer:
        for peer in PEERS:
            problem = install_peer(peer)
            if problem:
                notes.append(problem)
                print(problem, file=sys.stderr)
            else:
                peers.append(peer)
    probes = machine_probe()
    print(f"machine probe: {min(probes):.2f}–{max(probes):.2f} s for 10^7 Python additions", file=sys.stderr)
    real_cards, checks_per_card, figures_per_card = real_proportions()
    results: list[Result] = []
    print("real content", file=sys.stderr)
    folder = project("real", ROOT / "content")
    results += dldeck_scenarios("real content", folder, real_cards, runs, [])
    shutil.rmtree(folder, ignore_errors=True)
    wanted_peers = {int(s) for s in peer_sizes.split(",") if s}
    for size in [int(s) for s in sizes.split(",") if s]:
        print(f"{size:,} generated cards", file=sys.stderr)
        folder = project(f"gen-{size}", None,
                         lambda target, n=size: generate_corpus(target, n, checks_per_card, figures_per_card))
        results += dldeck_scenarios(f"{size} cards", folder, size, runs, [])
        shutil.rmtree(folder, ignore_errors=True)
        if peers and size in wanted_peers:
            results += comparison(size, runs, peers)
    left = ", ".join(f"{name} {count}" for name, count in sorted(LEFT_IN_TEMP.items())) or "none"
    notes.append(f"files the measured programs left in their temporary folders (removed with them): {left}")
    start, end = probes, machine_probe()
    probes = start + end
    notes.append(f"machine probe (10^7 Python additions, 3 times): {min(start):.2f}–{max(start):.2f} s at "
                 f"the start, {min(end):.2f}–{max(end):.2f} s at the end")
    lines = summary_lines(results) + notes
    _print(results, lines, checks_per_card, figures_per_card)
    out = ROOT / "build" / "bench.json"
    out.write_text(json.dumps({"results": [asdict(r) for r in results],
                               "summary": lines,
                               "cores": os.cpu_count(),
                               "probe_s": probes,
                               "proportions": {"checks_per_card": checks_per_card,
                                               "figures_per_card": figures_per_card}},
                              indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}")


def _print(results: list[Result], lines: list[str], checks: float, figures: float) -> None:
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
    for line in lines:
        console.print(line, markup=False)


def _verdict(ok: bool, missed: str) -> str:
    return "" if ok else f"  MISSED by {missed}"


def summary_lines(results: list[Result]) -> list[str]:
    """The targets that are ratios or sizes, each with how far off it is when missed."""
    lines = []
    cold = {r.corpus: r for r in results if r.scenario.startswith("cold build")}
    edits = {r.corpus: r for r in results if r.scenario == "one-card edit"}
    for corpus, edit in edits.items():
        if corpus in cold:
            share = edit.median_s / cold[corpus].median_s
            lines.append(f"{corpus}: one-card edit / cold build = {share:.2f}")
    if "500 cards" in cold and "20000 cards" in cold:
        ratio = cold["20000 cards"].per_card_ms / cold["500 cards"].per_card_ms
        lines.append(f"cold build time per card at 20,000 / at 500: {ratio:.2f} (target ≤ 1.5)"
                     + _verdict(ratio <= 1.5, f"{ratio - 1.5:.2f} ({ratio / 1.5:.2f}×)"))
    for size, limit in MEMORY_TARGETS_MB.items():
        runs = [r for r in results if r.corpus == f"{size} cards"]
        if runs:
            rss = max(r.peak_rss_mb for r in runs)
            pss = max(r.peak_pss_mb for r in runs)
            lines.append(f"peak RSS at {size:,} cards: {rss:.0f} MB, summed over the process tree; PSS "
                         f"{pss:.0f} MB (target ≤ {limit})" + _verdict(rss <= limit, f"{rss - limit:.0f} MB"))
    by_corpus: dict[str, dict[str, Result]] = {}
    for r in results:
        if r.scenario.startswith("deck only"):
            by_corpus.setdefault(r.corpus, {})[r.scenario.removeprefix("deck only: ")] = r
    for corpus, by_tool in by_corpus.items():
        ours = by_tool.get("dldeck")
        for peer, theirs in by_tool.items():
            if ours and peer != "dldeck":
                speedup = theirs.per_card_ms / ours.per_card_ms
                lines.append(f"{corpus}: dldeck is {speedup:.2f}× as fast per card as {peer} (target ≥ 5×)"
                             + _verdict(speedup >= 5, f"{5 - speedup:.2f}×"))
    return lines


if __name__ == "__main__":
    main()
