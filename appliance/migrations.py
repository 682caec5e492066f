"""Schema migrations, from the first release on: boxes in the field are upgraded in place.

Each migration is a numbered list of SQL statements applied once, in order, by the shared
runner (`core.migrations`): every pending one in one transaction, each recorded in
`schema_migrations`. Never edit a released migration; add one.
"""

from __future__ import annotations

import json

from core import migrations
from core.audit_chain import BOX_FIELDS, GENESIS, event_hash

INITIAL_SCHEMA = [
    'CREATE TABLE "patient" ("id" INTEGER NOT NULL PRIMARY KEY, "mrn" VARCHAR(255) NOT NULL, "last_name" VARCHAR(255) NOT NULL, "first_name" VARCHAR(255) NOT NULL, "dob" DATE NOT NULL, "created_at" DATETIME NOT NULL, "updated_at" DATETIME NOT NULL)',
    'CREATE UNIQUE INDEX "patient_mrn" ON "patient" ("mrn")',
    'CREATE TABLE "scan" ("id" INTEGER NOT NULL PRIMARY KEY, "sha256" VARCHAR(255) NOT NULL, "original_name" TEXT NOT NULL, "source" VARCHAR(255) NOT NULL, "size" INTEGER NOT NULL, "status" VARCHAR(255) NOT NULL, "duplicate_of_id" INTEGER, "page_count" INTEGER, "origin_identity" VARCHAR(255), "received_at" DATETIME NOT NULL, FOREIGN KEY ("duplicate_of_id") REFERENCES "scan" ("id") ON DELETE RESTRICT)',
    'CREATE INDEX "scan_sha256" ON "scan" ("sha256")',
    'CREATE INDEX "scan_status" ON "scan" ("status")',
    'CREATE INDEX "scan_duplicate_of_id" ON "scan" ("duplicate_of_id")',
    'CREATE INDEX "scan_origin_identity" ON "scan" ("origin_identity")',
    'CREATE TABLE "document" ("id" INTEGER NOT NULL PRIMARY KEY, "uid" VARCHAR(255) NOT NULL, "scan_id" INTEGER NOT NULL, "patient_id" INTEGER, "status" VARCHAR(255) NOT NULL, "review_reason" TEXT, "doc_type" VARCHAR(255) NOT NULL, "doc_date" DATE, "first_page" INTEGER NOT NULL, "page_count" INTEGER NOT NULL, "extracted" TEXT, "created_at" DATETIME NOT NULL, "updated_at" DATETIME NOT NULL, FOREIGN KEY ("scan_id") REFERENCES "scan" ("id") ON DELETE RESTRICT, FOREIGN KEY ("patient_id") REFERENCES "patient" ("id") ON DELETE RESTRICT)',
    'CREATE UNIQUE INDEX "document_uid" ON "document" ("uid")',
    'CREATE INDEX "document_scan_id" ON "document" ("scan_id")',
    'CREATE INDEX "document_patient_id" ON "document" ("patient_id")',
    'CREATE INDEX "document_status" ON "document" ("status")',
    'CREATE TABLE "page" ("id" INTEGER NOT NULL PRIMARY KEY, "scan_id" INTEGER NOT NULL, "document_id" INTEGER, "number" INTEGER NOT NULL, "text" TEXT NOT NULL, "text_source" VARCHAR(255) NOT NULL, "confidence" REAL, "rotation" INTEGER NOT NULL, "is_separator" INTEGER NOT NULL, "thumbnail" VARCHAR(255), "problem" TEXT, FOREIGN KEY ("scan_id") REFERENCES "scan" ("id") ON DELETE RESTRICT, FOREIGN KEY ("document_id") REFERENCES "document" ("id") ON DELETE RESTRICT)',
    'CREATE INDEX "page_scan_id" ON "page" ("scan_id")',
    'CREATE INDEX "page_document_id" ON "page" ("document_id")',
    'CREATE UNIQUE INDEX "page_scan_id_number" ON "page" ("scan_id", "number")',
    'CREATE TABLE "job" ("id" INTEGER NOT NULL PRIMARY KEY, "scan_id" INTEGER NOT NULL, "state" VARCHAR(255) NOT NULL, "attempts" INTEGER NOT NULL, "owner" VARCHAR(255), "claimed_at" DATETIME, "pages_total" INTEGER, "pages_done" INTEGER NOT NULL, "last_error" TEXT, "created_at" DATETIME NOT NULL, "finished_at" DATETIME, FOREIGN KEY ("scan_id") REFERENCES "scan" ("id") ON DELETE RESTRICT)',
    'CREATE UNIQUE INDEX "job_scan_id" ON "job" ("scan_id")',
    'CREATE INDEX "job_state" ON "job" ("state")',
    'CREATE TABLE "quarantine" ("id" INTEGER NOT NULL PRIMARY KEY, "scan_id" INTEGER, "original_name" TEXT NOT NULL, "reason" TEXT NOT NULL, "detail" TEXT, "created_at" DATETIME NOT NULL, "resolved_at" DATETIME, "resolution" VARCHAR(255), FOREIGN KEY ("scan_id") REFERENCES "scan" ("id") ON DELETE RESTRICT)',
    'CREATE INDEX "quarantine_scan_id" ON "quarantine" ("scan_id")',
    'CREATE TABLE "user" ("id" INTEGER NOT NULL PRIMARY KEY, "username" VARCHAR(255) NOT NULL, "password_hash" VARCHAR(255) NOT NULL, "role" VARCHAR(255) NOT NULL, "active" INTEGER NOT NULL, "created_at" DATETIME NOT NULL)',
    'CREATE UNIQUE INDEX "user_username" ON "user" ("username")',
    'CREATE TABLE "audit_event" ("id" INTEGER NOT NULL PRIMARY KEY, "at" DATETIME NOT NULL, "actor" VARCHAR(255) NOT NULL, "action" VARCHAR(255) NOT NULL, "object_type" VARCHAR(255), "object_id" VARCHAR(255), "address" VARCHAR(255), "detail" TEXT)',
    'CREATE INDEX "audit_event_at" ON "audit_event" ("at")',
    'CREATE INDEX "audit_event_action" ON "audit_event" ("action")',
    # Full-text index over page text; rowid is page.id.
    "CREATE VIRTUAL TABLE page_fts USING fts5(text, tokenize = 'unicode61 remove_diacritics 2')",
    # Audit events are append-only: the database itself refuses to change or remove one.
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
    "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
]

