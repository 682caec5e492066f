"""Schema migrations for the hub, from the first release on (hubs are upgraded in place).

Each migration is a numbered list of SQL statements per dialect (PostgreSQL in production,
SQLite for the embedded default), applied once, in order, inside one transaction, and
recorded in `schema_migrations`. The statements are frozen: never edit a released migration;
add one.
"""

from __future__ import annotations

from core import migrations
from core.audit_chain import GENESIS, HUB_FIELDS, event_hash

from .db import database, is_postgres

INITIAL_POSTGRES = [
    'CREATE TABLE "organisation" ("id" SERIAL NOT NULL PRIMARY KEY, "uid" VARCHAR(255) NOT NULL, "name" VARCHAR(255) NOT NULL, "created_at" TIMESTAMP NOT NULL)',
    'CREATE UNIQUE INDEX "organisation_uid" ON "organisation" ("uid")',
    'CREATE UNIQUE INDEX "organisation_name" ON "organisation" ("name")',
    'CREATE TABLE "clinic" ("id" SERIAL NOT NULL PRIMARY KEY, "organisation_id" INTEGER NOT NULL, "name" VARCHAR(255) NOT NULL, "created_at" TIMESTAMP NOT NULL, FOREIGN KEY ("organisation_id") REFERENCES "organisation" ("id") ON DELETE RESTRICT)',
    'CREATE INDEX "clinic_organisation_id" ON "clinic" ("organisation_id")',
    'CREATE UNIQUE INDEX "clinic_organisation_id_name" ON "clinic" ("organisation_id", "name")',
    'CREATE TABLE "hub_user" ("id" SERIAL NOT NULL PRIMARY KEY, "organisation_id" INTEGER NOT NULL, "email" VARCHAR(255) NOT NULL, "password_hash" VARCHAR(255) NOT NULL, "role" VARCHAR(255) NOT NULL, "active" BOOLEAN NOT NULL, "created_at" TIMESTAMP NOT NULL, "password_changed_at" TIMESTAMP NOT NULL, FOREIGN KEY ("organisation_id") REFERENCES "organisation" ("id") ON DELETE RESTRICT)',
    'CREATE INDEX "hub_user_organisation_id" ON "hub_user" ("organisation_id")',
    'CREATE UNIQUE INDEX "hub_user_email" ON "hub_user" ("email")',
    'CREATE TABLE "user_clinic" ("id" SERIAL NOT NULL PRIMARY KEY, "user_id" INTEGER NOT NULL, "clinic_id" INTEGER NOT NULL, FOREIGN KEY ("user_id") REFERENCES "hub_user" ("id") ON DELETE CASCADE, FOREIGN KEY ("clinic_id") REFERENCES "clinic" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "user_clinic_user_id" ON "user_clinic" ("user_id")',
    'CREATE INDEX "user_clinic_clinic_id" ON "user_clinic" ("clinic_id")',
    'CREATE UNIQUE INDEX "user_clinic_user_id_clinic_id" ON "user_clinic" ("user_id", "clinic_id")',
    'CREATE TABLE "enrollment_token" ("id" SERIAL NOT NULL PRIMARY KEY, "clinic_id" INTEGER NOT NULL, "token_hash" VARCHAR(255) NOT NULL, "created_by" VARCHAR(255) NOT NULL, "created_at" TIMESTAMP NOT NULL, "expires_at" TIMESTAMP NOT NULL, "used_at" TIMESTAMP, FOREIGN KEY ("clinic_id") REFERENCES "clinic" ("id") ON DELETE RESTRICT)',
    'CREATE INDEX "enrollment_token_clinic_id" ON "enrollment_token" ("clinic_id")',
    'CREATE UNIQUE INDEX "enrollment_token_token_hash" ON "enrollment_token" ("token_hash")',
    'CREATE TABLE "device" ("id" SERIAL NOT NULL PRIMARY KEY, "uid" VARCHAR(255) NOT NULL, "organisation_id" INTEGER NOT NULL, "clinic_id" INTEGER NOT NULL, "name" VARCHAR(255) NOT NULL, "public_key" VARCHAR(255) NOT NULL, "enrolled_at" TIMESTAMP NOT NULL, "key_rotated_at" TIMESTAMP, "revoked_at" TIMESTAMP, "last_seen_at" TIMESTAMP, "last_batch_at" TIMESTAMP, "last_seq" BIGINT NOT NULL, "seq_gaps" INTEGER NOT NULL, "reported_backlog" INTEGER, "bytes_in" BIGINT NOT NULL, "bytes_out" BIGINT NOT NULL, FOREIGN KEY ("organisation_id") REFERENCES "organisation" ("id") ON DELETE RESTRICT, FOREIGN KEY ("clinic_id") REFERENCES "clinic" ("id") ON DELETE RESTRICT)',
    'CREATE UNIQUE INDEX "device_uid" ON "device" ("uid")',
    'CREATE INDEX "device_organisation_id" ON "device" ("organisation_id")',
    'CREATE INDEX "device_clinic_id" ON "device" ("clinic_id")',
    'CREATE TABLE "used_nonce" ("id" SERIAL NOT NULL PRIMARY KEY, "device_id" INTEGER NOT NULL, "nonce" VARCHAR(255) NOT NULL, "expires_at" TIMESTAMP NOT NULL, FOREIGN KEY ("device_id") REFERENCES "device" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "used_nonce_device_id" ON "used_nonce" ("device_id")',
    'CREATE INDEX "used_nonce_expires_at" ON "used_nonce" ("expires_at")',
    'CREATE UNIQUE INDEX "used_nonce_device_id_nonce" ON "used_nonce" ("device_id", "nonce")',
    'CREATE TABLE "blob" ("id" SERIAL NOT NULL PRIMARY KEY, "organisation_id" INTEGER NOT NULL, "sha256" VARCHAR(255) NOT NULL, "size" BIGINT NOT NULL, "storage_key" VARCHAR(255) NOT NULL, "created_at" TIMESTAMP NOT NULL, FOREIGN KEY ("organisation_id") REFERENCES "organisation" ("id") ON DELETE RESTRICT)',
    'CREATE INDEX "blob_organisation_id" ON "blob" ("organisation_id")',
    'CREATE UNIQUE INDEX "blob_organisation_id_sha256" ON "blob" ("organisation_id", "sha256")',
    'CREATE TABLE "upload" ("id" SERIAL NOT NULL PRIMARY KEY, "device_id" INTEGER NOT NULL, "sha256" VARCHAR(255) NOT NULL, "size" BIGINT NOT NULL, "received" BIGINT NOT NULL, "created_at" TIMESTAMP NOT NULL, "updated_at" TIMESTAMP NOT NULL, FOREIGN KEY ("device_id") REFERENCES "device" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "upload_device_id" ON "upload" ("device_id")',
    'CREATE UNIQUE INDEX "upload_device_id_sha256" ON "upload" ("device_id", "sha256")',
    'CREATE TABLE "batch" ("id" SERIAL NOT NULL PRIMARY KEY, "device_id" INTEGER NOT NULL, "batch_uid" VARCHAR(255) NOT NULL, "seq" BIGINT NOT NULL, "digest" VARCHAR(255) NOT NULL, "response" TEXT NOT NULL, "items" INTEGER NOT NULL, "created_at" TIMESTAMP NOT NULL, FOREIGN KEY ("device_id") REFERENCES "device" ("id") ON DELETE RESTRICT)',
    'CREATE INDEX "batch_device_id" ON "batch" ("device_id")',
    'CREATE UNIQUE INDEX "batch_device_id_batch_uid" ON "batch" ("device_id", "batch_uid")',
    'CREATE TABLE "patient" ("id" SERIAL NOT NULL PRIMARY KEY, "organisation_id" INTEGER NOT NULL, "clinic_id" INTEGER NOT NULL, "mrn" VARCHAR(255) NOT NULL, "last_name" VARCHAR(255) NOT NULL, "first_name" VARCHAR(255) NOT NULL, "dob" DATE, "updated_at" TIMESTAMP NOT NULL, FOREIGN KEY ("organisation_id") REFERENCES "organisation" ("id") ON DELETE RESTRICT, FOREIGN KEY ("clinic_id") REFERENCES "clinic" ("id") ON DELETE RESTRICT)',
    'CREATE INDEX "patient_organisation_id" ON "patient" ("organisation_id")',
    'CREATE INDEX "patient_clinic_id" ON "patient" ("clinic_id")',
    'CREATE UNIQUE INDEX "patient_clinic_id_mrn" ON "patient" ("clinic_id", "mrn")',
    'CREATE TABLE "document" ("id" SERIAL NOT NULL PRIMARY KEY, "organisation_id" INTEGER NOT NULL, "clinic_id" INTEGER NOT NULL, "device_id" INTEGER, "uid" VARCHAR(255) NOT NULL, "patient_id" INTEGER, "status" VARCHAR(255) NOT NULL, "review_reason" TEXT, "doc_type" VARCHAR(255) NOT NULL, "doc_date" DATE, "page_count" INTEGER NOT NULL, "blob_sha256" VARCHAR(255) NOT NULL, "original_name" TEXT NOT NULL, "created_at" TIMESTAMP NOT NULL, "updated_at" TIMESTAMP NOT NULL, FOREIGN KEY ("organisation_id") REFERENCES "organisation" ("id") ON DELETE RESTRICT, FOREIGN KEY ("clinic_id") REFERENCES "clinic" ("id") ON DELETE RESTRICT, FOREIGN KEY ("device_id") REFERENCES "device" ("id") ON DELETE RESTRICT, FOREIGN KEY ("patient_id") REFERENCES "patient" ("id") ON DELETE RESTRICT)',
    'CREATE INDEX "document_organisation_id" ON "document" ("organisation_id")',
    'CREATE INDEX "document_clinic_id" ON "document" ("clinic_id")',
    'CREATE INDEX "document_device_id" ON "document" ("device_id")',
    'CREATE INDEX "document_patient_id" ON "document" ("patient_id")',
    'CREATE UNIQUE INDEX "document_organisation_id_uid" ON "document" ("organisation_id", "uid")',
    'CREATE TABLE "page" ("id" SERIAL NOT NULL PRIMARY KEY, "document_id" INTEGER NOT NULL, "organisation_id" INTEGER NOT NULL, "number" INTEGER NOT NULL, "text" TEXT NOT NULL, FOREIGN KEY ("document_id") REFERENCES "document" ("id") ON DELETE CASCADE, FOREIGN KEY ("organisation_id") REFERENCES "organisation" ("id") ON DELETE RESTRICT)',
    'CREATE INDEX "page_document_id" ON "page" ("document_id")',
    'CREATE INDEX "page_organisation_id" ON "page" ("organisation_id")',
    'CREATE UNIQUE INDEX "page_document_id_number" ON "page" ("document_id", "number")',
    'CREATE TABLE "change" ("id" SERIAL NOT NULL PRIMARY KEY, "organisation_id" INTEGER NOT NULL, "clinic_id" INTEGER, "cursor" BIGINT NOT NULL, "kind" VARCHAR(255) NOT NULL, "payload" TEXT NOT NULL, "created_at" TIMESTAMP NOT NULL, FOREIGN KEY ("organisation_id") REFERENCES "organisation" ("id") ON DELETE RESTRICT, FOREIGN KEY ("clinic_id") REFERENCES "clinic" ("id") ON DELETE RESTRICT)',
    'CREATE INDEX "change_organisation_id" ON "change" ("organisation_id")',
    'CREATE INDEX "change_clinic_id" ON "change" ("clinic_id")',
    'CREATE UNIQUE INDEX "change_organisation_id_cursor" ON "change" ("organisation_id", "cursor")',
    'CREATE TABLE "change_cursor" ("organisation_id" INTEGER NOT NULL PRIMARY KEY, "value" BIGINT NOT NULL, FOREIGN KEY ("organisation_id") REFERENCES "organisation" ("id") ON DELETE CASCADE)',
    'CREATE TABLE "audit_event" ("id" SERIAL NOT NULL PRIMARY KEY, "organisation_id" INTEGER, "at" TIMESTAMP NOT NULL, "actor" VARCHAR(255) NOT NULL, "action" VARCHAR(255) NOT NULL, "object_type" VARCHAR(255), "object_id" VARCHAR(255), "address" VARCHAR(255), "detail" TEXT, FOREIGN KEY ("organisation_id") REFERENCES "organisation" ("id") ON DELETE RESTRICT)',
    'CREATE INDEX "audit_event_organisation_id" ON "audit_event" ("organisation_id")',
    'CREATE INDEX "audit_event_at" ON "audit_event" ("at")',
    'CREATE INDEX "audit_event_action" ON "audit_event" ("action")',
]
INITIAL_SQLITE = [
    'CREATE TABLE "organisation" ("id" INTEGER NOT NULL PRIMARY KEY, "uid" VARCHAR(255) NOT NULL, "name" VARCHAR(255) NOT NULL, "created_at" DATETIME NOT NULL)',
    'CREATE UNIQUE INDEX "organisation_uid" ON "organisation" ("uid")',
    'CREATE UNIQUE INDEX "organisation_name" ON "organisation" ("name")',
    'CREATE TABLE "clinic" ("id" INTEGER NOT NULL PRIMARY KEY, "organisation_id" INTEGER NOT NULL, "name" VARCHAR(255) NOT NULL, "created_at" DATETIME NOT NULL, FOREIGN KEY ("organisation_id") REFERENCES "organisation" ("id") ON DELETE RESTRICT)',
    'CREATE INDEX "clinic_organisation_id" ON "clinic" ("organisation_id")',
    'CREATE UNIQUE INDEX "clinic_organisation_id_name" ON "clinic" ("organisation_id", "name")',
    'CREATE TABLE "hub_user" ("id" INTEGER NOT NULL PRIMARY KEY, "organisation_id" INTEGER NOT NULL, "email" VARCHAR(255) NOT NULL, "password_hash" VARCHAR(255) NOT NULL, "role" VARCHAR(255) NOT NULL, "active" INTEGER NOT NULL, "created_at" DATETIME NOT NULL, "password_changed_at" DATETIME NOT NULL, FOREIGN KEY ("organisation_id") REFERENCES "organisation" ("id") ON DELETE RESTRICT)',
    'CREATE INDEX "hub_user_organisation_id" ON "hub_user" ("organisation_id")',
    'CREATE UNIQUE INDEX "hub_user_email" ON "hub_user" ("email")',
    'CREATE TABLE "user_clinic" ("id" INTEGER NOT NULL PRIMARY KEY, "user_id" INTEGER NOT NULL, "clinic_id" INTEGER NOT NULL, FOREIGN KEY ("user_id") REFERENCES "hub_user" ("id") ON DELETE CASCADE, FOREIGN KEY ("clinic_id") REFERENCES "clinic" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "user_clinic_user_id" ON "user_clinic" ("user_id")',
    'CREATE INDEX "user_clinic_clinic_id" ON "user_clinic" ("clinic_id")',
    'CREATE UNIQUE INDEX "user_clinic_user_id_clinic_id" ON "user_clinic" ("user_id", "clinic_id")',
    'CREATE TABLE "enrollment_token" ("id" INTEGER NOT NULL PRIMARY KEY, "clinic_id" INTEGER NOT NULL, "token_hash" VARCHAR(255) NOT NULL, "created_by" VARCHAR(255) NOT NULL, "created_at" DATETIME NOT NULL, "expires_at" DATETIME NOT NULL, "used_at" DATETIME, FOREIGN KEY ("clinic_id") REFERENCES "clinic" ("id") ON DELETE RESTRICT)',
    'CREATE INDEX "enrollment_token_clinic_id" ON "enrollment_token" ("clinic_id")',
    'CREATE UNIQUE INDEX "enrollment_token_token_hash" ON "enrollment_token" ("token_hash")',
    'CREATE TABLE "device" ("id" INTEGER NOT NULL PRIMARY KEY, "uid" VARCHAR(255) NOT NULL, "organisation_id" INTEGER NOT NULL, "clinic_id" INTEGER NOT NULL, "name" VARCHAR(255) NOT NULL, "public_key" VARCHAR(255) NOT NULL, "enrolled_at" DATETIME NOT NULL, "key_rotated_at" DATETIME, "revoked_at" DATETIME, "last_seen_at" DATETIME, "last_batch_at" DATETIME, "last_seq" INTEGER NOT NULL, "seq_gaps" INTEGER NOT NULL, "reported_backlog" INTEGER, "bytes_in" INTEGER NOT NULL, "bytes_out" INTEGER NOT NULL, FOREIGN KEY ("organisation_id") REFERENCES "organisation" ("id") ON DELETE RESTRICT, FOREIGN KEY ("clinic_id") REFERENCES "clinic" ("id") ON DELETE RESTRICT)',
    'CREATE UNIQUE INDEX "device_uid" ON "device" ("uid")',
    'CREATE INDEX "device_organisation_id" ON "device" ("organisation_id")',
    'CREATE INDEX "device_clinic_id" ON "device" ("clinic_id")',
    'CREATE TABLE "used_nonce" ("id" INTEGER NOT NULL PRIMARY KEY, "device_id" INTEGER NOT NULL, "nonce" VARCHAR(255) NOT NULL, "expires_at" DATETIME NOT NULL, FOREIGN KEY ("device_id") REFERENCES "device" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "used_nonce_device_id" ON "used_nonce" ("device_id")',
    'CREATE INDEX "used_nonce_expires_at" ON "used_nonce" ("expires_at")',
    'CREATE UNIQUE INDEX "used_nonce_device_id_nonce" ON "used_nonce" ("device_id", "nonce")',
    'CREATE TABLE "blob" ("id" INTEGER NOT NULL PRIMARY KEY, "organisation_id" INTEGER NOT NULL, "sha256" VARCHAR(255) NOT NULL, "size" INTEGER NOT NULL, "storage_key" VARCHAR(255) NOT NULL, "created_at" DATETIME NOT NULL, FOREIGN KEY ("organisation_id") REFERENCES "organisation" ("id") ON DELETE RESTRICT)',
    'CREATE INDEX "blob_organisation_id" ON "blob" ("organisation_id")',
    'CREATE UNIQUE INDEX "blob_organisation_id_sha256" ON "blob" ("organisation_id", "sha256")',
    'CREATE TABLE "upload" ("id" INTEGER NOT NULL PRIMARY KEY, "device_id" INTEGER NOT NULL, "sha256" VARCHAR(255) NOT NULL, "size" INTEGER NOT NULL, "received" INTEGER NOT NULL, "created_at" DATETIME NOT NULL, "updated_at" DATETIME NOT NULL, FOREIGN KEY ("device_id") REFERENCES "device" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "upload_device_id" ON "upload" ("device_id")',
    'CREATE UNIQUE INDEX "upload_device_id_sha256" ON "upload" ("device_id", "sha256")',
    'CREATE TABLE "batch" ("id" INTEGER NOT NULL PRIMARY KEY, "device_id" INTEGER NOT NULL, "batch_uid" VARCHAR(255) NOT NULL, "seq" INTEGER NOT NULL, "digest" VARCHAR(255) NOT NULL, "response" TEXT NOT NULL, "items" INTEGER NOT NULL, "created_at" DATETIME NOT NULL, FOREIGN KEY ("device_id") REFERENCES "device" ("id") ON DELETE RESTRICT)',
    'CREATE INDEX "batch_device_id" ON "batch" ("device_id")',
    'CREATE UNIQUE INDEX "batch_device_id_batch_uid" ON "batch" ("device_id", "batch_uid")',
    'CREATE TABLE "patient" ("id" INTEGER NOT NULL PRIMARY KEY, "organisation_id" INTEGER NOT NULL, "clinic_id" INTEGER NOT NULL, "mrn" VARCHAR(255) NOT NULL, "last_name" VARCHAR(255) NOT NULL, "first_name" VARCHAR(255) NOT NULL, "dob" DATE, "updated_at" DATETIME NOT NULL, FOREIGN KEY ("organisation_id") REFERENCES "organisation" ("id") ON DELETE RESTRICT, FOREIGN KEY ("clinic_id") REFERENCES "clinic" ("id") ON DELETE RESTRICT)',
    'CREATE INDEX "patient_organisation_id" ON "patient" ("organisation_id")',
    'CREATE INDEX "patient_clinic_id" ON "patient" ("clinic_id")',
    'CREATE UNIQUE INDEX "patient_clinic_id_mrn" ON "patient" ("clinic_id", "mrn")',
    'CREATE TABLE "document" ("id" INTEGER NOT NULL PRIMARY KEY, "organisation_id" INTEGER NOT NULL, "clinic_id" INTEGER NOT NULL, "device_id" INTEGER, "uid" VARCHAR(255) NOT NULL, "patient_id" INTEGER, "status" VARCHAR(255) NOT NULL, "review_reason" TEXT, "doc_type" VARCHAR(255) NOT NULL, "doc_date" DATE, "page_count" INTEGER NOT NULL, "blob_sha256" VARCHAR(255) NOT NULL, "original_name" TEXT NOT NULL, "created_at" DATETIME NOT NULL, "updated_at" DATETIME NOT NULL, FOREIGN KEY ("organisation_id") REFERENCES "organisation" ("id") ON DELETE RESTRICT, FOREIGN KEY ("clinic_id") REFERENCES "clinic" ("id") ON DELETE RESTRICT, FOREIGN KEY ("device_id") REFERENCES "device" ("id") ON DELETE RESTRICT, FOREIGN KEY ("patient_id") REFERENCES "patient" ("id") ON DELETE RESTRICT)',
    'CREATE INDEX "document_organisation_id" ON "document" ("organisation_id")',
    'CREATE INDEX "document_clinic_id" ON "document" ("clinic_id")',
    'CREATE INDEX "document_device_id" ON "document" ("device_id")',
    'CREATE INDEX "document_patient_id" ON "document" ("patient_id")',
    'CREATE UNIQUE INDEX "document_organisation_id_uid" ON "document" ("organisation_id", "uid")',
    'CREATE TABLE "page" ("id" INTEGER NOT NULL PRIMARY KEY, "document_id" INTEGER NOT NULL, "organisation_id" INTEGER NOT NULL, "number" INTEGER NOT NULL, "text" TEXT NOT NULL, FOREIGN KEY ("document_id") REFERENCES "document" ("id") ON DELETE CASCADE, FOREIGN KEY ("organisation_id") REFERENCES "organisation" ("id") ON DELETE RESTRICT)',
    'CREATE INDEX "page_document_id" ON "page" ("document_id")',
    'CREATE INDEX "page_organisation_id" ON "page" ("organisation_id")',
    'CREATE UNIQUE INDEX "page_document_id_number" ON "page" ("document_id", "number")',
    'CREATE TABLE "change" ("id" INTEGER NOT NULL PRIMARY KEY, "organisation_id" INTEGER NOT NULL, "clinic_id" INTEGER, "cursor" INTEGER NOT NULL, "kind" VARCHAR(255) NOT NULL, "payload" TEXT NOT NULL, "created_at" DATETIME NOT NULL, FOREIGN KEY ("organisation_id") REFERENCES "organisation" ("id") ON DELETE RESTRICT, FOREIGN KEY ("clinic_id") REFERENCES "clinic" ("id") ON DELETE RESTRICT)',
    'CREATE INDEX "change_organisation_id" ON "change" ("organisation_id")',
    'CREATE INDEX "change_clinic_id" ON "change" ("clinic_id")',
    'CREATE UNIQUE INDEX "change_organisation_id_cursor" ON "change" ("organisation_id", "cursor")',
    'CREATE TABLE "change_cursor" ("organisation_id" INTEGER NOT NULL PRIMARY KEY, "value" INTEGER NOT NULL, FOREIGN KEY ("organisation_id") REFERENCES "organisation" ("id") ON DELETE CASCADE)',
    'CREATE TABLE "audit_event" ("id" INTEGER NOT NULL PRIMARY KEY, "organisation_id" INTEGER, "at" DATETIME NOT NULL, "actor" VARCHAR(255) NOT NULL, "action" VARCHAR(255) NOT NULL, "object_type" VARCHAR(255), "object_id" VARCHAR(255), "address" VARCHAR(255), "detail" TEXT, FOREIGN KEY ("organisation_id") REFERENCES "organisation" ("id") ON DELETE RESTRICT)',
    'CREATE INDEX "audit_event_organisation_id" ON "audit_event" ("organisation_id")',
    'CREATE INDEX "audit_event_at" ON "audit_event" ("at")',
    'CREATE INDEX "audit_event_action" ON "audit_event" ("action")',
]

