"""The box's records: patients, scans, documents, pages, jobs, quarantine, users, web sessions
and audit events (`MODELS`), then the sync agent's outbox, batches, state and conflicts.

The schema itself is created by `migrations.py` (frozen SQL); these classes must match it.
"""

from __future__ import annotations

import json
import uuid

import peewee as pw

from core.clock import utcnow

from .db import database


class JSONField(pw.TextField):
    def db_value(self, value):
        return None if value is None else json.dumps(value, sort_keys=True)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(pw.Model):
    class Meta:
        database = database
        legacy_table_names = False


class Patient(BaseModel):
    id = pw.AutoField()
    mrn = pw.CharField(unique=True)
    last_name = pw.CharField()
    first_name = pw.CharField()
    dob = pw.DateField(index=True)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)
    source = pw.CharField(max_length=16, default="ingest")

    SOURCES = ("register", "ingest", "staff", "hub")

    @property
    def display_name(self) -> str:
        return f"{self.last_name}, {self.first_name}"

    def as_dict(self) -> dict:
        return {"mrn": self.mrn, "name": self.display_name, "dob": self.dob.isoformat()}


class Scan(BaseModel):
    """One file received (from the inbox, an upload or the CLI)."""

    id = pw.AutoField()
    sha256 = pw.CharField(index=True)
    original_name = pw.TextField()
    source = pw.CharField(default="inbox")
    size = pw.BigIntegerField()
    status = pw.CharField(default="pending", index=True)
    duplicate_of = pw.ForeignKeyField("self", null=True, backref="duplicates", on_delete="RESTRICT")
    page_count = pw.IntegerField(null=True)
    origin_identity = pw.CharField(null=True, index=True)
    received_at = pw.DateTimeField(default=utcnow)
    evicted_at = pw.DateTimeField(null=True)

    STATUSES = ("pending", "processing", "processed", "quarantined", "duplicate", "purged")

    @classmethod
    def original_of(cls, sha256: str):
        """The first scan recorded with this content, if any (a purged one no longer counts)."""
        return (
            cls.select()
            .where(cls.sha256 == sha256, cls.duplicate_of.is_null(), cls.status != "purged")
            .order_by(cls.id)
            .first()
        )


class Document(BaseModel):
    """A document cut from a scan (a scan holds one, or several when separator sheets split it)."""

    id = pw.AutoField()
    uid = pw.CharField(unique=True, default=lambda: str(uuid.uuid4()))
    scan = pw.ForeignKeyField(Scan, backref="documents", on_delete="RESTRICT")
    patient = pw.ForeignKeyField(Patient, null=True, backref="documents", on_delete="RESTRICT")
    scan_id: int  # the raw key peewee exposes beside `scan`, declared for the type checker
    status = pw.CharField(index=True)
    review_reason = pw.TextField(null=True)
    doc_type = pw.CharField(default="other")
    doc_date = pw.DateField(null=True)
    first_page = pw.IntegerField()
    page_count = pw.IntegerField()
    extracted = JSONField(null=True)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)
    trashed_at = pw.DateTimeField(null=True, index=True)
    trashed_by = pw.CharField(null=True)
    trash_reason = pw.CharField(max_length=32, null=True)
    trashed_from = pw.CharField(max_length=32, null=True)

    STATUSES = ("filed", "needs_review", "trashed")
    TRASH_REASONS = ("not_patient_document", "discarded")


class Page(BaseModel):
    id = pw.AutoField()
    scan = pw.ForeignKeyField(Scan, backref="pages", on_delete="RESTRICT")
    document = pw.ForeignKeyField(Document, null=True, backref="pages", on_delete="RESTRICT")
    number = pw.IntegerField()
    text = pw.TextField(default="")
    text_source = pw.CharField(default="ocr")
    confidence = pw.FloatField(null=True)
    rotation = pw.IntegerField(default=0)
    is_separator = pw.BooleanField(default=False)
    thumbnail = pw.CharField(null=True)
    problem = pw.TextField(null=True)
    word_boxes = pw.BlobField(null=True)

    class Meta:
        # page_search: page -> document for search without reading the page rows (appliance.search).
        indexes = ((("scan", "number"), True), (("id", "document", "number"), False))


class DocumentTag(BaseModel):
    """A box-local tag on a document (staff's own words: "insurance", "to call back")."""

    id = pw.AutoField()
    # index=False: the unique index on (document, tag) serves lookups by document.
    document = pw.ForeignKeyField(Document, backref="tags", on_delete="CASCADE", index=False)
    tag = pw.CharField(max_length=40, index=True)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("document", "tag"), True),)


class DocumentNote(BaseModel):
    """The staff note on a document (one per document, edited in place)."""

    id = pw.AutoField()
    document = pw.ForeignKeyField(Document, backref="notes", unique=True, on_delete="CASCADE")
    text = pw.TextField()
    updated_at = pw.DateTimeField(default=utcnow)
    updated_by = pw.CharField()


class Job(BaseModel):
    """Durable work item: OCR and file one scan."""

    id = pw.AutoField()
    scan = pw.ForeignKeyField(Scan, unique=True, backref="jobs", on_delete="RESTRICT")
    state = pw.CharField(default="pending", index=True)
    attempts = pw.IntegerField(default=0)
    owner = pw.CharField(null=True)
    claimed_at = pw.DateTimeField(null=True)
    pages_total = pw.IntegerField(null=True)
    pages_done = pw.IntegerField(default=0)
    last_error = pw.TextField(null=True)
    created_at = pw.DateTimeField(default=utcnow)
    finished_at = pw.DateTimeField(null=True)

    STATES = ("pending", "running", "done")


