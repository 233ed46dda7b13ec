"""The figures pass with a cache per card: figures of unchanged cards are reused (if their files are
whole), the rest are drawn in a forked child while claims are verified (here, after them, once Typst
has run in this process: the child rasterizes with Typst, which hangs in such a fork).

A card's figures are keyed by its slug, its figure and check sources, the facts and the figures'
code; their files are content-hashed in `build/figures/`. matplotlib is imported only when a
figure needs drawing.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from dldeck.errors import BuildError, Diagnostic
from dldeck.figures.files import is_complete, stamps
from dldeck.model import Card, Collection, FigureKey, RenderedFigure
from dldeck.pipeline.cardkeys import CardKeys
from dldeck.pipeline.child import ChildProcess
from dldeck.pipeline.claims import shown_items
from dldeck.pipeline.executor import Executor
from dldeck.pipeline.inputs import facts_hash
from dldeck.pipeline.outcome import Progress, Work

# The parts of dldeck whose code decides figures: editing them invalidates the cache.
FIGURE_CODE = ("figures", "verify", "mathengines/whitelist.py", "mathengines/engines.py", "model.py",
               "fonts.py", "errors.py")


# From this many figures to draw, the child is a new interpreter rather than a fork: it imports
# matplotlib and sympy again (about 0.8 s, beside the claims), but does not map the build's memory;
# a fork of a 20,000-card build drawing its figures was the largest process of the peak (380 MB).
FRESH_FIGURES = 200


class FigurePass:
    """Figures of unchanged cards come from the cache (if their files are whole); the rest are drawn
    in a child process when the platform allows (a fork, or a fresh interpreter from FRESH_FIGURES),
    so that verification can run meanwhile."""

    def __init__(self, collection: Collection, build_dir: Path, work: Work) -> None:
        self.collection = collection
        self.build_dir = build_dir
        self.work = work
        self.cards = [card for card in collection.cards if card.figures]
        self.results: dict[FigureKey, RenderedFigure] = {}
        self._child: ChildProcess | None = None
        self.executor = Executor(build_dir if self.cards else None, "figures", code=FIGURE_CODE, work=work)
        facts = facts_hash(collection) if self.cards else ""
        out_dir = Path(build_dir) / "figures"
        described = CardKeys(build_dir if self.cards else None, "figure-inputs", figure_inputs, work)
        unstamped: set[str] = set()  # cards whose files were checked by their hashes: stamped again
        self.split = self.executor.split(
            self.cards, lambda card: [described(card), facts],
            lambda card, entry: _restore_figures(card, entry, out_dir, unstamped))
        described.save()
        self.pending = self.split.pending_items
        for key, card, restored in self.split.reused:
            self.results.update(restored)
            if card.slug in unstamped:
                self.executor.put(key, [_figure_entry(restored[FigureKey(card.slug, b.index)])
                                        for b in card.figures])

    def _pending_collection(self) -> Collection:
        return dataclasses.replace(self.collection, cards=tuple(self.pending))

    def start(self, progress: Progress) -> None:
        if not self.pending:
            return
        count = sum(len(c.figures) for c in self.pending)
        progress(f"rendering {count} figures")
        from dldeck.mathengines.engines import typst_ran_here

        fresh = count >= FRESH_FIGURES
        if typst_ran_here() and not fresh:
            return  # the child would rasterize with Typst, which hangs in a fork of a process that ran it
        # One process: claims are verified on all cores meanwhile, and a pool's workers would each warm
        # their own font and label caches (more CPU in all). Without fork: drawn in finish(), on all cores.
        self._child = ChildProcess.start(_render, self._pending_collection(), self.build_dir,
                                         Path(self.collection.root), 1, daemon=False, fresh=fresh)

    def finish(self) -> dict[FigureKey, RenderedFigure]:
        """All figures of the collection; BuildError lists every figure problem."""
        if not self.cards:
            return {}
        if self.pending:
            fresh = self._collect()
            self.work.figured.extend(card.slug for card in self.pending)
            self.results.update(fresh)
            for key, card in self.split.pending:
                entry = [_figure_entry(self.results[FigureKey(card.slug, b.index)]) for b in card.figures]
                self.executor.put(key, entry)
        ids = [figure.figure_id for figure in self.results.values() if figure.figure_id]
        if len(ids) != len(set(ids)):
            # a figure id clashes across cached and fresh cards: the whole pass reports it with both lines
            _render(self.collection, self.build_dir, Path(self.collection.root))
            raise BuildError([Diagnostic(self.collection.root, 0, "figure ids are not unique")])
        self.executor.save()
        return {FigureKey(card.slug, b.index): self.results[FigureKey(card.slug, b.index)]
                for card in self.cards for b in card.figures}

    def _collect(self) -> dict[FigureKey, RenderedFigure]:
        if self._child is not None:
            kind, payload = self._child.result()
            self._child = None
            if kind == "ok":
                return payload
            if kind == "error":
                raise BuildError(payload)
        # no child, or it died without a word: draw here, where any error surfaces as itself
        return _render(self._pending_collection(), self.build_dir, Path(self.collection.root))

    def close(self) -> None:
        """Stop a child that is still drawing (the build was interrupted)."""
        if self._child is not None:
            self._child.stop()
            self._child = None


def _render(collection: Collection, build_dir: Path, facts_root: Path,
            jobs: int | None = None) -> dict[FigureKey, RenderedFigure]:
    from dldeck.figures import render_figures

    return render_figures(collection, build_dir, jobs=jobs, facts_root=facts_root)


def figure_inputs(card: Card) -> dict[str, Any]:
    """Figures see the card's definitions, from its checks and from its shown formulas (and the facts)."""
    return {"slug": card.slug, "checks": [b.source for b in card.checks],
            "shown": list(shown_items(card)), "notation": list(card.notation),
            "figures": [[b.index, b.source] for b in card.figures]}


def _figure_entry(figure: RenderedFigure) -> dict[str, Any]:
    """A figure as its cache entry, with its files' `stamps` as they are now (just drawn, or just
    found whole)."""
    return {"index": figure.key.index, "svg": Path(figure.svg_path).name, "png": Path(figure.png_path).name,
            "caption": figure.caption, "alt": figure.alt, "figure_id": figure.figure_id,
            "stamps": stamps(Path(figure.svg_path), Path(figure.png_path))}


def _restore_figures(card: Card, entry: Any, out_dir: Path,
                     unstamped: set[str]) -> dict[FigureKey, RenderedFigure] | None:
    """The card's figures from its entry if their files are whole; a card whose files had to be
    hashed (their stamps changed or were never kept) is added to `unstamped`."""
    if not isinstance(entry, list) or len(entry) != len(card.figures):
        return None
    restored: dict[FigureKey, RenderedFigure] = {}
    for block, item in zip(card.figures, entry, strict=True):
        fields = ("svg", "png", "caption", "alt", "figure_id")
        if not (isinstance(item, dict) and item.get("index") == block.index
                and all(isinstance(item.get(name), str) for name in fields)):
            return None
        svg, png = out_dir / item["svg"], out_dir / item["png"]
        if "/" in item["svg"] + item["png"]:
            return None
        now = stamps(svg, png)  # the files as they were when last found whole: not hashed again
        if now is None or (item.get("stamps") != now and not is_complete(svg, png)):
            return None
        if item.get("stamps") != now:
            unstamped.add(card.slug)
        key = FigureKey(card.slug, block.index)
        restored[key] = RenderedFigure(key=key, svg_path=str(svg), png_path=str(png), caption=item["caption"],
                                       alt=item["alt"], figure_id=item["figure_id"])
    return restored
