"""The `dldeck` command: argument handling and printing only; the work is in dldeck.pipeline."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import NoReturn

import click
from rich.console import Console
from rich.markup import escape

from dldeck.errors import BuildError, OutputError, printable

# soft_wrap: a `path:line: message` stays on one line whatever the terminal width, for editors and CI logs.
# emoji=False: rich would print `a.md:100:` as `a.md💯`; text from content is printed with markup=False
# (or escaped), so `[red]` in a file name or deck name stays text.
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
out = Console(highlight=False, soft_wrap=True, emoji=False)


def _configured_folder(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path:
    """An option left out falls back to `content_dir` / `build_dir` of the project's configuration."""
    if value is not None:
        return value
    from dldeck.config import load_config

    try:
        config = load_config(Path.cwd())
    except BuildError as error:
        _report(error)
    return Path(config.content_dir if param.name == "content_dir" else config.build_dir)


CONTENT = click.option("--content", "content_dir", type=click.Path(path_type=Path), default=None,
                       callback=_configured_folder,
                       help="Markdown sources [default: the config's content_dir, 'content'].")
BUILD = click.option("--build-dir", type=click.Path(path_type=Path), default=None,
                     callback=_configured_folder,
                     help="Folder for outputs and caches [default: the config's build_dir, 'build'].")
TIMEOUT = click.option("--timeout", type=float, default=5.0, show_default=True,
                       help="CPU seconds each claim may take before it counts as timed out.")
ONLY = click.option("--only", type=click.Choice(["anki", "html", "pdf"]), multiple=True,
                    help="Build only these outputs (repeatable). Default: all.")


def _report(error: BuildError) -> NoReturn:
    for diagnostic in error.diagnostics:
        err.print(str(diagnostic), markup=False)
    count = len(error.diagnostics)
    err.print(f"[bold red]{count} error{'s' if count != 1 else ''}[/]; nothing was written")
    sys.exit(1)


def _machine_problem(error: OutputError) -> NoReturn:
    """The machine, not the content, is at fault: one line and exit status 2."""
    err.print(f"dldeck: {error}", markup=False)
    sys.exit(2)


def _progress(status):
    def show(message: str) -> None:
        status.update(f"[cyan]{message}…")
    return show


@click.group()
@click.version_option(package_name="dldeck")
def main() -> None:
    """Compile verified deep-learning cards into an Anki deck and cheat sheets."""


@main.command()
@CONTENT
@BUILD
@TIMEOUT
@ONLY
def build(content_dir: Path, build_dir: Path, timeout: float, only: tuple[str, ...]) -> None:
    """Read, verify, draw and emit every output; all or nothing."""
    from dldeck import pipeline

    try:
        with err.status("building…") as status:
            result = pipeline.build(content_dir, build_dir, only=only or pipeline.BACKENDS, timeout=timeout,
                                    progress=_progress(status))
    except BuildError as error:
        _report(error)
        return
    except OutputError as error:
        _machine_problem(error)
    if result.up_to_date:
        out.print(f"[green]up to date[/]: {result.cards} cards, nothing changed since the last build")
        return
    for path in result.outputs:
        out.print(f"wrote {path}", markup=False)
    _notes(result.summary.notes if result.summary is not None else ())
    out.print(f"[green]{result.cards} cards[/], {_claims_line(result.claim_counts)}, "
              f"{result.formulas} formulas compiled")


def _notes(notes: tuple[str, ...]) -> None:
    for note in notes:
        err.print(f"[yellow]note[/]: {escape(note)}")


def _claims_line(counts: dict[str, int]) -> str:
    return (f"claims: {counts.get('symbolic', 0)} verified symbolically, {counts.get('numeric', 0)} "
            f"numerically, {counts.get('failed', 0)} failed, {counts.get('timeout', 0)} timed out")


@main.command()
@CONTENT
@BUILD
@TIMEOUT
@click.option("--verbose", "-v", is_flag=True, help="List every card's claims and every unread formula.")
@click.option("--strict", is_flag=True,
              help="A formula with a relation that cannot be read (and is not exempt), or an example "
                   "value or definition no claim uses, is an error [default: the config's strict].")
