"""Tags and notes on documents: staff's own words, kept on the box, sent to the hub with the
document and indexed for search (`annotation_fts`, rowid = document id). Audited by counts only:
tags and notes may name the patient, so their words never go into the trail or the logs."""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import audit, outbox
from .db import database
from .models import Document, DocumentNote, DocumentTag, utcnow

MAX_TAGS = 20
MAX_TAG_LENGTH = 40
MAX_NOTE_LENGTH = 5000
TAG_TEXT = re.compile(r"^[\w][\w \-/.]*$")


class AnnotationError(ValueError):
    """The tags or the note cannot be kept as given."""


@dataclass
class Annotations:
    tags: list[str]
    note: str | None
    note_updated_by: str | None = None
    note_updated_at: object = None


def parse_tags(text: str) -> list[str]:
    """Tags from what staff typed: separated by commas, spaces inside a tag kept, case folded, each once."""
    tags: list[str] = []
    for raw in (text or "").split(","):
        tag = " ".join(raw.split()).lower()
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            raise AnnotationError(f"a tag may have at most {MAX_TAG_LENGTH} characters")
        if not TAG_TEXT.match(tag):
            raise AnnotationError("a tag is letters, digits, spaces and - / . only")
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise AnnotationError(f"a document may have at most {MAX_TAGS} tags")
    return sorted(tags)


def annotations_of(document: Document | int) -> Annotations:
    """The document's tags (sorted) and its note."""
    document_id = document.id if isinstance(document, Document) else document
    tags = [t for (t,) in DocumentTag.select(DocumentTag.tag).where(DocumentTag.document == document_id).tuples()]
    note = DocumentNote.get_or_none(DocumentNote.document == document_id)
    if note is None:
        return Annotations(sorted(tags), None)
    return Annotations(sorted(tags), note.text, note.updated_by, note.updated_at)


def _index(document_id: int, tags: list[str], note: str | None) -> None:
    database.execute_sql("DELETE FROM annotation_fts WHERE rowid = ?", (document_id,))
    if tags or note:
        database.execute_sql(
            "INSERT INTO annotation_fts (rowid, tags, note) VALUES (?, ?, ?)",
            (document_id, ", ".join(tags), note or ""),
        )


def _store(document_id: int, tags: list[str], note: str | None, actor: str) -> None:
    DocumentTag.delete().where((DocumentTag.document == document_id) & DocumentTag.tag.not_in(tags)).execute()
    if tags:
        DocumentTag.insert_many(
            [{"document": document_id, "tag": tag, "created_at": utcnow()} for tag in tags]
        ).on_conflict_ignore().execute()
    if note:
        DocumentNote.insert(document=document_id, text=note, updated_at=utcnow(), updated_by=actor).on_conflict(
            conflict_target=[DocumentNote.document],
            update={DocumentNote.text: note, DocumentNote.updated_at: utcnow(), DocumentNote.updated_by: actor},
        ).execute()
    else:
        DocumentNote.delete().where(DocumentNote.document == document_id).execute()
    _index(document_id, tags, note)


def annotate(
    document: Document, *, tags: list[str], note: str | None, actor: str, address: str | None = None
) -> Annotations:
    """Keep `tags` and `note` as the document's own (audited by counts, queued for the hub)."""
    note = (note or "").strip() or None
    if note and len(note) > MAX_NOTE_LENGTH:
        raise AnnotationError(f"a note may have at most {MAX_NOTE_LENGTH} characters")
    before = annotations_of(document)
    if before.tags == tags and before.note == note:
        return before
    with database.atomic():
        _store(document.id, tags, note, actor)
        Document.update(updated_at=utcnow()).where(Document.id == document.id).execute()
        outbox.document_changed(document)
        audit.record(
            "document.annotate",
            actor=actor,
            obj=document,
            address=address,
            tags=len(tags),
            tags_added=len(set(tags) - set(before.tags)),
            tags_removed=len(set(before.tags) - set(tags)),
            note="removed" if before.note and not note else "written" if note != before.note else "unchanged",
        )
    return annotations_of(document)


def carry_over(target: Document, source: Document) -> None:
    """Before `source` is merged into `target`: its tags join the target's, its note follows the
    target's (call inside the merge's transaction)."""
    kept, moved = annotations_of(target), annotations_of(source)
    if not moved.tags and not moved.note:
        return
    tags = sorted(set(kept.tags) | set(moved.tags))
    note = "\n\n".join(n for n in (kept.note, moved.note) if n) or None
    _store(target.id, tags, note, moved.note_updated_by or kept.note_updated_by or "system")
    _index(source.id, [], None)


def tags_by_document(document_ids) -> dict[int, list[str]]:
    """Each listed document's tags (sorted), for lists that show them."""
    found: dict[int, list[str]] = {}
    query = (
        DocumentTag.select(DocumentTag.document, DocumentTag.tag)
        .where(DocumentTag.document.in_(list(document_ids)))
        .order_by(DocumentTag.tag)
        .tuples()
    )
    for document_id, tag in query:
        found.setdefault(document_id, []).append(tag)
    return found
