"""The model's cards as JSON and back, so a file's parsed cards can be cached between builds and an
edit re-reads only the files whose bytes changed.

A model object is `{"ClassName": [field, …]}` (fields in declaration order), a tuple is a list;
nothing else in a card is a dict or a list. Only the model's own classes are rebuilt, so a cache
entry can name nothing else; one of the wrong shape is refused (ValueError), never half used.
"""

from __future__ import annotations

import dataclasses
import json
import weakref
from typing import Any

from dldeck import buildcache, model
from dldeck.source.outline import OUTLINE, Outline, outline

_CLASSES: dict[str, type] = {
    cls.__name__: cls
    for cls in (model.SourceSpan, model.Text, model.Code, model.Math, model.Computed, model.Strong,
                model.Emph, model.Link, model.Image, model.Cloze, model.LineBreak, model.Paragraph,
                model.DisplayMath, model.CodeBlock, model.ListBlock, model.Quote, model.Table,
                model.CheckBlock, model.FigureBlock, model.Card)
}
_FIELDS: dict[type, tuple[str, ...]] = {cls: tuple(f.name for f in dataclasses.fields(cls))
                                        for cls in _CLASSES.values()}
_ARITY: dict[type, int] = {cls: len(names) for cls, names in _FIELDS.items()}


_DIGESTS: dict[int, str] = {}  # id of a live card → its digest


def digest(card: model.Card) -> str:
    """The hash of everything a card says except its place in the collection (`order`): what the
    per-card caches key on. Known at once for a card the read cache restored (see `remember`)."""
    known = _DIGESTS.get(id(card))
    if known is None:
        known = encoded_digest(encode(card))
        remember(card, known)
    return known


_ORDER = _FIELDS[model.Card].index("order")


def encoded_digest(encoded_card: dict[str, list[Any]]) -> str:
    """`digest` of a card already encoded (as reading does for the cache): not encoded a second time."""
    fields = list(encoded_card["Card"])
    fields[_ORDER] = 0
    return buildcache.hash_json({"Card": fields})


def remember(card: model.Card, value: str) -> None:
    """Note a card's digest (computed when its file was read) for as long as the card lives."""
    if id(card) not in _DIGESTS:
        _DIGESTS[id(card)] = value
        weakref.finalize(card, _DIGESTS.pop, id(card), None)


def encode(value: Any) -> Any:
    """A card (or any part of one) as JSON-able lists, dicts and scalars."""
    if isinstance(value, tuple):
        return [encode(item) for item in value]
    names = _FIELDS.get(type(value))
    if names is not None:
        return {type(value).__name__: [encode(getattr(value, name)) for name in names]}
    if value is None or isinstance(value, str | int | float):
        return value
    raise TypeError(f"not part of the model: {type(value).__name__}")


def dumps(encoded: Any) -> str:
    """Encoded cards as one compact JSON text. A cache keeps a file's cards as this one string, not as
    thousands of small lists and dicts: those stayed scattered through the heap after the cache was
    written (a cold build of 20,000 cards held 175 MB more), and every forked worker inherited them."""
    return json.dumps(encoded, ensure_ascii=False, separators=(",", ":"))


def loads(text: Any) -> Any:
    """The inverse of `dumps` and `encode` in one pass: each model object is built as the JSON parser
    meets it (twice as fast as parsing first and walking the result, which an edit of a large deck
    paid for every unchanged file). ValueError for anything `dumps` cannot have written."""
    if not isinstance(text, str):
        raise ValueError("encoded cards are a JSON text")
    return _tupled(json.loads(text, object_hook=_model_object))


# --------------------------------------------------------------------------- shelved cards

def shelve(card: model.Card, encoded_card: dict[str, list[Any]]) -> list[Any]:
    """A card as the read cache keeps it: what every build asks of every card (its heading fields, its
    check and figure blocks, its outline) as plain JSON, and the rest, its body, as one JSON text that
    `unshelve` leaves undecoded until a build reads it. An edit of a large deck decodes only the cards
    it works on: decoding every card was the largest cost of an edit at 20,000 cards."""
    fields = dict(zip(_FIELDS[model.Card], encoded_card["Card"], strict=True))
    found = outline(card)
    return [card.slug, card.deck, card.section, list(card.tags), list(card.covers), card.kind, card.span.path,
            card.span.line, [list(pair) for pair in card.notation],
            [[block.source, block.span.path, block.span.line] for block in card.checks],
            [[block.source, block.span.path, block.span.line, block.index] for block in card.figures],
            found.claims, [list(formula) for formula in found.formulas],
            dumps([fields[name] for name in model.BODY_FIELDS])]