def check(content_dir: Path, build_dir: Path, timeout: float, verbose: bool, strict: bool) -> None:
    """Read and verify without writing outputs; exit status 1 on any problem (for an author's CI)."""
    from dldeck import pipeline
    from dldeck.config import load_config

    try:
        strict = strict or load_config(content_dir.parent).strict
        with err.status("checking…") as status:
            summary = pipeline.check(content_dir, build_dir, timeout=timeout, progress=_progress(status),
                                     strict=strict)
    except BuildError as error:
        _report(error)
        return
    except OutputError as error:
        _machine_problem(error)
    if verbose:
        by_card: dict[str, list] = {}
        for result in summary.results:
            by_card.setdefault(result.slug, []).append(result)
        for card in summary.collection.cards:
            results = by_card.get(card.slug, [])
            out.print(f"[bold]{escape(card.slug)}[/] ({escape(str(card.span))}): {len(results)} claims")
            for result in results:
                out.print(f"  {result.status:9} {result.path}:{result.line}: {result.text}", markup=False)
        for formula in summary.coverage.formulas:
            if formula.verdict == "unread":
                out.print(f"unread: {formula.path}:{formula.line}: {formula.tex} — {formula.message}",
                          markup=False)
    _notes(summary.notes)
    out.print(f"{len(summary.collection.cards)} cards; {_claims_line(summary.claim_counts)}; "
              f"{summary.formulas} formulas compiled")
    out.print(summary.coverage.line(), markup=False)


@main.command()
@CONTENT
def stats(content_dir: Path) -> None:
    """Cards, checks and figures per deck."""
    from rich.table import Table
    from rich.text import Text

    from dldeck.source import read_collection

    try:
        collection = read_collection(content_dir)
    except BuildError as error:
        _report(error)
        return
    except OutputError as error:
        _machine_problem(error)
    table = Table("deck", "cards", "cloze", "check blocks", "claims", "figures")
    totals: Counter[str] = Counter()
    for deck in collection.decks():
        cards = [c for c in collection.cards if c.deck == deck]
        row = Counter(
            cards=len(cards),
            cloze=sum(c.kind == "cloze" for c in cards),
            checks=sum(len(c.checks) for c in cards),
            claims=sum(_claim_lines(c) for c in cards),
            figures=sum(len(c.figures) for c in cards),
        )
        totals.update(row)
        table.add_row(Text(printable(deck)), *(str(row[k]) for k in COLUMNS))
    table.add_row("[bold]total", *(str(totals[k]) for k in COLUMNS))
    out.print(table)


COLUMNS = ("cards", "cloze", "checks", "claims", "figures")


def _claim_lines(card) -> int:
    """Lines of check blocks that state something (not comments, assumptions or definitions)."""
    count = 0
    for block in card.checks:
        for line in block.source.splitlines():
            text = line.split("#", 1)[0].strip()
            if text and not text.startswith("assume ") and ":=" not in text:
                count += 1
    return count


@main.command()
@CONTENT
@TIMEOUT
@click.option("--file", "files", multiple=True, help="Only cards of this Markdown file (repeatable).")
@click.option("--seed", type=int, default=0, show_default=True, help="Which mutations are sampled.")
@click.option("-n", "count", type=int, default=300, show_default=True, help="How many mutations to try.")
@click.option("--strict", is_flag=True,
              help="Judge mutants as a strict build: an unread formula, or an example value or "
                   "definition no claim uses, is a problem [default: the config's strict].")
def mutate(content_dir: Path, timeout: float, files: tuple[str, ...], seed: int, count: int,
           strict: bool) -> None:
    """Change one shown number or operator at a time and report the changes verification misses."""
    from dldeck import mutate as mutation
    from dldeck.config import load_config
    from dldeck.source import read_collection

    try:
        strict = strict or load_config(content_dir.parent).strict
        collection = read_collection(content_dir)
    except BuildError as error:
        _report(error)
        return
    except OutputError as error:
        _machine_problem(error)
    found = mutation.mutations(collection, files)
    chosen = mutation.sample(found, count, seed)
    with err.status("mutating…") as status:
        outcomes = mutation.run(collection, chosen, timeout=timeout, strict=strict,
                                progress=lambda done, total: status.update(f"[cyan]mutation {done}/{total}…"))
    for verdict in ("survived", "still true", "still wrong", "equivalent"):
        for outcome in outcomes:
            if outcome.verdict == verdict:
                m = outcome.mutation
                note = " (no relation)" if verdict == "survived" and not outcome.relational else ""
                out.print(f"{m.where}: {_one_line(m.original)} → {_one_line(m.mutant)} {verdict}{note}",
                          markup=False)
    out.print(f"{mutation.summary(outcomes)} (of {len(found)} possible, seed {seed})", markup=False)


