"""The hub's tables. Every row that holds clinic data carries its organisation, so isolation
is one WHERE clause away in every query.

The schema itself is created by `migrations.py` (frozen SQL per dialect); these classes must
match it.
"""

from __future__ import annotations

import json

import peewee as pw

from core.clock import utcnow

from .db import database

ROLES = ("org_admin", "viewer", "billing", "it")


class BaseModel(pw.Model):
    class Meta:
        database = database
        legacy_table_names = False


class Organisation(BaseModel):
    uid = pw.CharField(unique=True)
    name = pw.CharField(unique=True)
    created_at = pw.DateTimeField(default=utcnow)


class Clinic(BaseModel):
    organisation = pw.ForeignKeyField(Organisation, backref="clinics", on_delete="RESTRICT")
    name = pw.CharField()
    created_at = pw.DateTimeField(default=utcnow)
    date_order = pw.CharField(max_length=3, null=True)
    ocr_language = pw.CharField(max_length=64, null=True)

    class Meta:
        indexes = ((("organisation", "name"), True),)


class User(BaseModel):
    organisation = pw.ForeignKeyField(Organisation, backref="users", on_delete="RESTRICT")
    email = pw.CharField(unique=True)
    password_hash = pw.CharField()
    role = pw.CharField()
    active = pw.BooleanField(default=True)
    created_at = pw.DateTimeField(default=utcnow)
    password_changed_at = pw.DateTimeField(default=utcnow)
    # Two-step sign-in: the TOTP secret sealed with the hub's key (core.mfa.seal), one being set up
    # and not yet confirmed, the last time step used (no replay), and when the grace period for
    # roles that must have it started (the user's creation, or the feature's first run).
    totp_secret = pw.TextField(null=True)
    totp_pending = pw.TextField(null=True)
    totp_last_step = pw.BigIntegerField(null=True)
    mfa_enabled_at = pw.DateTimeField(null=True)
    mfa_grace_from = pw.DateTimeField(default=utcnow)

    class Meta:
        table_name = "hub_user"

    @property
    def has_mfa(self) -> bool:
        return self.totp_secret is not None


class HubSession(BaseModel):
    """A signed-in browser or API client; the JWT in its cookie carries this row's id."""

    id = pw.CharField(primary_key=True)
    user = pw.ForeignKeyField(User, backref="sessions", on_delete="CASCADE")
    address = pw.CharField(null=True)
    created_at = pw.DateTimeField(default=utcnow)
    last_seen_at = pw.DateTimeField(default=utcnow)
    expires_at = pw.DateTimeField()
    ended_at = pw.DateTimeField(null=True)
    end_reason = pw.CharField(null=True)


class RecoveryCode(BaseModel):
    """One of a user's ten single-use recovery codes, as an argon2 hash."""

    user = pw.ForeignKeyField(User, backref="recovery_codes", on_delete="CASCADE")
    code_hash = pw.CharField()
    created_at = pw.DateTimeField(default=utcnow)
    used_at = pw.DateTimeField(null=True)


class SignInChallenge(BaseModel):
    """A sign-in half done: the password was right, the second factor (or its setup) is still due.
    No JWT exists yet; the browser holds a random token whose hash names this row."""

    token_hash = pw.CharField(unique=True)
    user = pw.ForeignKeyField(User, backref="challenges", on_delete="CASCADE")
    purpose = pw.CharField()
    next_url = pw.TextField(null=True)
    address = pw.CharField(null=True)
    created_at = pw.DateTimeField(default=utcnow)
    expires_at = pw.DateTimeField()
    attempts = pw.IntegerField(default=0)
    ended_at = pw.DateTimeField(null=True)


class UserClinic(BaseModel):
    """A user limited to some clinics; a user with no rows here sees every clinic of the organisation."""

    user = pw.ForeignKeyField(User, backref="clinic_links", on_delete="CASCADE")
    clinic = pw.ForeignKeyField(Clinic, on_delete="CASCADE")

    class Meta:
        indexes = ((("user", "clinic"), True),)


class EnrolmentToken(BaseModel):
    """A one-time token: enrols a new box into `clinic`, or, with `device` set, lets that box rotate its key."""

    clinic = pw.ForeignKeyField(Clinic, on_delete="RESTRICT")
    token_hash = pw.CharField(unique=True)
    created_by = pw.CharField()
    created_at = pw.DateTimeField(default=utcnow)
    expires_at = pw.DateTimeField()
    used_at = pw.DateTimeField(null=True)
    device = pw.DeferredForeignKey("Device", null=True, on_delete="CASCADE")


