"""The audit log for admins: who viewed or changed what, when, from where; filter and export."""

from __future__ import annotations

import csv
import io
import json

from flask import Blueprint, Response, render_template, request

from core.spreadsheet import safe_row

from .. import audit
from ..models import AuditEvent, User
from .auth import actor, admin_required
from .documents import parse_iso_date
from .extensions import client_address

bp = Blueprint("audit_log", __name__)
PER_PAGE = 100


def filtered_events():
    """Events matching the request's actor, action and date filters, newest first."""
    query = AuditEvent.select().order_by(AuditEvent.id.desc())
    if request.args.get("actor"):
        query = query.where(AuditEvent.actor == request.args["actor"].strip())
    if request.args.get("action"):
        query = query.where(AuditEvent.action.startswith(request.args["action"].strip()))
    try:
        start, end = parse_iso_date(request.args.get("from")), parse_iso_date(request.args.get("to"))
    except ValueError:
        start = end = None
    if start:
        query = query.where(AuditEvent.at >= start)
    if end:
        query = query.where(AuditEvent.at < end.fromordinal(end.toordinal() + 1))
    return query


def export_filters() -> dict:
    """The export's filters as its own audit event keeps them. The user and action boxes take free
    text (a patient's name, typed in the wrong box): their value is kept only when it names a box
    user or begins actions the log has."""
    kept = {name: request.args[name] for name in ("from", "to") if request.args.get(name)}
    who, action = request.args.get("actor", "").strip(), request.args.get("action", "").strip()
    if who:
        kept["actor"] = who if User.select().where(User.username == who).exists() else "(not a box user)"
    if action:
        known = AuditEvent.select().where(AuditEvent.action.startswith(action)).exists()
        kept["action"] = action if known else "(no such action)"
    return kept


@bp.get("/audit")
@admin_required
def index():
    page = max(1, request.args.get("page", 1, type=int))
    events = list(filtered_events().paginate(page, PER_PAGE + 1))
    return render_template(
        "audit.html", events=events[:PER_PAGE], more=len(events) > PER_PAGE, page=page, filters=request.args
    )


@bp.get("/audit.csv")
@admin_required
def export():
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "at", "actor", "action", "object_type", "object_id", "address", "detail"])
    for event in filtered_events().iterator():
        writer.writerow(
            safe_row(
                [
                    event.id,
                    event.at.isoformat(),
                    event.actor,
                    event.action,
                    event.object_type,
                    event.object_id,
                    event.address,
                    json.dumps(event.detail) if event.detail else "",
                ]
            )
        )
    audit.record("audit.export", actor=actor(), address=client_address(), filters=export_filters())
    return Response(
        buffer.getvalue(), mimetype="text/csv", headers={"Content-Disposition": "attachment; filename=audit-log.csv"}
    )
