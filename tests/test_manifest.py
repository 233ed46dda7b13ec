"""The manifest decides whether Anki applies an edit: these pin its time rules and file hygiene."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dldeck.errors import BuildError
from dldeck.manifest import Manifest, build_time, rendered_hash


def test_new_unchanged_and_changed_notes(tmp_path: Path) -> None:
    manifest = Manifest.load(tmp_path / "m.json")
    assert manifest.mtime_for("a", "h1", now=1000) == 1000
    # Unchanged rendering keeps its time even when built later.
    assert manifest.mtime_for("a", "h1", now=5000) == 1000
    # A change takes the build time...
    assert manifest.mtime_for("a", "h2", now=6000) == 6000
    # ...and is strictly newer even when the clock (or SOURCE_DATE_EPOCH) did not move.
    assert manifest.mtime_for("a", "h3", now=6000) == 6001
    assert manifest.mtime_for("a", "h4", now=10) == 6002


def test_round_trip_and_stable_format(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "m.json"
    manifest = Manifest.load(path)
    manifest.mtime_for("zeta", "hz", now=20)
    manifest.mtime_for("alpha", "ha", now=10)
    manifest.note_type_mtime("dldeck-basic", "hb", now=30)
    assert manifest.save() is True
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n")
    data = json.loads(text)
    assert list(data["notes"]) == ["alpha", "zeta"]
    assert data["notes"]["zeta"] == {"hash": "hz", "mtime": 20}

    again = Manifest.load(path)
    assert again.mtime_for("alpha", "ha", now=99) == 10
    assert again.mtime_for("zeta", "hz", now=99) == 20
    assert again.note_type_mtime("dldeck-basic", "hb", now=99) == 30
    assert again.newest_mtime() == 30
    assert again.to_json() == text


def test_noop_save_does_not_touch_the_file(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    first = Manifest.load(path)
    first.mtime_for("a", "h", now=1)
    first.save()
    stat_before = path.stat()

    second = Manifest.load(path)
    second.mtime_for("a", "h", now=2)
    assert second.save() is False
    assert path.stat().st_mtime_ns == stat_before.st_mtime_ns
    assert path.stat().st_ino == stat_before.st_ino


def test_retain_forgets_only_the_notes_of_deleted_cards(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    manifest = Manifest.load(path)
    manifest.mtime_for("kept", "hk", now=10)
    manifest.mtime_for("deleted", "hd", now=20)
    manifest.note_type_mtime("dldeck-basic", "hb", now=30)
    manifest.save()

    again = Manifest.load(path)
    again.retain(["kept", "kept", "never-recorded"])
    assert again.save() is True
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["notes"] == {"kept": {"hash": "hk", "mtime": 10}}
    assert data["note_types"] == {"dldeck-basic": {"hash": "hb", "mtime": 30}}

    unchanged = Manifest.load(path)
    unchanged.retain(["kept"])
    assert unchanged.save() is False


def test_empty_manifest_is_not_written(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    assert Manifest.load(path).save() is False
    assert not path.exists()


def test_corrupt_manifest_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(BuildError, match="m.json:1:"):
        Manifest.load(path)


def test_build_time_honours_source_date_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert build_time() == 1700000000
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert build_time() > 1700000000


def test_rendered_hash_separates_fields() -> None:
    assert rendered_hash(["ab", "c"]) != rendered_hash(["a", "bc"])
    assert rendered_hash(["x", "y"]) == rendered_hash(["x", "y"])