class Quarantine(BaseModel):
    id = pw.AutoField()
    scan = pw.ForeignKeyField(Scan, null=True, backref="quarantine", on_delete="RESTRICT")
    original_name = pw.TextField()
    reason = pw.TextField()
    detail = pw.TextField(null=True)
    created_at = pw.DateTimeField(default=utcnow)
    resolved_at = pw.DateTimeField(null=True)
    resolution = pw.CharField(null=True)


class User(BaseModel):
    id = pw.AutoField()
    username = pw.CharField(unique=True)
    password_hash = pw.CharField()
    role = pw.CharField(default="staff")
    active = pw.BooleanField(default=True)
    created_at = pw.DateTimeField(default=utcnow)
    # Two-step sign-in: the TOTP secret sealed with the box's key (core.mfa.seal), one being set
    # up and not yet confirmed, and the last time step used (a code is refused a second time).
    totp_secret = pw.TextField(null=True)
    totp_pending = pw.TextField(null=True)
    totp_last_step = pw.BigIntegerField(null=True)
    mfa_enabled_at = pw.DateTimeField(null=True)

    ROLES = ("staff", "admin")

    @property
    def has_mfa(self) -> bool:
        return self.totp_secret is not None


class WebSession(BaseModel):
    """A signed-in browser: the cookie holds only `token`; ending the row ends the session."""

    id = pw.AutoField()
    token = pw.CharField(unique=True)
    user = pw.ForeignKeyField(User, backref="sessions", on_delete="CASCADE")
    address = pw.CharField(null=True)
    created_at = pw.DateTimeField(default=utcnow)
    last_seen_at = pw.DateTimeField(default=utcnow)
    ended_at = pw.DateTimeField(null=True)
    end_reason = pw.CharField(null=True)


class RecoveryCode(BaseModel):
    """One of a user's ten single-use recovery codes, as an argon2 hash."""

    id = pw.AutoField()
    user = pw.ForeignKeyField(User, backref="recovery_codes", on_delete="CASCADE")
    code_hash = pw.CharField()
    created_at = pw.DateTimeField(default=utcnow)
    used_at = pw.DateTimeField(null=True)


class SignInChallenge(BaseModel):
    """A sign-in half done: the password was right, the second factor (or its setup) is still due.
    The browser holds only a random token; the row holds its hash and expires within minutes."""

    id = pw.AutoField()
    token_hash = pw.CharField(unique=True)
    user = pw.ForeignKeyField(User, backref="challenges", on_delete="CASCADE")
    purpose = pw.CharField()
    next_url = pw.TextField(null=True)
    address = pw.CharField(null=True)
    created_at = pw.DateTimeField(default=utcnow)
    expires_at = pw.DateTimeField()
    attempts = pw.IntegerField(default=0)
    ended_at = pw.DateTimeField(null=True)

    PURPOSES = ("code", "setup")


class AuditEvent(BaseModel):
    """Append-only: the database refuses updates and deletes (see migrations). Each event
    carries the hash of the one before it (`appliance.audit`, `core.audit_chain`)."""

    id = pw.AutoField()
    at = pw.DateTimeField(default=utcnow, index=True)
    actor = pw.CharField()
    action = pw.CharField(index=True)
    object_type = pw.CharField(null=True)
    object_id = pw.CharField(null=True)
    address = pw.CharField(null=True)
    detail = JSONField(null=True)
    prev_hash = pw.CharField(max_length=64, null=True, unique=True)
    hash = pw.CharField(max_length=64, null=True)


MODELS = [Patient, Scan, Document, Page, Job, Quarantine, User, WebSession, RecoveryCode, SignInChallenge, AuditEvent]


class Outbox(BaseModel):
    """A change waiting for the hub: kind `document` (key: uid), `document_removed` (uid) or
    `patient` (key: patient id). The payload is built from the current state when it is sent."""

    id = pw.AutoField()
    kind = pw.CharField()
    object_key = pw.CharField()
    created_at = pw.DateTimeField(default=utcnow)
    batch_id = pw.IntegerField(null=True)
    synced_at = pw.DateTimeField(null=True)
    attempts = pw.IntegerField(default=0)
    last_error = pw.TextField(null=True)
    set_aside_at = pw.DateTimeField(null=True)
    set_aside_reason = pw.TextField(null=True)


class SyncBatch(BaseModel):
    id = pw.AutoField()
    batch_uid = pw.CharField(unique=True)
    seq = pw.IntegerField()
    body = pw.TextField()
    created_at = pw.DateTimeField(default=utcnow)
    committed_at = pw.DateTimeField(null=True)


class BoxSetting(BaseModel):
    """A setting an admin changes on the box's pages; the value is JSON."""

    key = pw.CharField(primary_key=True, max_length=64)
    value = JSONField()
    updated_at = pw.DateTimeField(default=utcnow)


class SyncState(BaseModel):
    key = pw.CharField(primary_key=True)
    value = pw.TextField()


class SyncConflict(BaseModel):
    """A head-office change that met a local edit not yet at the hub; never applied silently."""

    id = pw.AutoField()
    kind = pw.CharField()
    object_key = pw.CharField()
    hub_version = JSONField()
    box_version = JSONField()
    created_at = pw.DateTimeField(default=utcnow)
    resolved_at = pw.DateTimeField(null=True)
    resolution = pw.CharField(null=True)
    resolved_by = pw.CharField(null=True)