# Full-text search over page text (a generated tsvector with a GIN index), and audit events that
# the database itself refuses to change or delete.
SEARCH_AND_AUDIT_POSTGRES = [
    'ALTER TABLE "page" ADD COLUMN "search" tsvector GENERATED ALWAYS AS (to_tsvector(\'simple\', "text")) STORED',
    'CREATE INDEX "page_search" ON "page" USING GIN ("search")',
    "CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'audit events are append-only'; END $$",
    'CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON "audit_event" '
    "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()",
]
SEARCH_AND_AUDIT_SQLITE = [
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
    "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
]

SESSIONS_POSTGRES = [
    'CREATE TABLE "hub_session" ("id" VARCHAR(255) NOT NULL PRIMARY KEY, "user_id" INTEGER NOT NULL, "address" VARCHAR(255), "created_at" TIMESTAMP NOT NULL, "last_seen_at" TIMESTAMP NOT NULL, "expires_at" TIMESTAMP NOT NULL, "ended_at" TIMESTAMP, "end_reason" VARCHAR(255), FOREIGN KEY ("user_id") REFERENCES "hub_user" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "hub_session_user_id" ON "hub_session" ("user_id")',
]
SESSIONS_SQLITE = [
    'CREATE TABLE "hub_session" ("id" VARCHAR(255) NOT NULL PRIMARY KEY, "user_id" INTEGER NOT NULL, "address" VARCHAR(255), "created_at" DATETIME NOT NULL, "last_seen_at" DATETIME NOT NULL, "expires_at" DATETIME NOT NULL, "ended_at" DATETIME, "end_reason" VARCHAR(255), FOREIGN KEY ("user_id") REFERENCES "hub_user" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "hub_session_user_id" ON "hub_session" ("user_id")',
]

