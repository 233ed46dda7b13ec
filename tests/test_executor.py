"""The one mechanism every pass and output uses to reuse work: inputs hashed → result cached → reused."""

from __future__ import annotations

import json
from pathlib import Path

from dldeck import buildcache
from dldeck.pipeline.executor import Executor
from dldeck.pipeline.outcome import Work


def _double_all(build_dir: Path | None, numbers: list[int], *,
                version: str = "1") -> tuple[list[int], list[int]]:
    """A pass that doubles numbers through an executor; returns (results, numbers computed afresh)."""
    executor = Executor(build_dir, "doubles", code=("model.py",), version=version)
    split = executor.split(numbers, lambda n: {"n": n},
                           lambda n, value: value if isinstance(value, int) and value == 2 * n else None)
    results = {n: value for _, n, value in split.reused}
    computed = split.pending_items
    for key, n in split.pending:
        results[n] = 2 * n
        executor.put(key, 2 * n)
    executor.save()
    return [results[n] for n in numbers], computed


def test_same_inputs_are_reused_and_new_ones_computed(tmp_path: Path) -> None:
    assert _double_all(tmp_path, [1, 2, 3]) == ([2, 4, 6], [1, 2, 3])
    assert _double_all(tmp_path, [1, 2, 3]) == ([2, 4, 6], [])
    assert _double_all(tmp_path, [3, 4]) == ([6, 8], [4])


def test_entries_a_build_did_not_use_are_dropped(tmp_path: Path) -> None:
    _double_all(tmp_path, [1, 2])
    _double_all(tmp_path, [2])
    assert _double_all(tmp_path, [1, 2]) == ([2, 4], [1])


def test_a_version_change_invalidates_everything(tmp_path: Path) -> None:
    _double_all(tmp_path, [1, 2])
    assert _double_all(tmp_path, [1, 2], version="2") == ([2, 4], [1, 2])


def test_an_entry_that_does_not_restore_is_dropped_and_recomputed(tmp_path: Path) -> None:
    _double_all(tmp_path, [5])
    executor = Executor(tmp_path, "doubles", code=("model.py",), version="1")
    key = executor.key({"n": 5})
    executor.put(key, 11)  # a wrong result, as a hand-edited or corrupted cache could hold
    executor.save()
    assert _double_all(tmp_path, [5]) == ([10], [5])
    assert _double_all(tmp_path, [5]) == ([10], [])


def test_without_a_build_folder_nothing_is_kept(tmp_path: Path) -> None:
    assert _double_all(None, [1]) == ([2], [1])
    assert _double_all(None, [1]) == ([2], [1])
    assert not (tmp_path / buildcache.CACHE_DIR_NAME).exists()


def test_the_cache_state_is_reported(tmp_path: Path) -> None:
    work = Work()
    Executor(tmp_path, "doubles", work=work)
    assert work.cache_status == {"doubles": "missing"}
    (tmp_path / buildcache.CACHE_DIR_NAME).mkdir()
    (tmp_path / buildcache.CACHE_DIR_NAME / "doubles.json").write_text("{", encoding="utf-8")
    Executor(tmp_path, "doubles", work=work)
    assert work.cache_status == {"doubles": "corrupt (no header)"}


def test_keys_do_not_depend_on_dict_order() -> None:
    assert Executor.key({"a": 1, "b": [1, 2]}) == Executor.key({"b": [1, 2], "a": 1})
    assert Executor.key({"a": 1}) != Executor.key({"a": 2})


def test_a_sharded_cache_rewrites_only_the_files_whose_entries_changed(tmp_path: Path) -> None:
    folder = tmp_path / buildcache.CACHE_DIR_NAME
    keys = [Executor.key(n) for n in range(40)]
    first = Executor(tmp_path, "cards", sharded=True)
    for key in keys:
        first.put(key, key[:8])
    first.save()
    files = sorted(folder.glob("cards.*.json"))
    assert len(files) == 16
    before = {path.name: path.stat().st_mtime_ns for path in files}
    second = Executor(tmp_path, "cards", sharded=True, work=(work := Work()))
    assert work.cache_status["cards"] == "ok"
    assert [second.get(key) for key in keys] == [key[:8] for key in keys]
    second.put(keys[0], "changed")
    second.save()
    after = {path.name: path.stat().st_mtime_ns for path in sorted(folder.glob("cards.*.json"))}
    assert [name for name in after if after[name] != before[name]] == [f"cards.{keys[0][-1]}.json"]
    # a damaged shard is discarded alone: its entries are computed again, the others are kept
    (folder / f"cards.{keys[1][-1]}.json").write_text("{", encoding="utf-8")
    third = Executor(tmp_path, "cards", sharded=True, work=(work := Work()))
    assert work.cache_status["cards"] == "corrupt (no header)"
    assert third.get(keys[1]) is None
    kept = [key for key in keys if key[-1] != keys[1][-1]]
    assert [third.get(key) for key in kept] == ["changed" if key == keys[0] else key[:8] for key in kept]


