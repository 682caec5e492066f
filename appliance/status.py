"""What the box is doing: counts by status, queue depth, oldest job age."""

from __future__ import annotations

import shutil

import peewee as pw

from .models import Document, Job, Quarantine, Scan, utcnow


def box_status() -> dict:
    """A summary for the CLI and the dashboard."""
    documents = dict(Document.select(Document.status, pw.fn.COUNT(Document.id)).group_by(Document.status).tuples())
    scans = dict(Scan.select(Scan.status, pw.fn.COUNT(Scan.id)).group_by(Scan.status).tuples())
    queued = Job.select().where(Job.state.in_(["pending", "running"]))
    oldest = queued.order_by(Job.created_at).first()
    running = Job.select().where(Job.state == "running")
    return {
        "documents": {status: documents.get(status, 0) for status in Document.STATUSES},
        "scans": {status: scans.get(status, 0) for status in Scan.STATUSES},
        "quarantine_open": Quarantine.select().where(Quarantine.resolved_at.is_null()).count(),
        "queue_depth": queued.count(),
        "processing": [
            {"scan_id": job.scan_id, "pages_done": job.pages_done, "pages_total": job.pages_total} for job in running
        ],
        "oldest_job_age_seconds": round((utcnow() - oldest.created_at).total_seconds(), 1) if oldest else None,
    }


def disk_low(config) -> bool:
    """True when the data disk has less than APPLIANCE_MIN_FREE_MB free: intake pauses then."""
    return shutil.disk_usage(config.data_dir).free < config.min_free_mb * 1024 * 1024
