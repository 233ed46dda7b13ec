"""Outputs switch as one set (dldeck.pipeline.publish); the manifest goes with them; leftovers of
killed builds are cleaned; a cached figure is trusted only by its recorded checksum; a build folder
the machine will not let us write, and a corrupt manifest, are one-line messages, not tracebacks."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dldeck import atomicfile, pipeline
from dldeck.cli import main
from dldeck.errors import OutputError
from dldeck.pipeline import publish
from test_pipeline import SMALL

EPOCH = "1700000000"
NAMES = ("dldeck.apkg", "cheatsheet.html", "cheatsheet.pdf")
EDIT = ("在 $x=0$ 处取最大值", "在 $x = 0$ 处取到最大值")


def make(root: Path, text: str = SMALL) -> tuple[Path, Path]:
    content = root / "content"
    content.mkdir(parents=True)
    (content / "a.md").write_text(text, encoding="utf-8")
    return content, root / "build"


def shown(build_dir: Path) -> dict[str, bytes]:
    """What a reader of build/ sees under the stable names."""
    return {name: (build_dir / name).read_bytes() for name in NAMES if (build_dir / name).exists()}


def manifest_of(content: Path) -> bytes:
    return (content / pipeline.MANIFEST_NAME).read_bytes()


@pytest.fixture
def epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A project built at v1 (kept as a snapshot to copy), and the outputs and manifest of v1 and v2."""
    root = tmp_path_factory.mktemp("versions")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SOURCE_DATE_EPOCH", EPOCH)
        content, build_dir = make(root / "snapshot")
        pipeline.build(content, build_dir)
        old, old_manifest = shown(build_dir), manifest_of(content)
        reference, reference_build = make(root / "reference")
        pipeline.build(reference, reference_build)
        (reference / "a.md").write_text(SMALL.replace(*EDIT), encoding="utf-8")
        pipeline.build(reference, reference_build)
        new, new_manifest = shown(reference_build), manifest_of(reference)
    assert old != new and old_manifest != new_manifest
    return {"snapshot": root / "snapshot", "old": old, "new": new, "old_manifest": old_manifest,
            "new_manifest": new_manifest}


def edited_copy(versions: dict[str, object], where: Path) -> tuple[Path, Path]:
    shutil.copytree(versions["snapshot"], where, symlinks=True)
    (where / "content" / "a.md").write_text(SMALL.replace(*EDIT), encoding="utf-8")
    return where / "content", where / "build"


# --------------------------------------------------------------------------- the layout


def test_stable_names_point_through_one_switchable_link(tmp_path: Path, epoch: None) -> None:
    content, build_dir = make(tmp_path)
    pipeline.build(content, build_dir)
    current = publish.current_folder(build_dir)
    assert current is not None and current.name.startswith(publish.OUT_PREFIX)
    for name in NAMES:
        assert os.readlink(build_dir / name) == f"current/{name}"
        assert (current / name).is_file()
    (content / "a.md").write_text(SMALL.replace(*EDIT), encoding="utf-8")
    pipeline.build(content, build_dir)
    assert publish.current_folder(build_dir) != current and not current.exists()  # the old set is gone
    assert sorted(p.name for p in build_dir.iterdir() if p.name.startswith(".out-")) == [
        publish.current_folder(build_dir).name]


def test_only_html_keeps_the_previous_deck_in_the_new_set(tmp_path: Path, epoch: None) -> None:
    content, build_dir = make(tmp_path)
    pipeline.build(content, build_dir)
    before = shown(build_dir)
    (content / "a.md").write_text(SMALL.replace(*EDIT), encoding="utf-8")
    result = pipeline.build(content, build_dir, only=("html",))
    assert [p.name for p in result.outputs] == ["cheatsheet.html"]
    after = shown(build_dir)
    assert after["dldeck.apkg"] == before["dldeck.apkg"]
    assert after["cheatsheet.pdf"] == before["cheatsheet.pdf"]
    assert after["cheatsheet.html"] != before["cheatsheet.html"]