BILLING_POSTGRES = [
    'CREATE TABLE "usage_daily" ("id" SERIAL NOT NULL PRIMARY KEY, "organisation_id" INTEGER NOT NULL, "day" DATE NOT NULL, "device_id" INTEGER NOT NULL, "pages" INTEGER NOT NULL, "documents" INTEGER NOT NULL, "bytes_in" BIGINT NOT NULL, "bytes_out" BIGINT NOT NULL, "bytes_stored" BIGINT, FOREIGN KEY ("organisation_id") REFERENCES "organisation" ("id") ON DELETE RESTRICT)',
    'CREATE INDEX "usage_daily_organisation_id" ON "usage_daily" ("organisation_id")',
    'CREATE UNIQUE INDEX "usage_daily_organisation_id_day_device_id" ON "usage_daily" ("organisation_id", "day", "device_id")',
    'CREATE TABLE "price_plan" ("organisation_id" INTEGER NOT NULL PRIMARY KEY, "currency" VARCHAR(255) NOT NULL, "per_page" NUMERIC(12, 4) NOT NULL, "per_gb_month" NUMERIC(12, 4) NOT NULL, "per_gb_transfer" NUMERIC(12, 4) NOT NULL, FOREIGN KEY ("organisation_id") REFERENCES "organisation" ("id") ON DELETE CASCADE)',
    'CREATE TABLE "invoice" ("id" SERIAL NOT NULL PRIMARY KEY, "organisation_id" INTEGER NOT NULL, "month" VARCHAR(255) NOT NULL, "currency" VARCHAR(255) NOT NULL, "lines" TEXT NOT NULL, "total" NUMERIC(14, 2) NOT NULL, "created_at" TIMESTAMP NOT NULL, FOREIGN KEY ("organisation_id") REFERENCES "organisation" ("id") ON DELETE RESTRICT)',
    'CREATE INDEX "invoice_organisation_id" ON "invoice" ("organisation_id")',
    'CREATE UNIQUE INDEX "invoice_organisation_id_month" ON "invoice" ("organisation_id", "month")',
]
BILLING_SQLITE = [
    'CREATE TABLE "usage_daily" ("id" INTEGER NOT NULL PRIMARY KEY, "organisation_id" INTEGER NOT NULL, "day" DATE NOT NULL, "device_id" INTEGER NOT NULL, "pages" INTEGER NOT NULL, "documents" INTEGER NOT NULL, "bytes_in" INTEGER NOT NULL, "bytes_out" INTEGER NOT NULL, "bytes_stored" INTEGER, FOREIGN KEY ("organisation_id") REFERENCES "organisation" ("id") ON DELETE RESTRICT)',
    'CREATE INDEX "usage_daily_organisation_id" ON "usage_daily" ("organisation_id")',
    'CREATE UNIQUE INDEX "usage_daily_organisation_id_day_device_id" ON "usage_daily" ("organisation_id", "day", "device_id")',
    'CREATE TABLE "price_plan" ("organisation_id" INTEGER NOT NULL PRIMARY KEY, "currency" VARCHAR(255) NOT NULL, "per_page" DECIMAL(12, 4) NOT NULL, "per_gb_month" DECIMAL(12, 4) NOT NULL, "per_gb_transfer" DECIMAL(12, 4) NOT NULL, FOREIGN KEY ("organisation_id") REFERENCES "organisation" ("id") ON DELETE CASCADE)',
    'CREATE TABLE "invoice" ("id" INTEGER NOT NULL PRIMARY KEY, "organisation_id" INTEGER NOT NULL, "month" VARCHAR(255) NOT NULL, "currency" VARCHAR(255) NOT NULL, "lines" TEXT NOT NULL, "total" DECIMAL(14, 2) NOT NULL, "created_at" DATETIME NOT NULL, FOREIGN KEY ("organisation_id") REFERENCES "organisation" ("id") ON DELETE RESTRICT)',
    'CREATE INDEX "invoice_organisation_id" ON "invoice" ("organisation_id")',
    'CREATE UNIQUE INDEX "invoice_organisation_id_month" ON "invoice" ("organisation_id", "month")',
]
UPLOADS_POSTGRES = [
    'CREATE TABLE "hub_upload" ("id" SERIAL NOT NULL PRIMARY KEY, "organisation_id" INTEGER NOT NULL, "clinic_id" INTEGER NOT NULL, "original_name" TEXT NOT NULL, "sha256" VARCHAR(255) NOT NULL, "size" BIGINT NOT NULL, "status" VARCHAR(255) NOT NULL, "reason" TEXT, "document_id" INTEGER, "created_by" VARCHAR(255) NOT NULL, "created_at" TIMESTAMP NOT NULL, "finished_at" TIMESTAMP, FOREIGN KEY ("organisation_id") REFERENCES "organisation" ("id") ON DELETE RESTRICT, FOREIGN KEY ("clinic_id") REFERENCES "clinic" ("id") ON DELETE RESTRICT, FOREIGN KEY ("document_id") REFERENCES "document" ("id") ON DELETE RESTRICT)',
    'CREATE INDEX "hub_upload_organisation_id" ON "hub_upload" ("organisation_id")',
    'CREATE INDEX "hub_upload_clinic_id" ON "hub_upload" ("clinic_id")',
    'CREATE INDEX "hub_upload_document_id" ON "hub_upload" ("document_id")',
]
UPLOADS_SQLITE = [
    'CREATE TABLE "hub_upload" ("id" INTEGER NOT NULL PRIMARY KEY, "organisation_id" INTEGER NOT NULL, "clinic_id" INTEGER NOT NULL, "original_name" TEXT NOT NULL, "sha256" VARCHAR(255) NOT NULL, "size" INTEGER NOT NULL, "status" VARCHAR(255) NOT NULL, "reason" TEXT, "document_id" INTEGER, "created_by" VARCHAR(255) NOT NULL, "created_at" DATETIME NOT NULL, "finished_at" DATETIME, FOREIGN KEY ("organisation_id") REFERENCES "organisation" ("id") ON DELETE RESTRICT, FOREIGN KEY ("clinic_id") REFERENCES "clinic" ("id") ON DELETE RESTRICT, FOREIGN KEY ("document_id") REFERENCES "document" ("id") ON DELETE RESTRICT)',
    'CREATE INDEX "hub_upload_organisation_id" ON "hub_upload" ("organisation_id")',
    'CREATE INDEX "hub_upload_clinic_id" ON "hub_upload" ("clinic_id")',
    'CREATE INDEX "hub_upload_document_id" ON "hub_upload" ("document_id")',
]

