"""The outputs change as one set: whoever looks at `build/` sees every previous output or every new
one, never a new deck beside old sheets — whatever kills the build, wherever.

Layout:

    build/.out-<id>/dldeck.apkg, cheatsheet.html, cheatsheet.pdf   one complete output set
    build/current -> .out-<id>                                     the one pointer that switches
    build/dldeck.apkg -> current/dldeck.apkg                       stable names (symlinks)

A build writes its outputs into a fresh `.out-<id>` folder, links in the previous set's files it
did not rebuild (`--only html` keeps the deck), and then replaces the `current` symlink with one
atomic `rename`: that single step is the switch. The stable names only ever point through
`current`, so they switch with it. Leftovers of killed builds (unswitched `.out-*` folders,
`.staging-*` folders of older versions, temporary symlinks) are removed at the start of the next
build, under a lock, so two builds in one folder wait for each other instead of deleting each
other's work. A build folder written by a dldeck before this layout (outputs as plain files) is
adopted without a moment in which it shows a mix.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

CURRENT = "current"
OUT_PREFIX = ".out-"
LOCK_NAME = ".lock"
_TEMPORARY_LINK = ".link-"
_OLD_STAGING = ".staging-"


@contextmanager
def locked(build_dir: Path) -> Iterator[None]:
    """Hold the build folder's lock: one build at a time may clean, write or switch in it."""
    import fcntl

    path = build_dir / LOCK_NAME
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    except OSError:
        # a read-only build folder that already has its lock file can still be checked "up to date"
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def current_folder(build_dir: Path) -> Path | None:
    """The output folder `build/current` points at, if it is one of ours."""
    link = build_dir / CURRENT
    if not link.is_symlink():
        return None
    target = os.readlink(link)
    if "/" in target or not target.startswith(OUT_PREFIX) or not (build_dir / target).is_dir():
        return None
    return build_dir / target


def clean_leftovers(build_dir: Path) -> None:
    """Remove what killed builds left: output folders never switched to, old staging folders,
    temporary symlinks. Call with the lock held."""
    if not build_dir.is_dir():
        return
    current = current_folder(build_dir)
    for entry in build_dir.iterdir():
        name = entry.name
        if name.startswith(_TEMPORARY_LINK) and entry.is_symlink():
            entry.unlink(missing_ok=True)
        elif name.startswith((OUT_PREFIX, _OLD_STAGING)) and entry != current and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)


def new_output_folder(build_dir: Path) -> Path:
    """A fresh, empty folder for this build's outputs (readable by all, like the outputs themselves)."""
    folder = Path(tempfile.mkdtemp(prefix=OUT_PREFIX, dir=build_dir))
    os.chmod(folder, 0o755)
    return folder


def carry_over(build_dir: Path, folder: Path) -> None:
    """Link the previous set's outputs this build did not make into the new set (hard links: no copy)."""
    previous = current_folder(build_dir)
    if previous is None:
        return
    for entry in sorted(previous.iterdir()):
        target = folder / entry.name
        if not target.exists() and entry.is_file():
            _link_or_copy(entry, target)


def switch(build_dir: Path, folder: Path) -> Path | None:
    """Make `folder` the current output set in one atomic rename; return the set it replaced."""
    previous = current_folder(build_dir)
    _adopt_plain_outputs(build_dir, (entry.name for entry in folder.iterdir()), previous)
    previous = current_folder(build_dir)
    _replace_with_link(build_dir / CURRENT, folder.name)
    return previous


def finish(build_dir: Path, replaced: Path | None) -> list[str]:
    """After a switch: give every output of the current set its stable name, drop the replaced set.
    Returns the output names."""
    folder = current_folder(build_dir)
    assert folder is not None
    names = sorted(entry.name for entry in folder.iterdir())
    for name in names:
        stable = build_dir / name
        wanted = f"{CURRENT}/{name}"
        if not (stable.is_symlink() and os.readlink(stable) == wanted):
            _replace_with_link(stable, wanted)
    if replaced is not None and replaced != folder:
        shutil.rmtree(replaced, ignore_errors=True)
    return names


def switch_back(build_dir: Path, previous: Path | None) -> None:
    """Undo `switch` (something that must change with the outputs failed): the previous set, or none."""
    if previous is not None:
        _replace_with_link(build_dir / CURRENT, previous.name)
    else:
        (build_dir / CURRENT).unlink(missing_ok=True)


def _replace_with_link(path: Path, target: str) -> None:
    """Point `path` at `target` in one rename, whatever `path` was (a file, a symlink, nothing)."""
    temporary = path.parent / f"{_TEMPORARY_LINK}{os.getpid()}-{path.name}"
    temporary.unlink(missing_ok=True)
    os.symlink(target, temporary)
    try:
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _adopt_plain_outputs(build_dir: Path, names: Iterable[str], previous: Path | None) -> None:
    """Outputs an older dldeck wrote as plain files become a set of their own first: they are linked
    into a folder, `current` points there, and each plain file is replaced by a symlink to its own
    bytes. At every moment each name shows the old output, so the switch that follows is atomic."""
    plain = [name for name in names
             if (build_dir / name).is_file() and not (build_dir / name).is_symlink()]
    if not plain:
        return
    folder = previous or new_output_folder(build_dir)
    for name in plain:
        if not (folder / name).exists():
            _link_or_copy(build_dir / name, folder / name)
    if previous is None:
        _replace_with_link(build_dir / CURRENT, folder.name)
    for name in plain:
        _replace_with_link(build_dir / name, f"{CURRENT}/{name}")


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # a file system without hard links
        shutil.copy2(source, target)
