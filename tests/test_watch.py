"""`dldeck watch` as an author runs it: a real process on a real folder, edited while it watches."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

CARD = """\
---
deck: 测试
---

# 节

## 问题一？ {#q-one}

答案 $x^2$。
"""
LIMIT = 90.0  # seconds per step: generous, the suite shares two cores


class Watcher:
    """The watch process with its output read line by line in the background."""

    def __init__(self, project: Path) -> None:
        env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000", "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dldeck.cli", "watch", "--only", "html"],
            cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str) -> str:
        deadline = time.monotonic() + LIMIT
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            self.seen.append(line)
            if text in line:
                return line
        so_far = "\n".join(self.seen)
        raise AssertionError(f"{text!r} not printed within {LIMIT:g} s; output so far:\n{so_far}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def test_watch_rebuilds_on_save_and_prints_errors(tmp_path: Path) -> None:
    content = tmp_path / "content"
    content.mkdir()
    source = content / "a.md"
    source.write_text(CARD, encoding="utf-8")
    watcher = Watcher(tmp_path)
    try:
        watcher.wait_for("1 cards")
        watcher.wait_for("watching")
        html = tmp_path / "build" / "cheatsheet.html"
        assert "问题一" in html.read_text(encoding="utf-8")

        source.write_text(CARD + "\n## 问题二？ {#q-two}\n\n答案 $y^2$。\n", encoding="utf-8")
        watcher.wait_for("changed: a.md")
        watcher.wait_for("2 cards")
        assert "问题二" in html.read_text(encoding="utf-8")

        source.write_text(CARD + "\n## 问题三？ {#q-three}\n\n答案 $\\frac{1}{2$。\n", encoding="utf-8")
        error = watcher.wait_for("content/a.md:13:")
        assert "\\frac{1}{2" in error
        watcher.wait_for("nothing was written")
        assert "问题二" in html.read_text(encoding="utf-8")  # the failed build left the page alone
        assert watcher.process.poll() is None  # an error does not end the watch
    finally:
        watcher.stop()
