"""A figure expression that would take too long is stopped and named, not waited for."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dldeck.errors import BuildError
from dldeck.figures import render
from dldeck.source import read_collection

SLOW = """\
## 慢图 {#slow-figure}

答。

```figure
plot: [diff(exp(sin(x))*tanh(x)**3, x, 12)]
x: [-1, 1]
```
"""


def test_slow_figure_expression_times_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "a.md").write_text(SLOW, encoding="utf-8")
    collection = read_collection(tmp_path / "content")
    monkeypatch.setattr(render, "FIGURE_TIME_LIMIT", 0.5)
    started = time.monotonic()
    with pytest.raises(BuildError) as caught:
        render.render_figures(collection, tmp_path / "build")
    assert time.monotonic() - started < 5
    message = str(caught.value.diagnostics[0])
    assert message.startswith("content/a.md:5: figure spec took longer than 0.5 s to evaluate (time limit)")
    assert not list((tmp_path / "build").rglob("fig-*"))