WEB_SESSIONS_AND_RATE_LIMITS = [
    'CREATE TABLE "web_session" ("id" INTEGER NOT NULL PRIMARY KEY, "token" VARCHAR(255) NOT NULL, '
    '"user_id" INTEGER NOT NULL, "address" VARCHAR(255), "created_at" DATETIME NOT NULL, '
    '"last_seen_at" DATETIME NOT NULL, "ended_at" DATETIME, "end_reason" VARCHAR(255), '
    'FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE)',
    'CREATE UNIQUE INDEX "web_session_token" ON "web_session" ("token")',
    'CREATE INDEX "web_session_user_id" ON "web_session" ("user_id")',
    # Counters for the login rate limiter, shared by every web worker process.
    "CREATE TABLE rate_limit (key TEXT PRIMARY KEY, count INTEGER NOT NULL, expires_at REAL NOT NULL)",
    'CREATE INDEX "patient_last_name" ON "patient" ("last_name")',
    'CREATE INDEX "document_doc_date" ON "document" ("doc_date")',
]

SYNC_OUTBOX = [
    # One row per change to send to the hub, written in the same transaction as the change.
    'CREATE TABLE "outbox" ("id" INTEGER NOT NULL PRIMARY KEY, "kind" VARCHAR(32) NOT NULL, '
    '"object_key" VARCHAR(255) NOT NULL, "created_at" DATETIME NOT NULL, "batch_id" INTEGER, '
    '"synced_at" DATETIME, "attempts" INTEGER NOT NULL DEFAULT 0, "last_error" TEXT, '
    '"poisoned_at" DATETIME, "poison_reason" TEXT)',
    'CREATE INDEX "outbox_pending" ON "outbox" ("synced_at", "poisoned_at", "id")',
    'CREATE INDEX "outbox_batch_id" ON "outbox" ("batch_id")',
    # A batch is kept, body and all, until the hub has answered it: a resend is byte-identical.
    'CREATE TABLE "sync_batch" ("id" INTEGER NOT NULL PRIMARY KEY, "batch_uid" VARCHAR(64) NOT NULL, '
    '"seq" INTEGER NOT NULL, "body" TEXT NOT NULL, "created_at" DATETIME NOT NULL, "committed_at" DATETIME)',
    'CREATE UNIQUE INDEX "sync_batch_batch_uid" ON "sync_batch" ("batch_uid")',
    'CREATE TABLE "sync_state" ("key" VARCHAR(64) NOT NULL PRIMARY KEY, "value" TEXT NOT NULL)',
    # Everything recorded before this release is sent too.
    'INSERT INTO "outbox" ("kind", "object_key", "created_at") '
    'SELECT \'patient\', CAST("id" AS TEXT), "created_at" FROM "patient"',
    'INSERT INTO "outbox" ("kind", "object_key", "created_at") '
    'SELECT \'document\', "uid", "created_at" FROM "document"',
]

EVICTION = [
    'ALTER TABLE "scan" ADD COLUMN "evicted_at" DATETIME',
]