def _one_line(text: str) -> str:
    return " ".join(text.split())


CARD_TEMPLATE = """
## {question} {{#{slug}}}

Answer in one to four lines.

::: sources
- Where a reader can go deeper (paper with authors and year, or the framework docs).
:::
"""


@main.command()
@CONTENT
@click.argument("slug")
@click.option("--file", "target", type=click.Path(path_type=Path), default=None,
              help="Markdown file to append to (default: content/new/<slug>.md).")
@click.option("--question", default="问题？", show_default=True, help="The question heading.")
def new(content_dir: Path, slug: str, target: Path | None, question: str) -> None:
    """Scaffold a card with id SLUG."""
    from dldeck.source.lint import SLUG
    from dldeck.source.reader import read_files

    if not SLUG.match(slug):
        err.print(f"'{slug}' is not a slug: use lowercase letters, digits and single hyphens", markup=False)
        sys.exit(2)
    if content_dir.is_dir():
        cards, _ = read_files(content_dir, [])
        taken = [c for c in cards if c.slug == slug]
        if taken:
            err.print(f"{taken[0].span}: card id '{slug}' is already used", markup=False)
            sys.exit(2)
    target = target or content_dir / "new" / f"{slug}.md"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.write_text("---\ndeck: 深度学习面试::新卡片\ntags: []\n---\n", encoding="utf-8")
        with target.open("a", encoding="utf-8") as handle:
            handle.write(CARD_TEMPLATE.format(question=question, slug=slug))
    except OSError as error:  # the environment, not the content: exit status 2
        err.print(f"{printable(str(error.filename or target))}: cannot write the card: {error.strerror}",
                  markup=False)
        sys.exit(2)
    out.print(f"added card '{slug}' to {target}", markup=False)


@main.command()
@CONTENT
@BUILD
@TIMEOUT
@ONLY
def watch(content_dir: Path, build_dir: Path, timeout: float, only: tuple[str, ...]) -> None:
    """Rebuild on every save, printing errors as they appear."""
    from watchfiles import watch as watch_changes

    if not content_dir.is_dir():
        _machine_problem(OutputError(f"content folder {printable(str(content_dir))} does not exist"))
    command = [sys.executable, "-m", "dldeck.cli", "build", "--content", str(content_dir),
               "--build-dir", str(build_dir), "--timeout", str(timeout), *(f"--only={o}" for o in only)]
    watched = [content_dir, *(p for p in _config_files(content_dir) if p.is_file())]
    _rebuild(command)
    announced = False
    try:
        # A timeout yields an empty set: only then is the watcher surely running, so say so then.
        for changes in watch_changes(*watched, watch_filter=_source_filter(), yield_on_timeout=True,
                                     rust_timeout=500, raise_interrupt=False):
            if not changes:
                if not announced:
                    out.print(f"watching {content_dir} for changes (Ctrl-C to stop)", markup=False)
                    announced = True
                continue
            names = sorted({Path(path).name for _, path in changes})
            out.print(f"[dim]changed: {escape(', '.join(names[:5]))}{' …' if len(names) > 5 else ''}[/]")
            _rebuild(command)
    except KeyboardInterrupt:
        pass


def _config_files(content_dir: Path) -> list[Path]:
    from dldeck.pipeline import CONFIG_FILES

    return [content_dir.parent / name for name in CONFIG_FILES]


def _rebuild(command: list[str]) -> None:
    """Each rebuild is a fresh `dldeck build` process: the build cache makes it incremental, and a
    crash or an edit to dldeck itself cannot leave the watcher with stale state."""
    import subprocess

    sys.stdout.flush()
    sys.stderr.flush()
    subprocess.run(command, check=False)


def _source_filter():
    """Content and configuration edits count; what a build writes itself (the manifest) does not."""
    from watchfiles import DefaultFilter

    from dldeck.pipeline import MANIFEST_NAME

    default = DefaultFilter()

    def accept(change, path: str) -> bool:
        name = Path(path).name
        if name == MANIFEST_NAME or name.startswith(f".{MANIFEST_NAME}."):
            return False
        return default(change, path)

    return accept


if __name__ == "__main__":
    main()