class Device(BaseModel):
    uid = pw.CharField(unique=True)
    organisation = pw.ForeignKeyField(Organisation, on_delete="RESTRICT")
    clinic = pw.ForeignKeyField(Clinic, backref="devices", on_delete="RESTRICT")
    name = pw.CharField()
    public_key = pw.CharField()
    enrolled_at = pw.DateTimeField(default=utcnow)
    key_rotated_at = pw.DateTimeField(null=True)
    revoked_at = pw.DateTimeField(null=True)
    last_seen_at = pw.DateTimeField(null=True)
    last_batch_at = pw.DateTimeField(null=True)
    last_seq = pw.BigIntegerField(default=0)
    seq_gaps = pw.IntegerField(default=0)
    reported_backlog = pw.IntegerField(null=True)
    reported_oldest_seconds = pw.IntegerField(null=True)
    reported_bytes_pending = pw.BigIntegerField(null=True)
    reported_last_error = pw.TextField(null=True)
    reported_quarantine = pw.IntegerField(null=True)
    bytes_in = pw.BigIntegerField(default=0)
    bytes_out = pw.BigIntegerField(default=0)
    # The box's own audit chain as its events arrive (`cloud_hub.box_audit`): links that do not
    # hold, events missing between received ones, and the first problem in words.
    audit_breaks = pw.IntegerField(default=0)
    audit_missing = pw.IntegerField(default=0)
    audit_problem = pw.TextField(null=True)
    audit_problem_at = pw.DateTimeField(null=True)


class UsedNonce(BaseModel):
    """Nonces seen inside the timestamp window, for a hub without Redis (the embedded default)."""

    device = pw.ForeignKeyField(Device, on_delete="CASCADE")
    nonce = pw.CharField()
    expires_at = pw.DateTimeField(index=True)

    class Meta:
        indexes = ((("device", "nonce"), True),)


class Blob(BaseModel):
    organisation = pw.ForeignKeyField(Organisation, on_delete="RESTRICT")
    sha256 = pw.CharField()
    size = pw.BigIntegerField()
    storage_key = pw.CharField()
    created_at = pw.DateTimeField(default=utcnow)
    archived_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = ((("organisation", "sha256"), True),)


class Upload(BaseModel):
    """A blob being received in chunks; the bytes so far sit in the hub's staging folder."""

    device = pw.ForeignKeyField(Device, on_delete="CASCADE")
    sha256 = pw.CharField()
    size = pw.BigIntegerField()
    received = pw.BigIntegerField(default=0)
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("device", "sha256"), True),)


class Batch(BaseModel):
    device = pw.ForeignKeyField(Device, on_delete="RESTRICT")
    batch_uid = pw.CharField()
    seq = pw.BigIntegerField()
    digest = pw.CharField()
    response = pw.TextField()
    items = pw.IntegerField()
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("device", "batch_uid"), True),)


class Patient(BaseModel):
    organisation = pw.ForeignKeyField(Organisation, on_delete="RESTRICT")
    clinic = pw.ForeignKeyField(Clinic, on_delete="RESTRICT")
    mrn = pw.CharField()
    last_name = pw.CharField()
    first_name = pw.CharField()
    dob = pw.DateField(null=True)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("clinic", "mrn"), True),)


class Document(BaseModel):
    organisation = pw.ForeignKeyField(Organisation, on_delete="RESTRICT")
    clinic = pw.ForeignKeyField(Clinic, on_delete="RESTRICT")
    device = pw.ForeignKeyField(Device, null=True, on_delete="RESTRICT")
    uid = pw.CharField()
    patient = pw.ForeignKeyField(Patient, null=True, on_delete="RESTRICT")
    status = pw.CharField()
    review_reason = pw.TextField(null=True)
    doc_type = pw.CharField()
    doc_date = pw.DateField(null=True)
    page_count = pw.IntegerField()
    blob_sha256 = pw.CharField()
    original_name = pw.TextField()
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)
    tags = pw.TextField(default="[]")  # the clinic's tags, a JSON list, as its box sends them
    note = pw.TextField(null=True)

    class Meta:
        indexes = ((("organisation", "uid"), True),)

    @property
    def tag_list(self) -> list[str]:
        """The document's tags from its clinic."""
        return json.loads(self.tags or "[]")


class Page(BaseModel):
    document = pw.ForeignKeyField(Document, backref="pages", on_delete="CASCADE")
    organisation = pw.ForeignKeyField(Organisation, on_delete="RESTRICT")
    number = pw.IntegerField()
    text = pw.TextField()

    class Meta:
        indexes = ((("document", "number"), True),)


