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


# --------------------------------------------------------------------------- shelved cards (the read cache)


def _shelved(cards: tuple) -> list:
    return [codec.shelve(card, codec.encode(card)) for card in cards]


def test_every_real_card_comes_back_from_the_shelf_equal_with_its_outline_checks_and_figures() -> None:
    from dldeck.source.outline import outline

    cards = read_collection(CONTENT).cards
    shelf = codec.shelve_all(cards, [codec.encode(card) for card in cards])  # as the read cache keeps it
    restored = [codec.placed(card, order) for order, card in enumerate(codec.unshelve_all(shelf))]
    assert [(r.checks, r.figures, outline(r)) for r in restored] == \
        [(c.checks, c.figures, outline(c)) for c in cards]
    assert any(r.figures for r in restored) and any(r.checks for r in restored)
    assert tuple(restored) == cards  # equality reads (and so decodes) every body


def test_a_shelved_card_answers_header_outline_checks_and_figures_without_decoding_its_body() -> None:
    from dldeck.model import BODY_FIELDS, UNREAD_BODY
    from dldeck.source.outline import outline

    cards = read_collection(CONTENT).cards
    card = next(c for c in cards if c.figures and c.checks)
    shelved = codec.placed(codec.unshelve(json.loads(json.dumps(_shelved((card,))))[0]), card.order)
    assert (shelved.slug, shelved.span, shelved.order, shelved.covers, shelved.notation) == \
        (card.slug, card.span, card.order, card.covers, card.notation)
    assert shelved.figures == card.figures and shelved.checks == card.checks
    assert outline(shelved) == outline(card) and outline(card).claims and outline(card).formulas
    assert UNREAD_BODY in vars(shelved) and not set(BODY_FIELDS) & set(vars(shelved))
    assert shelved.answer == card.answer  # the first read of the body decodes all of it, once
    assert UNREAD_BODY not in vars(shelved) and set(BODY_FIELDS) <= set(vars(shelved))
    assert shelved.question == card.question and shelved.sources == card.sources


@pytest.mark.parametrize("damage", [
    lambda row: row[:-1],  # a part missing
    lambda row: [*row[:-1], 7],  # the body is not a text
    lambda row: [{"Print": ["x"]}, *row[1:]],  # a heading field that is not a text
    lambda row: [*row[:7], "12", *row[8:]],  # the line is not a number
    lambda row: [*row[:9], [["x", "a.md"]], *row[10:]],  # a check block without its line
    lambda row: [*row[:10], [["x", "a.md", 3, "0"]], *row[11:]],  # a figure's index that is not a number
    lambda row: [*row[:11], "yes", *row[12:]],  # whether it has claims, not a truth value
    lambda row: [*row[:12], [["x"]], row[-1]],  # a formula without its display flag
    lambda row: {"Card": row},
])
def test_a_damaged_shelf_row_is_refused_when_it_is_restored(damage) -> None:
    card = read_collection(CONTENT).cards[0]
    row = json.loads(json.dumps(_shelved((card,))))[0]
    with pytest.raises((ValueError, TypeError)):
        codec.unshelve(damage(row))


@pytest.mark.parametrize("shelf", [None, ["a"], "{}", "not json"])
def test_a_shelf_that_is_not_a_text_of_a_list_is_refused(shelf: object) -> None:
    with pytest.raises(ValueError):
        codec.unshelve_all(shelf)


def test_a_damaged_body_says_what_to_do_when_it_is_read() -> None:
    card = read_collection(CONTENT).cards[0]
    row = json.loads(json.dumps(_shelved((card,))))[0]
    shelved = codec.unshelve([*row[:-1], json.dumps([[], []])])
    with pytest.raises(ValueError, match="delete build/cache"):
        _ = shelved.answer
