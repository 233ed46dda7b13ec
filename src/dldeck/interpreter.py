"""The environment of a fresh Python interpreter that must import this dldeck.

The build starts new interpreters (`sys.executable`) for work it keeps out of its own memory: Typst
typesetting (dldeck.emit.typeset) and a large batch of figures (dldeck.pipeline.child). They must
import the dldeck that started them, also when it runs from a source tree that is not installed.
Standard library only: the typesetting child imports nothing else.
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent)


def python_env() -> dict[str, str]:
    """This process's environment, with dldeck's folder first on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_PARENT, env.get("PYTHONPATH", "")) if p)
    return env