SYNC_CONFLICTS = [
    # A change from head office that met an unsent local edit: kept for a person to decide.
    'CREATE TABLE "sync_conflict" ("id" INTEGER NOT NULL PRIMARY KEY, "kind" VARCHAR(64) NOT NULL, '
    '"object_key" VARCHAR(255) NOT NULL, "hub_version" TEXT NOT NULL, "box_version" TEXT NOT NULL, '
    '"created_at" DATETIME NOT NULL, "resolved_at" DATETIME, "resolution" VARCHAR(64), "resolved_by" VARCHAR(255))',
]

AUDIT_TO_HUB = [
    # Audit events go to the hub too; those recorded before this release are queued now.
    'INSERT INTO "outbox" ("kind", "object_key", "created_at") '
    'SELECT \'audit\', CAST("id" AS TEXT), "at" FROM "audit_event"',
]

SET_ASIDE = [
    'ALTER TABLE "outbox" RENAME COLUMN "poisoned_at" TO "set_aside_at"',
    'ALTER TABLE "outbox" RENAME COLUMN "poison_reason" TO "set_aside_reason"',
]

REGISTER_AND_SETTINGS = [
    # Where a patient came from: the register import, a document (ingest), staff, or head office.
    'ALTER TABLE "patient" ADD COLUMN "source" VARCHAR(16) NOT NULL DEFAULT \'ingest\'',
    'CREATE INDEX "patient_dob" ON "patient" ("dob")',
    # Settings an admin changes on the box's own pages (document types, the register's state).
    'CREATE TABLE "box_setting" ("key" VARCHAR(64) NOT NULL PRIMARY KEY, "value" TEXT NOT NULL, '
    '"updated_at" DATETIME NOT NULL)',
]

TWO_STEP_SIGN_IN = [
    # TOTP secrets are sealed with the box's key; recovery codes and pending sign-ins are hashed.
    'ALTER TABLE "user" ADD COLUMN "totp_secret" TEXT',
    'ALTER TABLE "user" ADD COLUMN "totp_pending" TEXT',
    'ALTER TABLE "user" ADD COLUMN "totp_last_step" INTEGER',
    'ALTER TABLE "user" ADD COLUMN "mfa_enabled_at" DATETIME',
    'CREATE TABLE "recovery_code" ("id" INTEGER NOT NULL PRIMARY KEY, "user_id" INTEGER NOT NULL, '
    '"code_hash" VARCHAR(255) NOT NULL, "created_at" DATETIME NOT NULL, "used_at" DATETIME, '
    'FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "recovery_code_user_id" ON "recovery_code" ("user_id")',
    'CREATE TABLE "sign_in_challenge" ("id" INTEGER NOT NULL PRIMARY KEY, "token_hash" VARCHAR(255) NOT NULL, '
    '"user_id" INTEGER NOT NULL, "purpose" VARCHAR(255) NOT NULL, "next_url" TEXT, "address" VARCHAR(255), '
    '"created_at" DATETIME NOT NULL, "expires_at" DATETIME NOT NULL, "attempts" INTEGER NOT NULL, '
    '"ended_at" DATETIME, FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE)',
    'CREATE UNIQUE INDEX "sign_in_challenge_token_hash" ON "sign_in_challenge" ("token_hash")',
    'CREATE INDEX "sign_in_challenge_user_id" ON "sign_in_challenge" ("user_id")',
]

NO_UPDATE_TRIGGER = (
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END"
)


def chain_existing_audit_events(db) -> None:
    """Chain the events recorded before the chain existed, oldest first, as `appliance.audit`
    chains new ones; the append-only trigger is lifted for this alone, inside the migration's
    transaction, and put back."""
    rows = db.execute_sql(
        'SELECT "id", "at", "actor", "action", "object_type", "object_id", "address", "detail" '
        'FROM "audit_event" ORDER BY "id"'
    ).fetchall()
    links, prev_hash = [], GENESIS
    for event_id, at, actor, action, object_type, object_id, address, detail in rows:
        values = (
            str(event_id),
            at,
            actor,
            action,
            object_type,
            object_id,
            address,
            json.loads(detail) if detail else None,
        )
        hashed = event_hash(dict(zip(BOX_FIELDS, values, strict=True)), prev_hash)
        links.append((prev_hash, hashed, event_id))
        prev_hash = hashed
    db.execute_sql("DROP TRIGGER audit_event_no_update")
    db.cursor().executemany('UPDATE "audit_event" SET "prev_hash" = ?, "hash" = ? WHERE "id" = ?', links)
    db.execute_sql(NO_UPDATE_TRIGGER)


