"""Finding a CJK font for figures and the PDF, so Chinese never renders as boxes.

A system Noto CJK font is preferred (it has bold weights); the pip-installed OFL Noto Sans SC
from `pylopdf-fonts-zh-cn` is the fallback that makes a fresh machine work without root.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

SYSTEM_FONT_DIRS = (
    Path("/usr/share/fonts/opentype/noto"),
    Path("/usr/share/fonts/truetype/noto"),
    Path("/usr/share/fonts/noto-cjk"),
    Path("/usr/share/fonts/google-noto-cjk"),
)
SYSTEM_FONT_FILES = ("NotoSansCJK-Regular.ttc", "NotoSansCJKsc-Regular.otf", "NotoSansSC-Regular.otf")

INSTALL_HINT = (
    "no CJK font found: install one with `apt-get install fonts-noto-cjk` "
    "or `pip install pylopdf-fonts-zh-cn`"
)


class FontNotFound(RuntimeError):
    pass


@dataclass(frozen=True)
class CjkFont:
    """A font file plus the family name the renderers must ask for."""

    path: Path
    family: str

    @property
    def directory(self) -> Path:
        return self.path.parent


@functools.cache
def find_cjk_font() -> CjkFont:
    """Return the CJK font every renderer uses; raise FontNotFound naming what to install."""
    for directory in SYSTEM_FONT_DIRS:
        for name in SYSTEM_FONT_FILES:
            candidate = directory / name
            if candidate.is_file():
                family = "Noto Sans CJK SC" if "CJK" in name else "Noto Sans SC"
                return CjkFont(candidate, family)
    try:
        import pylopdf_fonts_zh_cn  # type: ignore[import-not-found]
    except ImportError as exc:
        raise FontNotFound(INSTALL_HINT) from exc
    bundled = Path(pylopdf_fonts_zh_cn.__file__).parent / "NotoSansSC-Regular.otf"
    if not bundled.is_file():
        raise FontNotFound(INSTALL_HINT)
    return CjkFont(bundled, "Noto Sans SC")
