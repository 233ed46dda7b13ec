"""Figures: declarative ```figure blocks rendered to deterministic, content-hashed SVG and PNG.

Public API: `render_figures(collection, build_dir, jobs=None, facts_root=None)` and the kind
registry `KINDS`.
"""

from dldeck.figures.kinds import KINDS
from dldeck.figures.render import RENDERER_VERSION, render_figures

__all__ = ["KINDS", "RENDERER_VERSION", "render_figures"]