AUDIT_CHAIN = [
    # Each event carries the hash of the one before it; no two can follow the same one.
    'ALTER TABLE "audit_event" ADD COLUMN "prev_hash" VARCHAR(64)',
    'ALTER TABLE "audit_event" ADD COLUMN "hash" VARCHAR(64)',
    chain_existing_audit_events,
    'CREATE UNIQUE INDEX "audit_event_prev_hash" ON "audit_event" ("prev_hash")',
]

TRASH = [
    # A document staff moved to the trash: when, by whom, why, and the status it goes back to.
    'ALTER TABLE "document" ADD COLUMN "trashed_at" DATETIME',
    'ALTER TABLE "document" ADD COLUMN "trashed_by" VARCHAR(255)',
    'ALTER TABLE "document" ADD COLUMN "trash_reason" VARCHAR(32)',
    'ALTER TABLE "document" ADD COLUMN "trashed_from" VARCHAR(32)',
    'CREATE INDEX "document_trashed_at" ON "document" ("trashed_at")',
]

# The vocabulary filled from the index as it stands (fts5vocab reads every posting list once).
FILL_SEARCH_TERMS = [
    "CREATE VIRTUAL TABLE temp.page_vocab USING fts5vocab(main, page_fts, row)",
    'INSERT INTO "search_term" ("term", "pages") SELECT term, doc FROM temp.page_vocab',
    "DROP TABLE temp.page_vocab",
]

SEARCH_TERMS_AND_WORD_BOXES = [
    # Where each OCR word sits on its page image (appliance.word_boxes), for highlighting hits.
    'ALTER TABLE "page" ADD COLUMN "word_boxes" BLOB',
    # Search groups matching pages by document: this small index answers page -> document from
    # the cache, where the page rows with their text would be read from disk (appliance.search).
    'CREATE INDEX "page_search" ON "page" ("id", "document_id", "number")',
    # Every word of the search index with the number of pages it is on: the vocabulary that
    # search's spelling suggestions are drawn from (fts5vocab itself reads every posting list
    # on every query: ~150 ms at 20,000 pages).
    'CREATE TABLE "search_term" ("term" TEXT NOT NULL PRIMARY KEY, "pages" INTEGER NOT NULL) WITHOUT ROWID',
    *FILL_SEARCH_TERMS,
]

TAGS_AND_NOTES = [
    # Box-local tags and one note per document (sent to the hub with the document), and a full-text
    # index over them (rowid = document.id) so a tag or a note word finds the document.
    'CREATE TABLE "document_tag" ("id" INTEGER NOT NULL PRIMARY KEY, "document_id" INTEGER NOT NULL, '
    '"tag" VARCHAR(40) NOT NULL, "created_at" DATETIME NOT NULL, '
    'FOREIGN KEY ("document_id") REFERENCES "document" ("id") ON DELETE CASCADE)',
    'CREATE UNIQUE INDEX "document_tag_document_id_tag" ON "document_tag" ("document_id", "tag")',
    'CREATE INDEX "document_tag_tag" ON "document_tag" ("tag")',
    'CREATE TABLE "document_note" ("id" INTEGER NOT NULL PRIMARY KEY, "document_id" INTEGER NOT NULL, '
    '"text" TEXT NOT NULL, "updated_at" DATETIME NOT NULL, "updated_by" VARCHAR(255) NOT NULL, '
    'FOREIGN KEY ("document_id") REFERENCES "document" ("id") ON DELETE CASCADE)',
    'CREATE UNIQUE INDEX "document_note_document_id" ON "document_note" ("document_id")',
    "CREATE VIRTUAL TABLE annotation_fts USING fts5(tags, note, tokenize = 'unicode61 remove_diacritics 2')",
]

MIGRATIONS: list[tuple[int, str, list[migrations.Step]]] = [
    (1, "initial schema", INITIAL_SCHEMA),
    (2, "web sessions and rate limits", WEB_SESSIONS_AND_RATE_LIMITS),
    (3, "sync outbox", SYNC_OUTBOX),
    (4, "originals evicted after sync", EVICTION),
    (5, "sync conflicts", SYNC_CONFLICTS),
    (6, "audit events to the hub", AUDIT_TO_HUB),
    (7, "one word: set aside", SET_ASIDE),
    (8, "patient register and box settings", REGISTER_AND_SETTINGS),
    (9, "two-step sign-in", TWO_STEP_SIGN_IN),
    (10, "hash-chained audit events", AUDIT_CHAIN),
    (11, "document trash", TRASH),
    (13, "search vocabulary and OCR word boxes", SEARCH_TERMS_AND_WORD_BOXES),
    (14, "document tags and notes", TAGS_AND_NOTES),
]


def migrate(db) -> list[int]:
    """Apply every pending box migration; the versions applied now."""
    return migrations.migrate(db, MIGRATIONS)


def current_version(db) -> int:
    """The highest applied migration version (0 for an empty database)."""
    return migrations.current_version(db)
