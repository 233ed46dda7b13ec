"""Claims that time out cost bounded time: verification stops after a few timeouts and names what
it did not check, and a timed-out claim is remembered so a rebuild reports it at once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from dldeck import pipeline
from dldeck.errors import BuildError
from dldeck.model import Collection
from dldeck.verify import verify_collection
from dldeck.verify.runner import MAX_TIMEOUTS
from test_verify_hostile import make_card

SLOW = "expand((x + y + z + 1)**200) == 0"


def test_verification_stops_after_three_timeouts_and_names_the_rest_once() -> None:
    cards = tuple(make_card(f"slow-{i:02}", f"1 == 1\n{SLOW}\n2 == 2\n", order=i) for i in range(12))
    started = time.monotonic()
    report = verify_collection(Collection(cards, ""), timeout=0.5, jobs=2)
    assert time.monotonic() - started < 30  # twelve timeouts of 0.5 s plus restarts would not be bounded
    timeouts = [r for r in report.results if r.status == "timeout"]
    assert MAX_TIMEOUTS <= len(timeouts) <= MAX_TIMEOUTS + 1  # the second worker may finish one meanwhile
    stopped = [d for d in report.diagnostics if "not checked" in d.message]
    assert len(stopped) == 1 and len(report.diagnostics) == len(timeouts) + 1
    assert len(report.not_run) >= 12 - len(timeouts) - 1
    # at the first claim not reached: a card's slow line 2, or its line 3 if line 2 was the one timing out
    first = f"content/{min(report.not_run)}.md"
    assert (stopped[0].path, stopped[0].line) in {(first, 2), (first, 3)}
    assert stopped[0].message.endswith(f"claims of {len(report.not_run)} cards not checked: 3 statements "
                                       "timed out, so verification stopped; fix those first")


CARD = """\
---
deck: 测试
---

## 慢的声明 {{#slow}}

答。

