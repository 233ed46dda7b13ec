"""Whole-file writes: readers (a running Anki import, a browser, the next build) see the old file or
the new one, never half of either, even if the build is interrupted mid-write.

Every output, cache and figure goes through here. A write can also be staged — written in full
under a temporary name now, put in place later — so a file that must change together with others
(the manifest with the outputs) fails before anything was replaced, not after. Only the standard
library is imported: the no-op build path uses it too.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path


def _write_all(descriptor: int, data: bytes | Iterable[bytes]) -> None:
    """Write every byte to an open file (the one place bytes reach the disk: a full disk fails here).
    `data` may come in pieces: a large page is then never held whole in memory."""
    with os.fdopen(descriptor, "wb") as handle:
        if isinstance(data, bytes):
            handle.write(data)
        else:
            handle.writelines(data)


class StagedWrite:
    """`data` written in full beside `path` under a temporary name; `commit` renames it into place,
    `discard` removes it. Leftovers of a killed build match `.<name>.*.tmp` (see `leftover_pattern`)."""

    def __init__(self, path: Path, data: bytes | Iterable[bytes], mode: int = 0o644) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.",
                                                 suffix=".tmp")
        self.temporary = Path(temporary)
        try:
            _write_all(descriptor, data)
            # set explicitly because mkstemp makes files private, and outputs are shared
            os.chmod(self.temporary, mode)
        except OSError as error:
            self.discard()
            if error.filename is None:  # a full disk says so without a name: say which file
                raise OSError(error.errno, error.strerror, str(self.path)) from error
            raise
        except BaseException:
            self.discard()
            raise

    def commit(self) -> None:
        try:
            os.replace(self.temporary, self.path)
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        self.temporary.unlink(missing_ok=True)


def leftover_pattern(name: str) -> str:
    """The glob of temporaries a killed `StagedWrite` of `name` may have left behind."""
    return f".{name}.*.tmp"


def write_atomically(path: Path, data: bytes | Iterable[bytes], mode: int = 0o644) -> None:
    """Write via a temporary file in the same folder and `os.replace`; the temporary never outlives a
    failure."""
    StagedWrite(path, data, mode).commit()