ARCHIVE_POSTGRES = ['ALTER TABLE "blob" ADD COLUMN "archived_at" TIMESTAMP']
ARCHIVE_SQLITE = ['ALTER TABLE "blob" ADD COLUMN "archived_at" DATETIME']

BOX_AUDIT = [
    'ALTER TABLE "audit_event" ADD COLUMN "source_key" VARCHAR(255)',
    'CREATE UNIQUE INDEX "audit_event_source_key" ON "audit_event" ("source_key")',
]

BOX_REPORTS = [
    'ALTER TABLE "device" ADD COLUMN "reported_oldest_seconds" INTEGER',
    'ALTER TABLE "device" ADD COLUMN "reported_bytes_pending" BIGINT',
    'ALTER TABLE "device" ADD COLUMN "reported_last_error" TEXT',
]

CLINIC_READING = [
    # A clinic whose paper differs from the hub's defaults (date order, OCR language).
    'ALTER TABLE "clinic" ADD COLUMN "date_order" VARCHAR(3)',
    'ALTER TABLE "clinic" ADD COLUMN "ocr_language" VARCHAR(64)',
]

ENROLMENT_POSTGRES = [
    'ALTER TABLE "enrollment_token" RENAME TO "enrolment_token"',
    'ALTER INDEX "enrollment_token_clinic_id" RENAME TO "enrolment_token_clinic_id"',
    'ALTER INDEX "enrollment_token_token_hash" RENAME TO "enrolment_token_token_hash"',
]
ENROLMENT_SQLITE = [
    'ALTER TABLE "enrollment_token" RENAME TO "enrolment_token"',
    'DROP INDEX "enrollment_token_clinic_id"',
    'DROP INDEX "enrollment_token_token_hash"',
    'CREATE INDEX "enrolment_token_clinic_id" ON "enrolment_token" ("clinic_id")',
    'CREATE UNIQUE INDEX "enrolment_token_token_hash" ON "enrolment_token" ("token_hash")',
]

