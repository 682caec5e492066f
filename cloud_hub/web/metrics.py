"""GET /metrics for Prometheus, with a bearer token (HUB_METRICS_TOKEN); absent when unset.

Per box: what it reported of its sync (backlog, oldest unsynced age, bytes pending, whether its
last attempt failed), last seen and last batch times, bytes in and out, sequence gaps, breaks
and missing events in its audit chain, revoked;
per organisation: documents and pages.
"""

from __future__ import annotations

import peewee as pw
from flask import Blueprint, Response, abort
from prometheus_client import CollectorRegistry, Gauge, generate_latest

from core.web.security import bearer_matches

from ..models import Clinic, Device, Document, Organisation, Page
from .access import hub

bp = Blueprint("hub_metrics", __name__)
DEVICE_LABELS = ["organisation", "clinic", "device"]


def hub_metrics() -> bytes:
    registry = CollectorRegistry()
    gauges = {
        name: Gauge(f"digifort_hub_device_{name}", text, DEVICE_LABELS, registry=registry)
        for name, text in (
            ("backlog", "changes the box reported still to send"),
            ("oldest_unsynced_age_seconds", "age of the oldest change the box reported still to send"),
            ("bytes_pending", "bytes of originals the box reported still to send"),
            ("error", "1 when the box reported that its last sync attempt failed"),
            ("last_seen_timestamp_seconds", "last signed request from the box"),
            ("last_batch_timestamp_seconds", "last batch committed from the box"),
            ("bytes_in", "bytes received from the box"),
            ("bytes_out", "bytes sent to the box"),
            ("sequence_gaps", "batches the box numbered but the hub never received"),
            ("audit_chain_breaks", "links of the box's audit chain that did not hold as its events arrived"),
            ("audit_events_missing", "box audit events missing between the first and the last received"),
            ("revoked", "1 when the box is revoked"),
        )
    }
    rows = Device.select(Device, Clinic, Organisation).join(Clinic).switch(Device).join(Organisation)
    for device in rows:
        labels = {"organisation": device.organisation.name, "clinic": device.clinic.name, "device": device.uid}
        values = {
            "backlog": device.reported_backlog or 0,
            "oldest_unsynced_age_seconds": device.reported_oldest_seconds or 0,
            "bytes_pending": device.reported_bytes_pending or 0,
            "error": 1 if device.reported_last_error else 0,
            "last_seen_timestamp_seconds": device.last_seen_at.timestamp() if device.last_seen_at else 0,
            "last_batch_timestamp_seconds": device.last_batch_at.timestamp() if device.last_batch_at else 0,
            "bytes_in": device.bytes_in,
            "bytes_out": device.bytes_out,
            "sequence_gaps": device.seq_gaps,
            "audit_chain_breaks": device.audit_breaks,
            "audit_events_missing": device.audit_missing,
            "revoked": 1 if device.revoked_at else 0,
        }
        for name, value in values.items():
            gauges[name].labels(**labels).set(value)
    documents = Gauge("digifort_hub_documents", "documents per organisation", ["organisation"], registry=registry)
    pages = Gauge("digifort_hub_pages", "pages per organisation", ["organisation"], registry=registry)
    for name, count in (
        Organisation.select(Organisation.name, pw.fn.COUNT(Document.id))
        .join(Document, pw.JOIN.LEFT_OUTER)
        .group_by(Organisation.name)
        .tuples()
    ):
        documents.labels(organisation=name).set(count)
    for name, count in (
        Organisation.select(Organisation.name, pw.fn.COUNT(Page.id))
        .join(Page, pw.JOIN.LEFT_OUTER, on=(Page.organisation == Organisation.id))
        .group_by(Organisation.name)
        .tuples()
    ):
        pages.labels(organisation=name).set(count)
    return generate_latest(registry)


@bp.get("/metrics")
def metrics():
    token = hub().config.metrics_token
    if not token:
        abort(404)
    if not bearer_matches(token):
        abort(401)
    return Response(hub_metrics(), mimetype="text/plain; version=0.0.4")
