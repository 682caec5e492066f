"""Prometheus text for the box's /metrics: sync state, queue and documents."""

from __future__ import annotations

import datetime as dt

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from .config import Config
from .status import box_status
from .sync.status import sync_status


def _timestamp(iso: str | None) -> float:
    if not iso:
        return 0.0
    return dt.datetime.fromisoformat(iso.split(" ")[0]).timestamp()


def box_metrics(config: Config) -> bytes:
    """The box's figures in Prometheus text format."""
    registry = CollectorRegistry()
    sync, status = sync_status(config), box_status()
    figures = {
        "digifort_box_sync_configured": ("1 when the box is enrolled with a hub", float(sync["configured"])),
        "digifort_box_sync_backlog": ("changes not yet acknowledged by the hub", sync["backlog"]),
        "digifort_box_sync_oldest_unsynced_seconds": (
            "age of the oldest unacknowledged change",
            sync["oldest_unsynced_age_seconds"] or 0,
        ),
        "digifort_box_sync_bytes_pending": ("bytes of originals still to send", sync["bytes_pending"]),
        "digifort_box_sync_set_aside": ("changes the hub refused, set aside", len(sync["set_aside"])),
        "digifort_box_sync_last_success_timestamp_seconds": (
            "last cycle that ended well",
            _timestamp(sync["last_success"]),
        ),
        "digifort_box_sync_last_error_timestamp_seconds": ("last cycle that failed", _timestamp(sync["last_error"])),
        "digifort_box_sync_clock_offset_seconds": ("hub clock minus box clock", sync["clock_offset_seconds"]),
        "digifort_box_queue_depth": ("OCR jobs pending or running", status["queue_depth"]),
        "digifort_box_quarantine_open": ("files in quarantine", status["quarantine_open"]),
    }
    for name, (help_text, value) in figures.items():
        Gauge(name, help_text, registry=registry).set(value)
    documents = Gauge("digifort_box_documents", "documents by status", ["status"], registry=registry)
    for name, count in status["documents"].items():
        documents.labels(status=name).set(count)
    return generate_latest(registry)