def test_outputs_of_an_older_dldeck_are_adopted(tmp_path: Path, epoch: None,
                                                versions: dict[str, object]) -> None:
    """A build folder with plain output files (the layout before the switch) moves to the new layout
    without a moment that shows a mix: every rename up to the switch sees the old set."""
    content, build_dir = make(tmp_path, SMALL.replace(*EDIT))
    (content / pipeline.MANIFEST_NAME).write_bytes(versions["old_manifest"])  # as the old build left it
    build_dir.mkdir()
    for name, data in versions["old"].items():
        (build_dir / name).write_bytes(data)
    renames: list[tuple[str, dict[str, bytes]]] = []
    real_replace = publish._replace_with_link

    def watch(path: Path, target: str) -> None:
        renames.append((path.name, shown(build_dir)))  # what a reader sees right before each rename
        real_replace(path, target)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(publish, "_replace_with_link", watch)
        pipeline.build(content, build_dir)
    switch = max(i for i, (name, _) in enumerate(renames) if name == publish.CURRENT)
    assert switch >= 4  # `current` for the adopted set, three names, then the switch itself
    assert all(seen == versions["old"] for _, seen in renames[: switch + 1])
    assert shown(build_dir) == versions["new"]
    assert all((build_dir / name).is_symlink() for name in NAMES)


# --------------------------------------------------------------------------- kills and failures

KILL_AT = r"""
import os, sys
from pathlib import Path
from dldeck import pipeline
from dldeck.pipeline import passes

target, calls, armed, real_replace = int(sys.argv[3]), [0], [False], os.replace

def replace(source, destination, *args, **kwargs):
    if armed[0]:
        calls[0] += 1
        if calls[0] == target:
            os._exit(9)  # like SIGKILL: no finally, no cleanup, right before this rename
    return real_replace(source, destination, *args, **kwargs)

def armed_publish(*args, **kwargs):
    armed[0] = True
    return real_publish(*args, **kwargs)

os.replace = replace
real_publish, passes._publish = passes._publish, armed_publish
pipeline.build(Path(sys.argv[1]), Path(sys.argv[2]))
print("finished after", calls[0], "renames")
"""


def test_a_build_killed_at_any_rename_shows_the_old_set_or_the_new(tmp_path: Path, epoch: None,
                                                                     versions: dict[str, object]) -> None:
    """The build process is ended abruptly (os._exit, as a kill would) before each rename of the
    publishing step in turn; build/ must show all old outputs or all new ones, and the next build
    cleans up and finishes the job."""
    env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH)
    kills = 0
    for target in range(1, 20):
        content, build_dir = edited_copy(versions, tmp_path / f"kill-{target}")
        done = subprocess.run([sys.executable, "-c", KILL_AT, str(content), str(build_dir), str(target)],
                              capture_output=True, text=True, timeout=300, env=env)
        if done.returncode == 0:
            assert "finished" in done.stdout
            assert shown(build_dir) == versions["new"] and manifest_of(content) == versions["new_manifest"]
            break
        assert done.returncode == 9, done.stderr
        kills += 1
        seen = shown(build_dir)
        assert seen in (versions["old"], versions["new"]), f"a mix after a kill before rename {target}"
        if manifest_of(content) == versions["new_manifest"]:
            assert seen == versions["new"]  # the manifest never runs ahead of the outputs
        pipeline.build(content, build_dir)
        assert shown(build_dir) == versions["new"] and manifest_of(content) == versions["new_manifest"]
        leftovers = [p.name for p in build_dir.iterdir()
                     if p.name.startswith((".out-", ".link-", ".staging-"))]
        assert leftovers == [publish.current_folder(build_dir).name]
    assert kills >= 3  # the manifest, `current` and the stable names were each interrupted