# Two-step sign-in. Existing users' grace period for roles that must have it starts now.
TWO_STEP_POSTGRES = [
    'ALTER TABLE "hub_user" ADD COLUMN "totp_secret" TEXT',
    'ALTER TABLE "hub_user" ADD COLUMN "totp_pending" TEXT',
    'ALTER TABLE "hub_user" ADD COLUMN "totp_last_step" BIGINT',
    'ALTER TABLE "hub_user" ADD COLUMN "mfa_enabled_at" TIMESTAMP',
    'ALTER TABLE "hub_user" ADD COLUMN "mfa_grace_from" TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE \'utc\')',
    'ALTER TABLE "hub_user" ALTER COLUMN "mfa_grace_from" DROP DEFAULT',
    'CREATE TABLE "recovery_code" ("id" SERIAL NOT NULL PRIMARY KEY, "user_id" INTEGER NOT NULL, "code_hash" VARCHAR(255) NOT NULL, "created_at" TIMESTAMP NOT NULL, "used_at" TIMESTAMP, FOREIGN KEY ("user_id") REFERENCES "hub_user" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "recovery_code_user_id" ON "recovery_code" ("user_id")',
    'CREATE TABLE "sign_in_challenge" ("id" SERIAL NOT NULL PRIMARY KEY, "token_hash" VARCHAR(255) NOT NULL, "user_id" INTEGER NOT NULL, "purpose" VARCHAR(255) NOT NULL, "next_url" TEXT, "address" VARCHAR(255), "created_at" TIMESTAMP NOT NULL, "expires_at" TIMESTAMP NOT NULL, "attempts" INTEGER NOT NULL, "ended_at" TIMESTAMP, FOREIGN KEY ("user_id") REFERENCES "hub_user" ("id") ON DELETE CASCADE)',
    'CREATE UNIQUE INDEX "sign_in_challenge_token_hash" ON "sign_in_challenge" ("token_hash")',
    'CREATE INDEX "sign_in_challenge_user_id" ON "sign_in_challenge" ("user_id")',
]
TWO_STEP_SQLITE = [
    'ALTER TABLE "hub_user" ADD COLUMN "totp_secret" TEXT',
    'ALTER TABLE "hub_user" ADD COLUMN "totp_pending" TEXT',
    'ALTER TABLE "hub_user" ADD COLUMN "totp_last_step" INTEGER',
    'ALTER TABLE "hub_user" ADD COLUMN "mfa_enabled_at" DATETIME',
    # SQLite adds a NOT NULL column only with a constant default; the UPDATE sets the real start.
    'ALTER TABLE "hub_user" ADD COLUMN "mfa_grace_from" DATETIME NOT NULL DEFAULT \'1970-01-01 00:00:00\'',
    'UPDATE "hub_user" SET "mfa_grace_from" = CURRENT_TIMESTAMP',
    'CREATE TABLE "recovery_code" ("id" INTEGER NOT NULL PRIMARY KEY, "user_id" INTEGER NOT NULL, "code_hash" VARCHAR(255) NOT NULL, "created_at" DATETIME NOT NULL, "used_at" DATETIME, FOREIGN KEY ("user_id") REFERENCES "hub_user" ("id") ON DELETE CASCADE)',
    'CREATE INDEX "recovery_code_user_id" ON "recovery_code" ("user_id")',
    'CREATE TABLE "sign_in_challenge" ("id" INTEGER NOT NULL PRIMARY KEY, "token_hash" VARCHAR(255) NOT NULL, "user_id" INTEGER NOT NULL, "purpose" VARCHAR(255) NOT NULL, "next_url" TEXT, "address" VARCHAR(255), "created_at" DATETIME NOT NULL, "expires_at" DATETIME NOT NULL, "attempts" INTEGER NOT NULL, "ended_at" DATETIME, FOREIGN KEY ("user_id") REFERENCES "hub_user" ("id") ON DELETE CASCADE)',
    'CREATE UNIQUE INDEX "sign_in_challenge_token_hash" ON "sign_in_challenge" ("token_hash")',
    'CREATE INDEX "sign_in_challenge_user_id" ON "sign_in_challenge" ("user_id")',
]


