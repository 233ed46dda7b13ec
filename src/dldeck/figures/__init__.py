"""Figures: declarative ```figure blocks rendered to deterministic, content-hashed SVG and PNG.

Public API: `render_figures(collection, build_dir, jobs=None, facts_root=None)` and the kind
registry `KINDS`. Both are loaded on first use, not on import of the package, so that light
modules here (`dldeck.figures.files`) can be used without importing matplotlib.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dldeck.figures.kinds import KINDS
    from dldeck.figures.render import RENDERER_VERSION, render_figures

__all__ = ["KINDS", "RENDERER_VERSION", "render_figures"]


def __getattr__(name: str) -> Any:
    if name == "KINDS":
        from dldeck.figures.kinds import KINDS

        return KINDS
    if name in ("RENDERER_VERSION", "render_figures"):
        from dldeck.figures import render

        return getattr(render, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