def test_a_manifest_that_cannot_be_written_replaces_no_output(tmp_path: Path, epoch: None,
                                                              versions: dict[str, object],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    content, build_dir = edited_copy(versions, tmp_path / "project")
    real_write = atomicfile._write_all
    manifest_temporaries: list[int] = []

    def full_content_folder(descriptor: int, data: bytes) -> None:
        if os.readlink(f"/proc/self/fd/{descriptor}").startswith(str(content)):
            manifest_temporaries.append(descriptor)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(descriptor, data)

    monkeypatch.setattr(atomicfile, "_write_all", full_content_folder)
    result = CliRunner().invoke(main, ["build", "--content", str(content), "--build-dir", str(build_dir)])
    assert manifest_temporaries
    assert result.exit_code == 2, result.output
    assert result.output == (f"dldeck: {content} (writing {pipeline.MANIFEST_NAME}): cannot write the "
                             f"build's files: No space left on device ({content / pipeline.MANIFEST_NAME})\n")
    assert shown(build_dir) == versions["old"] and manifest_of(content) == versions["old_manifest"]
    assert not list(content.glob(".*.tmp"))


def test_a_manifest_rename_that_fails_switches_the_outputs_back(tmp_path: Path, epoch: None,
                                                                versions: dict[str, object],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    content, build_dir = edited_copy(versions, tmp_path / "project")

    def refuse(self: atomicfile.StagedWrite) -> None:
        self.discard()
        raise OSError(errno.EIO, os.strerror(errno.EIO), str(self.path))

    monkeypatch.setattr(atomicfile.StagedWrite, "commit", refuse)
    with pytest.raises(OutputError, match="Input/output error"):
        pipeline.build(content, build_dir)
    assert shown(build_dir) == versions["old"] and manifest_of(content) == versions["old_manifest"]
    monkeypatch.undo()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    pipeline.build(content, build_dir)
    assert shown(build_dir) == versions["new"] and manifest_of(content) == versions["new_manifest"]


def test_leftovers_of_killed_builds_are_cleaned(tmp_path: Path, epoch: None) -> None:
    content, build_dir = make(tmp_path)
    pipeline.build(content, build_dir)
    current = publish.current_folder(build_dir)
    (build_dir / ".staging-abc123").mkdir()
    (build_dir / ".staging-abc123" / "dldeck.apkg").write_bytes(b"half")
    (build_dir / ".out-killed").mkdir()
    (build_dir / ".link-123-current").symlink_to(".out-killed")
    (build_dir / "cache" / ".stamp.json.x1.tmp").write_bytes(b"{")
    (content / f".{pipeline.MANIFEST_NAME}.x2.tmp").write_text("{", encoding="utf-8")
    (content / "a.md").write_text(SMALL.replace(*EDIT), encoding="utf-8")
    pipeline.build(content, build_dir)
    hidden = sorted(p.name for p in build_dir.iterdir() if p.name.startswith("."))
    assert hidden == sorted([publish.LOCK_NAME, publish.current_folder(build_dir).name])
    assert publish.current_folder(build_dir) != current
    assert not list((build_dir / "cache").glob(".*.tmp")) and not list(content.glob(".*.tmp"))


# --------------------------------------------------------------------------- the figure cache


def test_a_cached_figure_with_a_broken_checksum_is_drawn_again(tmp_path: Path, epoch: None) -> None:
    """A PNG whose middle changed keeps its signature and trailer: only the recorded hash sees it."""
    reference, reference_build = make(tmp_path / "reference")
    pipeline.build(reference, reference_build)
    content, build_dir = make(tmp_path / "project")
    pipeline.build(content, build_dir)
    (png,) = (build_dir / "figures").glob("*.png")
    data = bytearray(png.read_bytes())
    data[len(data) // 2] ^= 0xFF
    png.write_bytes(bytes(data))
    (build_dir / "cache" / "stamp.json").unlink()
    again = pipeline.build(content, build_dir)
    assert again.work.figured == ["sigmoid-max"]
    assert png.read_bytes() != bytes(data)
    assert shown(build_dir) == shown(reference_build)


def test_fifos_planted_in_the_caches_do_not_hang_the_build(tmp_path: Path, epoch: None) -> None:
    content, build_dir = make(tmp_path)
    pipeline.build(content, build_dir)
    before = shown(build_dir)
    planted = [*(build_dir / "cache").glob("*.json"), build_dir / "formulas.json",
               *(build_dir / "figures").glob("*.sha256")]
    for path in planted:
        path.unlink()
        os.mkfifo(path)
    done = subprocess.run([sys.executable, "-m", "dldeck.cli", "build"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, SOURCE_DATE_EPOCH=EPOCH))
    assert done.returncode == 0, done.stderr
    assert shown(build_dir) == before
    assert len(planted) >= 4 and not any(path.is_fifo() for path in planted if path.exists())


# --------------------------------------------------------------------------- the machine says no


def test_a_build_folder_that_is_a_file_is_one_line_and_status_2(tmp_path: Path, epoch: None,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    make(tmp_path)
    (tmp_path / "build").write_text("not a folder", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["build"])
    assert result.exit_code == 2
    assert result.output == ("dldeck: build: the build folder is not a folder (it is a file): remove it or "
                             "choose another with --build-dir\n")


def _refuse_writes_below(folder: Path, code: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `folder` behave like a read-only or full file system for this process (and its forks)."""
    real_open, real_mkdir = os.open, os.mkdir
    prefix = str(folder.resolve())

    def guarded_open(path, flags, *args, **kwargs):
        writing = flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
        if writing and os.path.abspath(path).startswith(prefix):
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, flags, *args, **kwargs)

    def guarded_mkdir(path, *args, **kwargs):
        if os.path.abspath(path).startswith(prefix) and not os.path.isdir(path):
            raise OSError(code, os.strerror(code), str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded_open)
    monkeypatch.setattr(os, "mkdir", guarded_mkdir)


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES])
def test_a_read_only_build_folder_is_one_line_and_status_2(tmp_path: Path, epoch: None, code: int,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    content, build_dir = make(tmp_path)
    pipeline.build(content, build_dir, only=("html",))
    before = shown(build_dir)
    (content / "a.md").write_text(SMALL.replace(*EDIT), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    _refuse_writes_below(build_dir, code, monkeypatch)
    result = CliRunner().invoke(main, ["build", "--only", "html"])
    assert result.exit_code == 2, result.output
    (line,) = result.output.splitlines()
    assert line.startswith(f"dldeck: build: cannot write the build's files: {os.strerror(code)}")
    assert shown(build_dir) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder anyway")
def test_a_really_read_only_build_folder_is_status_2(tmp_path: Path) -> None:
    content, build_dir = make(tmp_path)
    build_dir.mkdir()
    build_dir.chmod(0o555)
    try:
        done = subprocess.run([sys.executable, "-m", "dldeck.cli", "build", "--only", "html"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)
    finally:
        build_dir.chmod(0o755)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "build: cannot write the build's files: Permission denied" in done.stderr


def test_a_full_disk_is_one_line_and_status_2(tmp_path: Path, epoch: None,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    content, build_dir = make(tmp_path)
    pipeline.build(content, build_dir)
    before = shown(build_dir)
    (content / "a.md").write_text(SMALL.replace(*EDIT), encoding="utf-8")

    def full(descriptor: int, data: bytes) -> None:
        os.close(descriptor)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomicfile, "_write_all", full)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["build"])
    assert result.exit_code == 2, result.output
    (line,) = result.output.splitlines()
    assert line.startswith("dldeck: build: cannot write the build's files: No space left on device (build/")
    assert shown(build_dir) == before
    monkeypatch.undo()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    pipeline.build(content, build_dir)  # nothing half-written was kept: the next build just works
    assert shown(build_dir) != before


# --------------------------------------------------------------------------- a corrupt manifest

GOOD_ENTRY = '    "sigmoid-max": {\n      "hash": "ab",\n      "mtime": 1700000000\n    }'


@pytest.mark.parametrize(
    ("manifest", "line", "message"),
    [
        ('{\n  "notes": {\n<<<<<<< HEAD\n' + GOOD_ENTRY + "\n=======\n" + GOOD_ENTRY
         + "\n>>>>>>> x\n  }\n}\n",
         3, "unresolved merge conflict markers"),
        ('{\n  "notes": {\n    "sigmoid-max": {\n      "hash": "ab",\n      "mtime": 1e400\n    }\n  }\n}\n',
         3, "entry 'sigmoid-max' has mtime 'inf'"),
        ('{\n  "notes": {\n    "sigmoid-max": {\n      "hash": "ab",\n      "mtime": 99999999999999999999\n'
         "    }\n  }\n}\n", 3, "entry 'sigmoid-max' has mtime '99999999999999999999'"),
        ('{\n  "notes": {\n    "sigmoid-max": {"hash": "ab", "mtime": ' + "9" * 5000 + "}\n  }\n}\n",
         1, "the dldeck manifest cannot be read"),
        ('{\n  "notes": {\n    "sigmoid-max": {"hash": "ab", "mtime": -5}\n  }\n}\n', 3,
         "entry 'sigmoid-max' has mtime '-5'"),
        ('{\n  "notes": {\n    "sigmoid-max": {"hash": "ab", "mtime": true}\n  }\n}\n', 3,
         "entry 'sigmoid-max' has mtime 'True'"),
        ('{\n  "notes": [1, 2]\n}\n', 2, "'notes' must be an object of entries"),
        ('{\n  "version": 7\n}\n', 2, "dldeck manifest version 7 is not 1"),
        ('{\n  "notes": {,\n}\n', 2, "the dldeck manifest is not valid JSON"),
        ("[1]\n", 1, "the dldeck manifest must be a JSON object"),
        (b"\xff\xfe{}", 1, "the dldeck manifest is not UTF-8"),
    ],
)
def test_a_corrupt_manifest_is_a_diagnostic_at_its_line(tmp_path: Path, epoch: None, manifest: str | bytes,
                                                        line: int, message: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    content, _ = make(tmp_path)
    path = content / pipeline.MANIFEST_NAME
    path.write_bytes(manifest if isinstance(manifest, bytes) else manifest.encode("utf-8"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["build", "--only", "anki"])
    assert result.exit_code == 1, result.output
    first = result.output.splitlines()[0]
    assert first.startswith(f"content/{pipeline.MANIFEST_NAME}:{line}: {message}"), first
    assert "Traceback" not in result.output


def test_a_manifest_that_is_a_fifo_is_a_diagnostic(tmp_path: Path, epoch: None,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    content, _ = make(tmp_path)
    os.mkfifo(content / pipeline.MANIFEST_NAME)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["build", "--only", "anki"])
    assert result.exit_code == 1
    assert result.output.startswith(f"content/{pipeline.MANIFEST_NAME}:1: cannot read the dldeck manifest: "
                                    "it is a FIFO")


def test_a_file_written_in_pieces_is_whole_or_absent(tmp_path: Path) -> None:
    """A large page is written piece by piece (never held whole): the file appears only when every
    piece is written, and a failure part-way leaves the previous file and no temporary behind."""
    target = tmp_path / "page.html"
    atomicfile.write_atomically(target, (piece.encode() for piece in ("<p>", "一", "</p>")))
    assert target.read_text(encoding="utf-8") == "<p>一</p>"

    def failing() -> object:
        yield b"<p>new"
        raise RuntimeError("a template failed half-way")

    with pytest.raises(RuntimeError):
        atomicfile.write_atomically(target, failing())
    assert target.read_text(encoding="utf-8") == "<p>一</p>"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]


def test_the_page_written_in_pieces_is_the_rendered_page(tmp_path: Path) -> None:
    from dldeck.config import SheetConfig
    from dldeck.emit.html import render_html, write_html
    from test_cheatsheet_samples import sample_collection

    collection = sample_collection()
    out = tmp_path / "cheatsheet.html"
    write_html(collection, {}, SheetConfig(), "T", out, "2026-01-01")
    assert out.read_text(encoding="utf-8") == render_html(collection, {}, SheetConfig(), "T", "2026-01-01")