def _chain_existing_audit_events(db, lift: list[str], restore: list[str]) -> None:
    """Chain the events recorded before the chains existed, oldest first, one chain per
    organisation, as `cloud_hub.audit` chains new ones; the append-only trigger is lifted for
    this alone, inside the migration's transaction, and put back."""
    rows = db.execute_sql(
        'SELECT "id", "organisation_id", "at", "actor", "action", "object_type", "object_id", "address", '
        '"detail", "source_key" FROM "audit_event" ORDER BY "id"'
    ).fetchall()
    last: dict[int | None, str] = {}
    links = []
    for event_id, *values in rows:
        organisation_id = values[0]
        prev_hash = last.get(organisation_id, GENESIS)
        hashed = event_hash(dict(zip(HUB_FIELDS, [*values, None, None, None, None], strict=True)), prev_hash)
        links.append((prev_hash, hashed, event_id))
        last[organisation_id] = hashed
    for statement in lift:
        db.execute_sql(statement)
    mark = db.param
    db.cursor().executemany(
        f'UPDATE "audit_event" SET "prev_hash" = {mark}, "hash" = {mark} WHERE "id" = {mark}', links
    )
    for statement in restore:
        db.execute_sql(statement)


def chain_existing_audit_events_postgres(db) -> None:
    """Chain the existing audit events on PostgreSQL."""
    trigger = 'TRIGGER "audit_event_append_only"'
    _chain_existing_audit_events(
        db, [f'ALTER TABLE "audit_event" DISABLE {trigger}'], [f'ALTER TABLE "audit_event" ENABLE {trigger}']
    )


