"""The Anki backend: the model → one reproducible .apkg that updates learners' decks in place.

What makes a re-import safe (measured on Anki 26.x, see DESIGN.md "Anki facts"):
- guid = hash of the slug only, so an edited card is the same note;
- each note's `mod` is the time its rendered content last changed (manifest), so Anki applies
  edits, skips unchanged notes and a rebuild is byte-identical;
- note type ids, names, fields and templates' count never change (fields are chosen up front);
  template/CSS edits travel because the note type's `mod` comes from the manifest too;
- media are flat, content-hashed names; the zip and the SQLite file carry no wall-clock time.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import json
import re
import sqlite3
import tempfile
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import genanki

from dldeck.atomicfile import write_atomically
from dldeck.contain import load_image
from dldeck.emit.markup import (
    LEGEND,
    anki_math,
    caption_inlines,
    computed_value,
    render_blocks,
    render_inlines,
)
from dldeck.errors import BuildError, Diagnostic, quote
from dldeck.manifest import Manifest, build_time, rendered_hash
from dldeck.mathengines.whitelist import FormulaRefused, check_formula
from dldeck.model import (
    Block,
    Card,
    Collection,
    Computed,
    FigureBlock,
    FigureKey,
    Image,
    RenderedFigure,
    SourceSpan,
    Verified,
)

# Fixed forever: changing an id, a field or the template count makes Anki treat notes as conflicts.
BASIC_NOTE_TYPE_ID = 2065582079
CLOZE_NOTE_TYPE_ID = 1119477673
BASIC_NOTE_TYPE_NAME = "dldeck 问答 (Q&A)"
CLOZE_NOTE_TYPE_NAME = "dldeck 填空 (Cloze)"
BASIC_FIELDS = ("Question", "Answer", "Extra", "Figure", "Sources", "Id")
CLOZE_FIELDS = ("Text", "Extra", "Figure", "Sources", "Id")
GUID_NAMESPACE = "dldeck"

ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
# Anki's own markup inside field HTML: media and TTS tags, LaTeX images (rendered by the learner's
# `latex`), the type-answer box. Field text is HTML, so `&#91;` shows as `[` but is no tag to Anki.
_ANKI_MARKUP = re.compile(r"\[(?=sound:|/?anki:|/?latex\]|/?\$\$?\]|\[type:)")
# MathJax finds `\(…\)` and `\[…\]` in any text of the card, not only in our formulas; an empty
# element between backslash and bracket ends MathJax's text run, so text stays text.
_MATHJAX_DELIMITER = re.compile(r"\\(?=[()[\]])")

_BACK_EXTRAS = (
    '{{#Figure}}<div class="figures">{{Figure}}</div>{{/Figure}}\n'
    '{{#Extra}}<div class="extra">{{Extra}}</div>{{/Extra}}\n'
    '{{#Sources}}<div class="sources">{{Sources}}</div>{{/Sources}}\n'
    '<div class="note-id">{{Id}}</div>\n'
    f'<div class="legend">{LEGEND}</div>'
)

# lang: without it AnkiDroid/AnkiMobile on a non-Chinese system draw Han characters with Japanese
# glyph shapes (Han unification picks the locale's CJK face).
_CARD_OPEN = '<div class="dl" lang="zh-CN">'

BASIC_TEMPLATE = {
    "name": "Card 1",
    "qfmt": _CARD_OPEN + '<div class="question">{{Question}}</div></div>',
    "afmt": (
        _CARD_OPEN + '<div class="question">{{Question}}</div>\n<hr id="answer">\n'
        '<div class="answer">{{Answer}}</div>\n' + _BACK_EXTRAS + "</div>"
    ),
}

CLOZE_TEMPLATE = {
    "name": "Cloze",
    "qfmt": _CARD_OPEN + '<div class="cloze-text">{{cloze:Text}}</div></div>',
    "afmt": _CARD_OPEN + '<div class="cloze-text">{{cloze:Text}}</div>\n' + _BACK_EXTRAS + "</div>",
}


def note_guid(slug: str) -> str:
    """A note's identity in every learner's collection: the slug, never the text."""
    return genanki.guid_for(GUID_NAMESPACE, slug)


def deck_id(deck_name: str) -> int:
    """A stable id per deck name (below 2**53 so JavaScript clients read it exactly)."""
    digest = hashlib.sha256(deck_name.encode("utf-8")).digest()
    return (1 << 40) + int.from_bytes(digest[:6], "big")


def anki_tag(tag: str) -> str:
    """Anki separates tags by spaces."""
    return "_".join(tag.split())


def stylesheet() -> str:
    return resources.files("dldeck.emit").joinpath("static/anki.css").read_text(encoding="utf-8")


class _NoteType(genanki.Model):
    """A genanki model whose `mod` is its own (from the manifest), not the build's."""

    def __init__(self, mtime: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.mtime = mtime

    def to_json(self, timestamp: float, deck_id: int) -> dict:
        data = super().to_json(timestamp, deck_id)
        data["mod"] = self.mtime
        # The model's default deck would otherwise be whichever deck genanki wrote last.
        data["did"] = 1
        return data


class _TimedNote(genanki.Note):
    """A note whose `mod` (and its cards') is the time its content last changed."""

    def __init__(self, mtime: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.mtime = mtime


class _Deck(genanki.Deck):
    """A genanki deck whose notes and cards go into the collection in two batches instead of two
    statements per note (about 0.1 s of a 5,000-card deck). The rows, their ids and their order are
    the ones genanki's `Note.write_to_db` writes, each note and its cards at the note's `mtime`."""

    def write_to_db(self, cursor: sqlite3.Cursor, timestamp: float, id_gen: Iterator[int]) -> None:
        notes: list[_TimedNote] = self.notes
        for note in notes:
            self.add_model(note.model)
        self.notes = []  # genanki writes the deck and its note types; the notes are written below
        try:
            super().write_to_db(cursor, timestamp, id_gen)
        finally:
            self.notes = notes
        note_rows, card_rows = [], []
        for note in notes:
            note_id, mtime = next(id_gen), int(note.mtime)
            tags, fields = " " + " ".join(note.tags) + " ", "\x1f".join(note.fields)
            note_rows.append((note_id, note.guid, note.model.model_id, mtime, -1, tags, fields,
                              note.sort_field, 0, 0, ""))
            card_rows.extend((next(id_gen), note_id, self.deck_id, card.ord, mtime, -1, 0,
                              -1 if card.suspend else 0, note.due, 0, 0, 0, 0, 0, 0, 0, 0, "")
                             for card in note.cards)
        cursor.executemany("INSERT INTO notes VALUES(?,?,?,?,?,?,?,?,?,?,?)", note_rows)
        cursor.executemany("INSERT INTO cards VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", card_rows)


def _note_type(
    manifest: Manifest,
    now: int,
    model_id: int,
    name: str,
    fields: Sequence[str],
    template: Mapping[str, str],
) -> _NoteType:
    css = stylesheet()
    mtime = manifest.note_type_mtime(name, _note_type_hash(name, fields, template, css), now)
    return _NoteType(
        mtime,
        model_id=model_id,
        name=name,
        fields=[{"name": field} for field in fields],
        templates=[dict(template)],
        css=css,
        model_type=genanki.Model.CLOZE if model_id == CLOZE_NOTE_TYPE_ID else genanki.Model.FRONT_BACK,
    )


def _note_type_hash(name: str, fields: Sequence[str], template: Mapping[str, str], css: str) -> str:
    return rendered_hash([name, *fields, template["name"], template["qfmt"], template["afmt"], css])


@dataclass
class _Media:
    """Media files by flat name; a name always denotes one content (names are content hashes)."""

    files: dict[str, Path | bytes]

    def add(self, name: str, file: Path | bytes) -> str:
        """`file` is a figure's path (a build product) or a content image's checked bytes."""
        self.files.setdefault(name, file)
        return name


class _CardRenderer:
    def __init__(self, collection: Collection, figures: Mapping[FigureKey, RenderedFigure],
                 verified: Verified) -> None:
        self.collection = collection
        self.figures = figures
        self.verified = verified
        self.media = _Media({})
        self.diagnostics: list[Diagnostic] = []
        self.card: Card | None = None
        self.images = 0  # content images the current card showed

    def computed(self, node: Computed) -> str:
        return computed_value(self.verified, self.card, node, self.diagnostics)

    def image_source(self, image: Image) -> str:
        self.images += 1
        data = load_image(image, self.collection.root, self.diagnostics)
        if data is None:
            return ""
        name = f"img-{hashlib.sha256(data).hexdigest()[:20]}{Path(image.src).suffix.lower()}"
        return self.media.add(name, data)

    def figure_html(self, card: Card, block: FigureBlock) -> str:
        rendered = self.figures.get(FigureKey(card.slug, block.index))
        if rendered is None:
            self.diagnostics.append(
                Diagnostic(
                    block.span.path,
                    block.span.line,
                    f"figure {block.index} of {card.slug!r} was not rendered",
                )
            )
            return ""
        name = self.figure_media(rendered)
        caption = render_inlines(caption_inlines(rendered.caption, block.span), self.math,
                                 text_filter=anki_text)
        figcaption = f"<figcaption>{caption}</figcaption>" if caption else ""
        alt = rendered.alt or rendered.caption
        anchor = f' id="{_attr(rendered.figure_id)}"' if rendered.figure_id else ""
        return f'<figure{anchor}><img src="{_attr(name)}" alt="{_attr(alt)}">{figcaption}</figure>'

    def figure_media(self, rendered: RenderedFigure) -> str:
        png = Path(rendered.png_path)
        return self.media.add(png.name, png)

    def kept_note(self, card: Card, fragments: Any, note_type: str,
                  tags: list[str]) -> tuple[tuple[str, ...], str, str]:
        """The card's fields, its note's guid and the hash of what the learner sees: from `fragments`
        (see dldeck.pipeline.fragments) when kept, its figures' media added again; otherwise made, and
        kept when the fields showed no image and had no problem. The guid and the hash are kept with
        the fields: computing them for every card was about 0.06 s of a 5,000-card build."""
        kept = fragments.get(card) if fragments is not None else None
        size = len(CLOZE_FIELDS if card.kind == "cloze" else BASIC_FIELDS)
        if (isinstance(kept, dict) and isinstance(kept.get("fields"), list) and len(kept["fields"]) == size
                and all(isinstance(field, str) for field in kept["fields"])
                and isinstance(kept.get("guid"), str) and isinstance(kept.get("hash"), str)):
            for block in card.figures:
                self.figure_media(self.figures[FigureKey(card.slug, block.index)])
            return tuple(kept["fields"]), kept["guid"], kept["hash"]
        problems, self.images = len(self.diagnostics), 0
        fields = self.fields(card)
        guid, content_hash = note_guid(card.slug), rendered_hash([note_type, *fields, "\x1f", *tags])
        if fragments is not None:
            fragments.put(card, {"fields": list(fields), "guid": guid, "hash": content_hash},
                          keep=not self.images and len(self.diagnostics) == problems)
        return fields, guid, content_hash

    def math(self, tex: str, display: bool) -> str:
        """Every formula a field gets passes the allow-list here too, whoever called the writer."""
        try:
            check_formula(tex)
        except FormulaRefused as refused:
            where = self.card.span if self.card is not None else SourceSpan(self.collection.root, 0)
            message = f"formula refused: {refused}: {quote(tex)}"
            self.diagnostics.append(Diagnostic(where.path, where.line, message))
            return ""
        return anki_math(tex, display)

    def blocks(self, blocks: Sequence[Block]) -> str:
        return render_blocks(blocks, self.math, lambda _block: "", self.image_source, self.computed,
                             self.verified.formula, anki_text)

    def fields(self, card: Card) -> tuple[str, ...]:
        self.card = card
        figures = "\n".join(self.figure_html(card, block) for block in card.figures)
        extra = self.blocks(card.extra)
        sources = self.blocks(card.sources)
        slug = _text(card.slug)
        question = render_inlines(card.question, self.math, self.image_source, self.computed,
                                  self.verified.formula, anki_text)
        if card.kind == "cloze":
            text = f'<div class="question">{question}</div>\n{self.blocks(card.answer)}'
            fields: tuple[str, ...] = (text, extra, figures, sources, slug)
        else:
            fields = (question, self.blocks(card.answer), extra, figures, sources, slug)
        return tuple(defuse_anki_markup(field) for field in fields)


def _attr(text: str) -> str:
    return html.escape(text, quote=True)


def _text(text: str) -> str:
    return html.escape(text, quote=False)


def anki_text(escaped: str) -> str:
    """Escaped content text as Anki must get it: MathJax delimiters in it stay text."""
    return _MATHJAX_DELIMITER.sub(r"\\<span></span>", escaped)


def defuse_anki_markup(field: str) -> str:
    """`[sound:…]`, `[anki:tts]…`, `[latex]…`, `[[type:…]]` in a field are shown as text, never run."""
    return _ANKI_MARKUP.sub("&#91;", field)


def write_deck(
    collection: Collection,
    figures: Mapping[FigureKey, RenderedFigure],
    manifest: Manifest,
    out_path: Path,
    verified: Verified | None = None,
    fragments: Any = None,
) -> None:
    """Write the whole collection as one .apkg (atomically).

    Records new mtimes in `manifest` but does not save it: the caller saves once every output of
    the build succeeded (see pipeline.build). `fragments`: cards' fields kept from earlier builds
    (dldeck.pipeline.fragments.Fragments).
    """
    now = build_time()
    renderer = _CardRenderer(collection, figures, verified or Verified())
    basic_type = _note_type(
        manifest, now, BASIC_NOTE_TYPE_ID, BASIC_NOTE_TYPE_NAME, BASIC_FIELDS, BASIC_TEMPLATE
    )
    cloze_type = _note_type(
        manifest, now, CLOZE_NOTE_TYPE_ID, CLOZE_NOTE_TYPE_NAME, CLOZE_FIELDS, CLOZE_TEMPLATE
    )

    decks: dict[str, _Deck] = {}
    mtimes: list[int] = [basic_type.mtime, cloze_type.mtime]
    for card in collection.cards:
        note_type = cloze_type if card.kind == "cloze" else basic_type
        tags = list(dict.fromkeys(anki_tag(tag) for tag in card.tags if tag.strip()))
        fields, guid, content_hash = renderer.kept_note(card, fragments, note_type.name, tags)
        mtime = manifest.mtime_for(card.slug, content_hash, now)
        mtimes.append(mtime)
        note = _TimedNote(
            mtime,
            model=note_type,
            fields=list(fields),
            tags=tags,
            guid=guid,
            due=card.order + 1,
        )
        if card.deck not in decks:
            decks[card.deck] = _Deck(deck_id(card.deck), card.deck)
        decks[card.deck].add_note(note)

    if renderer.diagnostics:
        raise BuildError(renderer.diagnostics)

    # The newest content time, not the build time: an unchanged rebuild is byte-identical on any day.
    stamp = max(mtimes)
    package = genanki.Package(list(decks.values()))
    data = _package_bytes(package, renderer.media.files, stamp)
    out_path = Path(out_path)
    write_atomically(out_path, data)


def _package_bytes(package: genanki.Package, media: Mapping[str, Path | bytes], stamp: int) -> bytes:
    """The .apkg as bytes with no wall-clock time in it: fixed zip dates and entry order, fixed ids."""
    with tempfile.TemporaryDirectory(prefix="dldeck-apkg-") as temp_dir:
        db_path = Path(temp_dir) / "collection.anki2"
        connection = sqlite3.connect(db_path)
        try:
            cursor = connection.cursor()
            # A scratch file, read back at once: no syncs to disk. The bytes are the same; packing
            # 20,000 notes took about 0.1 s less (0.65-0.93 s against 0.78-1.01 s, this machine).
            cursor.execute("PRAGMA synchronous = OFF")
            # No warnings to silence: genanki's HTML check of fields ran in its per-note writer, which
            # `_Deck` does not use (and catching warnings is not safe beside the HTML writer's thread).
            package.write_to_db(cursor, stamp, itertools.count(stamp * 1000))
            cursor.execute("UPDATE col SET crt = ?, mod = ?, scm = ?", (stamp, stamp * 1000, stamp * 1000))
            _pin_deck_times(cursor, stamp)
            connection.commit()
            cursor.execute("VACUUM")
        finally:
            connection.close()
        database = db_path.read_bytes()

        buffer = _ZipBuilder()
        buffer.add("collection.anki2", database)
        names = sorted(media)
        buffer.add("media", json.dumps({str(i): name for i, name in enumerate(names)}).encode("utf-8"))
        for index, name in enumerate(names):
            file = media[name]
            buffer.add(str(index), file if isinstance(file, bytes) else Path(file).read_bytes())
        return buffer.finish()


def _pin_deck_times(cursor: sqlite3.Cursor, stamp: int) -> None:
    decks = json.loads(cursor.execute("SELECT decks FROM col").fetchone()[0])
    for deck in decks.values():
        deck["mod"] = stamp
    cursor.execute("UPDATE col SET decks = ?", (json.dumps(decks, sort_keys=True),))


class _ZipBuilder:
    def __init__(self) -> None:
        self._temp = tempfile.SpooledTemporaryFile(max_size=64 << 20)
        self._zip = zipfile.ZipFile(self._temp, "w", compression=zipfile.ZIP_DEFLATED)

    def add(self, name: str, data: bytes) -> None:
        info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.create_system = 3
        info.external_attr = 0o644 << 16
        self._zip.writestr(info, data, compresslevel=6)

    def finish(self) -> bytes:
        self._zip.close()
        self._temp.seek(0)
        data = self._temp.read()
        self._temp.close()
        return data


__all__ = [
    "BASIC_FIELDS",
    "BASIC_NOTE_TYPE_ID",
    "CLOZE_FIELDS",
    "CLOZE_NOTE_TYPE_ID",
    "anki_tag",
    "deck_id",
    "note_guid",
    "stylesheet",
    "write_deck",
]
