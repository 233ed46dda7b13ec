"""The model as JSON (the read cache's form): every card of the real content comes back equal, with
the source positions that take no part in equality, and a malformed entry is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dldeck.model import Text
from dldeck.source import codec, read_collection
from dldeck.source.reader import walk_inlines

CONTENT = Path(__file__).resolve().parents[1] / "content"


def test_every_real_card_round_trips() -> None:
    cards = read_collection(CONTENT).cards
    restored = codec.loads(codec.dumps(codec.encode(cards)))
    assert restored == cards
    lines = [node.lines for card in cards for block in card.answer for node in walk_inlines(block)
             if isinstance(node, Text)]
    again = [node.lines for card in restored for block in card.answer for node in walk_inlines(block)
             if isinstance(node, Text)]
    assert again == lines and any(len(entry) > 1 for entry in lines)


@pytest.mark.parametrize("entry", [
    {"Print": ["x"]},
    {"Text": ["x"]},  # a field missing
    {"Text": ["x", []], "Code": ["y"]},
    {"SourceSpan": "a.md"},
    {"Text": ["x", {"lines": [1]}]},  # a dict that is no model object, inside one
    [{"Text": ["x", []]}, {"Print": []}],
])
def test_an_entry_that_encode_cannot_have_written_is_refused(entry: object) -> None:
    with pytest.raises(ValueError):
        codec.loads(json.dumps(entry))
    with pytest.raises(ValueError):
        codec.loads(entry)  # not even a JSON text


def test_a_digest_ignores_the_cards_place_and_reading_gives_the_same_from_the_encoding() -> None:
    import dataclasses

    cards = read_collection(CONTENT).cards[:40]
    for card in cards:
        moved = dataclasses.replace(card, order=card.order + 1000)
        assert codec.digest(moved) == codec.digest(card)
        assert codec.encoded_digest(codec.encode(moved)) == codec.digest(card)
    assert len({codec.digest(card) for card in cards}) == len(cards)