def chain_existing_audit_events_sqlite(db) -> None:
    """Chain the existing audit events on SQLite."""
    _chain_existing_audit_events(db, ["DROP TRIGGER audit_event_no_update"], [SEARCH_AND_AUDIT_SQLITE[0]])


AUDIT_CHAIN_POSTGRES = [
    # Each event carries the hash of the one before it in its organisation's chain; a box's event
    # also keeps the box's own chain, and the device what the hub found of that chain.
    'ALTER TABLE "audit_event" ADD COLUMN "device_id" INTEGER REFERENCES "device" ("id") ON DELETE RESTRICT',
    'ALTER TABLE "audit_event" ADD COLUMN "box_event_id" BIGINT',
    'ALTER TABLE "audit_event" ADD COLUMN "box_prev_hash" VARCHAR(64)',
    'ALTER TABLE "audit_event" ADD COLUMN "box_hash" VARCHAR(64)',
    'ALTER TABLE "audit_event" ADD COLUMN "prev_hash" VARCHAR(64)',
    'ALTER TABLE "audit_event" ADD COLUMN "hash" VARCHAR(64)',
    'ALTER TABLE "device" ADD COLUMN "audit_breaks" INTEGER NOT NULL DEFAULT 0',
    'ALTER TABLE "device" ADD COLUMN "audit_missing" INTEGER NOT NULL DEFAULT 0',
    'ALTER TABLE "device" ADD COLUMN "audit_problem" TEXT',
    'ALTER TABLE "device" ADD COLUMN "audit_problem_at" TIMESTAMP',
    chain_existing_audit_events_postgres,
    'CREATE UNIQUE INDEX "audit_event_organisation_id_prev_hash" ON "audit_event" ("organisation_id", "prev_hash")',
    'CREATE INDEX "audit_event_organisation_id_id" ON "audit_event" ("organisation_id", "id")',
    'CREATE INDEX "audit_event_device_id_box_event_id" ON "audit_event" ("device_id", "box_event_id")',
]
AUDIT_CHAIN_SQLITE = [
    'ALTER TABLE "audit_event" ADD COLUMN "device_id" INTEGER REFERENCES "device" ("id") ON DELETE RESTRICT',
    'ALTER TABLE "audit_event" ADD COLUMN "box_event_id" INTEGER',
    'ALTER TABLE "audit_event" ADD COLUMN "box_prev_hash" VARCHAR(64)',
    'ALTER TABLE "audit_event" ADD COLUMN "box_hash" VARCHAR(64)',
    'ALTER TABLE "audit_event" ADD COLUMN "prev_hash" VARCHAR(64)',
    'ALTER TABLE "audit_event" ADD COLUMN "hash" VARCHAR(64)',
    'ALTER TABLE "device" ADD COLUMN "audit_breaks" INTEGER NOT NULL DEFAULT 0',
    'ALTER TABLE "device" ADD COLUMN "audit_missing" INTEGER NOT NULL DEFAULT 0',
    'ALTER TABLE "device" ADD COLUMN "audit_problem" TEXT',
    'ALTER TABLE "device" ADD COLUMN "audit_problem_at" DATETIME',
    chain_existing_audit_events_sqlite,
    'CREATE UNIQUE INDEX "audit_event_organisation_id_prev_hash" ON "audit_event" ("organisation_id", "prev_hash")',
    'CREATE INDEX "audit_event_organisation_id_id" ON "audit_event" ("organisation_id", "id")',
    'CREATE INDEX "audit_event_device_id_box_event_id" ON "audit_event" ("device_id", "box_event_id")',
]