class Change(BaseModel):
    """The pull feed: what head office changed, for the boxes of one clinic (or all of them)."""

    organisation = pw.ForeignKeyField(Organisation, on_delete="RESTRICT")
    clinic = pw.ForeignKeyField(Clinic, null=True, on_delete="RESTRICT")
    cursor = pw.BigIntegerField()
    kind = pw.CharField()
    payload = pw.TextField()
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("organisation", "cursor"), True),)


class ChangeCursor(BaseModel):
    """The last cursor handed out per organisation; its row lock orders concurrent writers."""

    organisation = pw.ForeignKeyField(Organisation, primary_key=True, on_delete="CASCADE")
    value = pw.BigIntegerField(default=0)


class AuditEvent(BaseModel):
    """Append-only, hash-chained per organisation (`cloud_hub.audit`); a box's events also keep
    the box's own chain (`box_*`), checked as they arrive (`cloud_hub.box_audit`)."""

    organisation = pw.ForeignKeyField(Organisation, null=True, on_delete="RESTRICT")
    at = pw.DateTimeField(default=utcnow, index=True)
    actor = pw.CharField()
    action = pw.CharField(index=True)
    object_type = pw.CharField(null=True)
    object_id = pw.CharField(null=True)
    address = pw.CharField(null=True)
    detail = pw.TextField(null=True)
    source_key = pw.CharField(null=True, unique=True)
    device = pw.ForeignKeyField(Device, null=True, on_delete="RESTRICT", index=False)
    box_event_id = pw.BigIntegerField(null=True)
    box_prev_hash = pw.CharField(max_length=64, null=True)
    box_hash = pw.CharField(max_length=64, null=True)
    prev_hash = pw.CharField(max_length=64, null=True)
    hash = pw.CharField(max_length=64, null=True)

    class Meta:
        indexes = (
            (("organisation", "prev_hash"), True),
            (("organisation", "id"), False),
            (("device", "box_event_id"), False),
        )


class UsageDaily(BaseModel):
    """Metered use per organisation, day and device (device_id 0: head office's own requests)."""

    organisation = pw.ForeignKeyField(Organisation, on_delete="RESTRICT")
    day = pw.DateField()
    device_id = pw.IntegerField(default=0)
    pages = pw.IntegerField(default=0)
    documents = pw.IntegerField(default=0)
    bytes_in = pw.BigIntegerField(default=0)
    bytes_out = pw.BigIntegerField(default=0)
    bytes_stored = pw.BigIntegerField(null=True)

    class Meta:
        indexes = ((("organisation", "day", "device_id"), True),)


class PricePlan(BaseModel):
    organisation = pw.ForeignKeyField(Organisation, primary_key=True, on_delete="CASCADE")
    currency = pw.CharField(default="GBP")
    per_page = pw.DecimalField(max_digits=12, decimal_places=4)
    per_gb_month = pw.DecimalField(max_digits=12, decimal_places=4)
    per_gb_transfer = pw.DecimalField(max_digits=12, decimal_places=4)


class Invoice(BaseModel):
    organisation = pw.ForeignKeyField(Organisation, on_delete="RESTRICT")
    month = pw.CharField()
    currency = pw.CharField()
    lines = pw.TextField()
    total = pw.DecimalField(max_digits=14, decimal_places=2)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("organisation", "month"), True),)


class HubUpload(BaseModel):
    """A file uploaded at the hub by head office; an RQ job reads it with the box's pipeline."""

    organisation = pw.ForeignKeyField(Organisation, on_delete="RESTRICT")
    clinic = pw.ForeignKeyField(Clinic, on_delete="RESTRICT")
    original_name = pw.TextField()
    sha256 = pw.CharField()
    size = pw.BigIntegerField()
    status = pw.CharField(default="queued")
    reason = pw.TextField(null=True)
    document = pw.ForeignKeyField(Document, null=True, on_delete="RESTRICT")
    created_by = pw.CharField()
    created_at = pw.DateTimeField(default=utcnow)
    finished_at = pw.DateTimeField(null=True)


MODELS = [
    Organisation,
    Clinic,
    User,
    HubSession,
    RecoveryCode,
    SignInChallenge,
    UserClinic,
    EnrolmentToken,
    Device,
    UsedNonce,
    Blob,
    Upload,
    Batch,
    Patient,
    Document,
    Page,
    Change,
    ChangeCursor,
    AuditEvent,
    UsageDaily,
    PricePlan,
    Invoice,
    HubUpload,
]
