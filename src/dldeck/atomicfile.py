"""Whole-file writes: readers (a running Anki import, a browser, the next build) see the old file or
the new one, never half of either, even if the build is interrupted mid-write.

Every output, cache and figure goes through here. Only the standard library is imported: the
no-op build path uses it too.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write via a temporary file in the same folder and `os.replace`; the temporary never outlives a
    failure. `mode` is set explicitly because mkstemp makes files private, and outputs are shared."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
