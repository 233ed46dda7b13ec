"""The Anki harness itself, without Anki: when it starts Anki a second time, and when it does not."""

from __future__ import annotations

from pathlib import Path

import anki_desktop
import pytest


@pytest.mark.parametrize(("runs", "status", "started"), [
    ([(1, [anki_desktop.PAGE_STALL]), (0, [])], 0, 2),  # the first page stalled: started again, measured
    ([(1, [anki_desktop.PAGE_STALL])] * 3, 1, 2),  # stalled twice: the failure stands
    ([(1, ["timed out waiting for adam q to show"]), (0, [])], 1, 1),  # a card that does not show is a result
    ([(1, [])], 1, 1),  # Anki ran out of time or wrote nothing: no second run
    ([(0, [])], 0, 1),
])
def test_anki_is_started_again_only_when_its_first_page_did_not_load(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, runs: list, status: int, started: int) -> None:
    calls: list[object] = []

    def measure(args: object) -> tuple[int, list[str]]:
        calls.append(args)
        return runs[len(calls) - 1]

    monkeypatch.setattr(anki_desktop, "_measure", measure)
    assert anki_desktop.main([str(tmp_path / "deck.apkg"), str(tmp_path / "out.jsonl")]) == status
    assert len(calls) == started