def unshelve(row: Any, order: int = 0) -> model.Card:
    """A shelved card at `order`, its body still encoded. ValueError for a row of the wrong shape (the
    body's shape is checked when it is decoded)."""
    try:
        (slug, deck, section, tags, covers, kind, path, line, notation, checks, figures, claims, formulas,
         body) = row
    except (TypeError, ValueError):
        raise ValueError("not a shelved card") from None
    if not (type(row) is list and all(type(value) is str for value in (slug, deck, section, kind, path, body))
            and type(line) is int and type(claims) is bool and buildcache.rows_of(notation, str, str)
            and buildcache.rows_of(checks, str, str, int) and buildcache.rows_of(figures, str, str, int, int)
            and buildcache.rows_of(formulas, str, bool) and _strings(tags) and _strings(covers)):
        raise ValueError("not a shelved card")
    span, at = model.SourceSpan(path, line), model.SourceSpan
    card = object.__new__(model.Card)
    card.__dict__.update(
        slug=slug, deck=deck, section=section, tags=tuple(tags), covers=tuple(covers), kind=kind, span=span,
        order=order, notation=tuple([tuple(pair) for pair in notation]))
    card.__dict__[model.SHELVED_CHECKS] = tuple([model.CheckBlock(source, at(file, number))
                                                 for source, file, number in checks])
    card.__dict__[model.SHELVED_FIGURES] = tuple([model.FigureBlock(source, at(file, number), index)
                                                  for source, file, number, index in figures])
    card.__dict__[OUTLINE] = Outline(claims, tuple([tuple(formula) for formula in formulas]))
    card.__dict__[model.UNREAD_BODY] = (_body, body)
    return card


def _strings(value: Any) -> bool:
    return type(value) is list and all(type(item) is str for item in value)


def shelve_all(cards: Any, encoded_cards: Any) -> str:
    """A file's cards as the read cache keeps them: their `shelve` rows as one JSON text. One string
    per file, not thousands of small lists: a cold build of 20,000 cards keeps every file's entry
    until the cache is written, and its forked claim workers map them again."""
    return dumps([shelve(card, encoded) for card, encoded in zip(cards, encoded_cards, strict=True)])


def unshelve_all(text: Any, *, lazy: bool = True) -> list[model.Card]:
    """The cards of a `shelve_all` text, their bodies still encoded (`lazy`) or decoded at once, as a
    cold build needs every card: each body's text is then let go of at once. ValueError for the wrong
    shape."""
    if not isinstance(text, str):
        raise ValueError("shelved cards are a JSON text")
    rows = json.loads(text)
    if type(rows) is not list:
        raise ValueError("shelved cards are a list")
    return [unshelve(row) if lazy else _decoded(unshelve(row)) for row in rows]


def _decoded(card: model.Card) -> model.Card:
    """A shelved card as a plain one: body decoded, and nothing kept twice (its check and figure blocks
    and outline are found in the body when asked for). A cold build's cards are these: each keeps no
    more than a card read here, and is made by the dataclass, whose instances share their keys."""
    return model.Card(**{name: getattr(card, name) for name in _FIELDS[model.Card]})


def placed(card: model.Card, order: int) -> model.Card:
    """The card at `order` in the collection: a copy, with its body still encoded if it was."""
    if card.order == order:
        return card
    if model.UNREAD_BODY not in card.__dict__:
        return dataclasses.replace(card, order=order)
    copy = object.__new__(model.Card)
    copy.__dict__.update(card.__dict__, order=order)
    return copy


def _body(text: str) -> tuple[Any, ...]:
    body = loads(text)
    if not (type(body) is tuple and len(body) == len(model.BODY_FIELDS)
            and all(type(part) is tuple for part in body)):
        raise ValueError("a card's body in the read cache is damaged: delete build/cache and build again")
    return body


def _model_object(value: dict[str, Any]) -> Any:
    if len(value) == 1:
        for name, fields in value.items():
            cls = _CLASSES.get(name)
            if cls is not None and type(fields) is list and len(fields) == _ARITY[cls]:
                return cls(*[_tupled(field) if type(field) is list else field for field in fields])
            raise ValueError(f"not a model object: {name!r}")
    raise ValueError("a model object is a dict of one class name")


def _tupled(value: Any) -> Any:
    """JSON lists as the model's tuples (their items are already model objects or scalars)."""
    if type(value) is list:
        return tuple([_tupled(item) if type(item) is list else item for item in value])
    return value