def test_restored_results_are_moved_out_of_the_collectors_sight(tmp_path: Path) -> None:
    """What `split` restores lives as long as the build: it is frozen (buildcache.bulk), so the
    cyclic collector does not walk it again and again; the collector is running again afterwards."""
    import gc

    executor = Executor(tmp_path, "lists", code=("model.py",))
    for n in range(50):
        executor.put(executor.key(n), [n, [n]])
    executor.save()
    gc.unfreeze()
    try:
        again = Executor(tmp_path, "lists", code=("model.py",))
        split = again.split(range(50), lambda n: n, lambda n, value: [list(value)] if value[0] == n else None)
        assert len(split.reused) == 50 and gc.isenabled()
        assert gc.get_freeze_count() >= 50 * 2
        restored = split.reused[0][2]
        assert all(id(restored) != id(o) for o in gc.get_objects())  # frozen: not among what gc tracks
    finally:
        gc.unfreeze()


def test_a_closed_executor_has_saved_its_entries_and_keeps_none(tmp_path: Path) -> None:
    """An output written lets go of its cache (`close`): what it used is saved first, and nothing is
    kept or found afterwards, so the memory can go back while the build does other work."""
    executor = Executor(tmp_path, "kept", code=("model.py",))
    executor.put(executor.key(1), "one")
    executor.close()
    assert executor.cache is None and executor.get(executor.key(1)) is None
    executor.put(executor.key(2), "two")  # nothing happens
    assert Executor(tmp_path, "kept", code=("model.py",)).get(executor.key(1)) == "one"
    assert Executor(tmp_path, "kept", code=("model.py",)).get(executor.key(2)) is None


def _cache_file(path: Path, index: list, values: bytes, texts: bytes, *, tool: str = "tool-1") -> None:
    """A cache file written by hand, its digest right: only the checks after the digest can refuse it."""
    body = values + texts
    head = {"version": buildcache.CACHE_VERSION, "tool": tool, "digest": buildcache.sha256_bytes(body),
            "values": len(values), "index": index}
    path.write_bytes(json.dumps(head).encode() + b"\n" + body)


def test_a_cache_file_keeps_texts_as_themselves_and_refuses_each_kind_of_damage(tmp_path: Path) -> None:
    entries = {"html": '<p class="q">一\n"二"</p>', "empty": "", "result": {"a": [1, 2.5, None]}, "n": 3}
    cache = buildcache.JsonCache(tmp_path, "mixed", "tool-1")
    for key, value in entries.items():
        cache.put(key, value)
    cache.save()
    path = cache.path
    raw = path.read_bytes()
    assert raw.endswith('<p class="q">一\n"二"</p>'.encode())  # a text is stored as itself, unescaped
    again = buildcache.JsonCache(tmp_path, "mixed", "tool-1")
    assert again.status == "ok" and {key: again.get(key) for key in entries} == entries
    stale = buildcache.JsonCache(tmp_path, "mixed", "tool-2").status
    assert stale == "stale (dldeck or a dependency changed)"

    head, body = raw.split(b"\n", 1)
    path.write_bytes(head + b"\n" + body[:-1] + b"?")
    assert buildcache.JsonCache(tmp_path, "mixed", "tool-1").status == "corrupt (digest mismatch)"
    path.write_bytes(head + b"\n" + body + b"x")
    assert buildcache.JsonCache(tmp_path, "mixed", "tool-1").status == "corrupt (cut short)"
    damaged = {
        "corrupt (wrong shape)": ([["a", -2]], b"[]", b""),  # a length below -1
        "corrupt (not JSON)": ([["a", -1]], b"[1,", b""),
        "corrupt (not UTF-8)": ([["a", 2]], b"[]", b"\xff\xfe"),
    }
    for status, (index, values, texts) in damaged.items():
        _cache_file(path, index, values, texts)
        assert buildcache.JsonCache(tmp_path, "mixed", "tool-1").status == status
    _cache_file(path, [["a", -1]], b"[1,2]", b"")  # more values than the index names
    assert buildcache.JsonCache(tmp_path, "mixed", "tool-1").status == "corrupt (wrong shape)"
    _cache_file(path, [["a", -1], ["b", 1]], b"[[7]]", b"z")  # a well-formed file written by hand
    assert buildcache.JsonCache(tmp_path, "mixed", "tool-1").get("a") == [7]


def test_a_file_stamp_changes_with_any_rewrite_even_when_size_and_time_are_put_back(tmp_path: Path) -> None:
    """Fonts and figure files are not read again while they carry the stamp a cache recorded: a
    same-size rewrite with its modification time set back must still show."""
    import os
    import time

    path = tmp_path / "font.otf"
    path.write_bytes(b"glyphs-1")
    before = buildcache.file_stamp(path)
    assert buildcache.file_stamp(path) == before
    times = os.stat(path)
    time.sleep(0.05)  # past the kernel's coarse clock tick, which stamps change times
    path.write_bytes(b"glyphs-2")
    os.utime(path, ns=(times.st_atime_ns, times.st_mtime_ns))
    after = buildcache.file_stamp(path)
    assert after[:2] == before[:2] and after != before  # the change time cannot be set back
    link = tmp_path / "link.otf"
    link.symlink_to(path)
    assert buildcache.file_stamp(link) == after
    assert buildcache.file_stamp(link, follow_symlinks=False) != after
