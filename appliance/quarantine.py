"""Staff actions on quarantined files: retry them through the pipeline, or discard them to the trash."""

from __future__ import annotations

from . import audit
from .db import database
from .models import Job, Quarantine, Scan, utcnow


class QuarantineError(ValueError):
    """The action does not apply to this entry."""


def open_entries():
    """Quarantine entries nobody has dealt with yet, newest first."""
    return Quarantine.select().where(Quarantine.resolved_at.is_null()).order_by(Quarantine.created_at.desc())


def retry(entry: Quarantine, actor: str, address: str | None = None) -> Job:
    """Send the kept original through the pipeline again (after a fix or an upgrade)."""
    if entry.scan_id is None:
        raise QuarantineError("this entry has no stored file to retry (it was a link or a special file)")
    if entry.resolved_at is not None:
        raise QuarantineError("this entry was already dealt with")
    with database.atomic("IMMEDIATE"):
        Quarantine.update(resolved_at=utcnow(), resolution="retried").where(Quarantine.id == entry.id).execute()
        Scan.update(status="pending").where(Scan.id == entry.scan_id).execute()
        Job.update(
            state="pending", attempts=0, owner=None, last_error=None, pages_done=0, pages_total=None, finished_at=None
        ).where(Job.scan == entry.scan_id).execute()
        audit.record("quarantine.retry", actor=actor, obj=entry, address=address, scan=entry.scan_id)
    return Job.get(Job.scan == entry.scan_id)


def discard(entry: Quarantine, actor: str, address: str | None = None):
    """Close the entry as discarded (admin only, audited); its original stays restorable in the
    trash until it is purged (`appliance.trash`)."""
    if entry.resolved_at is not None:
        raise QuarantineError("this entry was already dealt with")
    with database.atomic("IMMEDIATE"):
        Quarantine.update(resolved_at=utcnow(), resolution="discarded").where(Quarantine.id == entry.id).execute()
        audit.record("quarantine.discard", actor=actor, obj=entry, address=address, scan=entry.scan_id)
