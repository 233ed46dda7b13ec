"""Work in a child process (dldeck.pipeline.child): forked, or a fresh interpreter that is sent the
function pickled and does not map the build's memory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dldeck.errors import BuildError, Diagnostic
from dldeck.pipeline.child import ChildProcess

HERE = Path(__file__).resolve().parent


def own_rss_mb() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        return int(status.read().split("VmRSS:")[1].split()[0]) // 1024


def add(a: int, b: int) -> int:
    return a + b


def refuse(path: str) -> None:
    raise BuildError([Diagnostic(path, 3, "refused")])


def explode() -> None:
    raise ZeroDivisionError("boom")


@pytest.fixture(autouse=True)
def importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setenv("PYTHONPATH", str(HERE))  # a fresh child finds this module's functions


@pytest.mark.parametrize("fresh", [False, True])
def test_a_child_answers_a_value_a_build_error_or_a_crash(fresh: bool) -> None:
    results = []
    for function, args in ((add, (2, 3)), (refuse, ("content/a.md",)), (explode, ())):
        child = ChildProcess.start(function, *args, daemon=False, fresh=fresh)
        assert child is not None
        results.append(child.result())
    assert results == [("ok", 5), ("error", [Diagnostic("content/a.md", 3, "refused")]),
                       ("crash", "ZeroDivisionError: boom")]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_fresh_child_does_not_map_the_parents_memory() -> None:
    held = bytearray(b"x" * (300 << 20))  # 300 MB resident in this process
    forked, fresh = (ChildProcess.start(own_rss_mb, daemon=False, fresh=f) for f in (False, True))
    assert forked is not None and fresh is not None
    (kind_forked, forked_mb), (kind_fresh, fresh_mb) = forked.result(), fresh.result()
    assert kind_forked == kind_fresh == "ok" and len(held) == 300 << 20
    assert forked_mb > 300 and fresh_mb < 200


def test_a_script_without_a_main_guard_is_not_run_again(tmp_path: Path) -> None:
    """multiprocessing's spawn imports the parent's __main__ in the child: a script calling the
    build at top level would build again in it. A fresh child imports only dldeck."""
    script = tmp_path / "script.py"
    script.write_text("from dldeck.pipeline.child import ChildProcess\n"
                      "import os\n"
                      "print('top level ran')\n"
                      "child = ChildProcess.start(os.getpid, daemon=False, fresh=True)\n"
                      "kind, pid = child.result()\n"
                      "print(kind, pid != os.getpid())\n", encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.stdout.splitlines() == ["top level ran", "ok True"], done.stderr


def test_a_fresh_child_writes_nothing_to_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    """A build's stderr carries only diagnostics: the child itself adds no warning to it."""
    child = ChildProcess.start(add, 1, 1, daemon=False, fresh=True)
    assert child is not None and child.result() == ("ok", 2)
    assert capfd.readouterr().err == ""


def test_work_that_cannot_be_sent_to_a_fresh_child_starts_no_child() -> None:
    """Pickling fails before any interpreter starts, so none is left waiting for its work."""
    import subprocess as subprocess_module

    started: list[object] = []
    real_popen = subprocess_module.Popen

    def recording(*args: object, **kwargs: object) -> object:
        started.append(args)
        return real_popen(*args, **kwargs)  # type: ignore[call-overload]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess_module, "Popen", recording)
        with pytest.raises(Exception):  # noqa: B017, PT011 - pickle's own error, whichever it raises
            ChildProcess.start(add, lambda: None, 1, daemon=False, fresh=True)
    assert started == []