```check
1 == 1
{slow}
{slow2}
```
"""


def _check(content: Path, build_dir: Path, timeout: float) -> tuple[float, list[str]]:
    started = time.monotonic()
    with pytest.raises(BuildError) as caught:
        pipeline.check(content, build_dir, timeout=timeout)
    return time.monotonic() - started, [str(d) for d in caught.value.diagnostics]


def test_a_timed_out_claim_is_remembered_until_its_inputs_change(tmp_path: Path) -> None:
    content, build_dir = tmp_path / "content", tmp_path / "build"
    content.mkdir()
    slow2 = "expand((x + y + 2)**300) == 0"
    (content / "a.md").write_text(CARD.format(slow=SLOW, slow2=slow2), encoding="utf-8")
    first, messages = _check(content, build_dir, timeout=2.0)
    assert first >= 4  # two claims each used up their 2 s
    assert messages == [f"content/a.md:11: timed out after 2 s: «{SLOW}»",
                        f"content/a.md:12: timed out after 2 s: «{slow2}»"]
    again, remembered = _check(content, build_dir, timeout=2.0)
    assert again < 4  # neither claim ran again (together they need 4 s of CPU time)
    suffix = " (remembered from an earlier build: edit the card or raise --timeout to try again)"
    assert remembered == [message + suffix for message in messages]
    # another time limit is another input: the claims run again
    _, rerun = _check(content, build_dir, timeout=1.0)
    assert rerun == [m.replace("after 2 s", "after 1 s") for m in messages]
    # so is an edit of the card
    (content / "a.md").write_text(CARD.format(slow=SLOW, slow2="1 + 1 == 2"), encoding="utf-8")
    _, edited = _check(content, build_dir, timeout=2.0)
    assert edited == [messages[0]]


def test_a_card_too_slow_to_read_times_out_at_its_line_and_the_others_are_checked(monkeypatch) -> None:
    """Workers read their cards (in parallel): reading is under the same CPU limit as checking."""
    import dldeck.verify.runner as runner

    real = runner.card_statements

    def statements(card):
        while card.slug == "unreadable":  # a reader stuck on this card: the worker's CPU limit ends it
            pass
        return real(card)

    monkeypatch.setattr(runner, "card_statements", statements)  # inherited by the forked workers
    cards = (make_card("before", "1 == 1\n"), make_card("unreadable", "1 == 1\n", order=1),
             make_card("after", "2 == 3\n", order=2))
    report = verify_collection(Collection(cards, ""), timeout=0.5, jobs=2)
    stuck = [r for r in report.results if r.slug == "unreadable"]
    assert [(r.status, r.line) for r in stuck] == [("timeout", cards[1].span.line)]
    assert stuck[0].message == "timed out after 0.5 s reading the card's checks and formulas"
    assert [r.status for r in report.results if r.slug == "before"] == ["symbolic"]
    assert [r.status for r in report.results if r.slug == "after"] == ["failed"]
    assert not report.not_run


def test_the_wall_clock_backstop_spares_a_starved_worker_and_ends_a_stuck_one() -> None:
    """Past the backstop a worker is killed only if it used its CPU time there (stuck in C code, where
    the CPU timer's handler cannot run) or is far past it; one a busy machine starves is left alone."""
    import os

    from dldeck.verify.runner import STARVED_FACTOR, _cpu_seconds, _Slot, _stuck, wall_backstop

    class Process:
        pid = os.getpid()

    timeout, now = 2.0, 1000.0
    used = _cpu_seconds(os.getpid())
    assert used is not None and used > 0
    slot = _Slot(Process(), None, task=(0, 0), statement=3, started=now - wall_backstop(timeout) - 1,
                 cpu_started=used)
    assert not _stuck(slot, now, timeout)  # past the backstop, but it has had no CPU since: starved
    slot.cpu_started = used - timeout - 1
    assert _stuck(slot, now, timeout)  # it used more than its CPU time: stuck outside Python
    slot.cpu_started = used
    slot.started = now - wall_backstop(timeout) * STARVED_FACTOR - 1
    assert _stuck(slot, now, timeout)  # far past the backstop: stuck without using CPU
    slot.started = now - 1
    slot.cpu_started = used - 100
    assert not _stuck(slot, now, timeout)  # within the backstop the CPU timer decides


def test_cards_verification_stopped_before_are_checked_by_the_next_build(tmp_path: Path) -> None:
    """A card that verification never reached (it stopped after three timeouts) has no verdicts to
    cache: the next build checks it instead of restoring it as a card without claims."""
    content, build_dir = tmp_path / "content", tmp_path / "build"
    content.mkdir()
    for i in range(8):
        slow = f"expand((x + y + z + {i + 1})**200) == 0"
        text = CARD.format(slow=slow, slow2="1 + 1 == 2").replace("{#slow}", f"{{#slow-{i}}}")
        (content / f"{i}.md").write_text(text, encoding="utf-8")
    _, first = _check(content, build_dir, timeout=0.5)
    assert any("not checked" in message for message in first)
    _, second = _check(content, build_dir, timeout=0.5)
    remembered = [message for message in second if "remembered" in message]
    assert len(second) > len(remembered)  # the cards the first build did not reach were checked now


TWIN = """\
## 慢 {{#slow-{variant}-{copy}}}

答。

```check
1 == 1
expand((x + y + {variant})**200) == 0
{variant} == {variant}
```
"""


def test_the_not_checked_count_includes_the_cards_that_share_a_verified_cards_checks(tmp_path: Path) -> None:
    """Cards with the same checks are verified once; when verification stops, the cards left waiting
    for that one verification were not checked either, and the one message counts them."""
    content = tmp_path / "content"
    content.mkdir()
    cards = [TWIN.format(variant=variant, copy=copy) for variant in range(1, 6) for copy in range(3)]
    (content / "a.md").write_text("---\ndeck: 测试\n---\n\n" + "\n".join(cards), encoding="utf-8")
    _, messages = _check(content, tmp_path / "build", timeout=0.5)
    [stopped] = [m for m in messages if "not checked" in m]
    where, message = stopped.split(": ", 1)
    claims, cards = (int(n) for n in message.split(" cards not checked")[0].split(" claims of "))
    # The 10 cards sharing a verified card's checks ran none of their 3 claims. Of the 5 verified, a
    # card whose slow claim timed out resumes after it and may finish before verification stops.
    assert 10 + 1 <= cards <= 15 and 10 * 3 + 1 <= claims <= 15 * 3
    assert message.endswith("3 statements timed out, so verification stopped; fix those first")
    # the first claim not checked: the first card's last, or the first claim of the first card sharing
    # its checks (line 20) if that one finished
    assert where in ("content/a.md:12", "content/a.md:20")