# A key rotation needs a one-time token head office issues for that device (a stolen key alone
# cannot replace itself).
ROTATION_TOKENS = [
    'ALTER TABLE "enrolment_token" ADD COLUMN "device_id" INTEGER REFERENCES "device" ("id") ON DELETE CASCADE',
    'CREATE INDEX "enrolment_token_device_id" ON "enrolment_token" ("device_id")',
]

# How many files wait in each box's quarantine, as the box reports it with every batch (the
# quarantined files themselves never leave the box).
BOX_QUARANTINE = ['ALTER TABLE "device" ADD COLUMN "reported_quarantine" INTEGER']

# The clinic's own tags (a JSON list) and note on a document, as its box sends them.
TAGS_AND_NOTES = [
    'ALTER TABLE "document" ADD COLUMN "tags" TEXT NOT NULL DEFAULT \'[]\'',
    'ALTER TABLE "document" ADD COLUMN "note" TEXT',
]

MIGRATIONS: list[tuple[int, str, list[migrations.Step], list[migrations.Step]]] = [
    (1, "initial schema", INITIAL_POSTGRES, INITIAL_SQLITE),
    (2, "page search and append-only audit", SEARCH_AND_AUDIT_POSTGRES, SEARCH_AND_AUDIT_SQLITE),
    (3, "browser and API sessions", SESSIONS_POSTGRES, SESSIONS_SQLITE),
    (4, "usage metering, price plans and invoices", BILLING_POSTGRES, BILLING_SQLITE),
    (5, "uploads at the hub", UPLOADS_POSTGRES, UPLOADS_SQLITE),
    (6, "blob archival", ARCHIVE_POSTGRES, ARCHIVE_SQLITE),
    (7, "audit events from the boxes", BOX_AUDIT, BOX_AUDIT),
    (8, "sync state reported by the boxes", BOX_REPORTS, BOX_REPORTS),
    (9, "reading settings per clinic", CLINIC_READING, CLINIC_READING),
    (10, "one spelling: enrolment", ENROLMENT_POSTGRES, ENROLMENT_SQLITE),
    (11, "two-step sign-in", TWO_STEP_POSTGRES, TWO_STEP_SQLITE),
    (12, "hash-chained audit events", AUDIT_CHAIN_POSTGRES, AUDIT_CHAIN_SQLITE),
    (13, "key rotation tokens", ROTATION_TOKENS, ROTATION_TOKENS),
    (14, "quarantine counts reported by the boxes", BOX_QUARANTINE, BOX_QUARANTINE),
    (15, "document tags and notes from the boxes", TAGS_AND_NOTES, TAGS_AND_NOTES),
]


def applied_versions() -> set[int]:
    """Versions already applied to the connected database."""
    return migrations.applied_versions(database)


def migrate() -> list[int]:
    """Apply every migration not yet applied; the versions applied now.

    On PostgreSQL an advisory lock makes two hub processes starting at once take turns.
    """
    dialect = 2 if is_postgres() else 3
    chosen = [(entry[0], entry[1], entry[dialect]) for entry in MIGRATIONS]
    return migrations.migrate(database, chosen, "SELECT pg_advisory_xact_lock(4242001)" if is_postgres() else None)
