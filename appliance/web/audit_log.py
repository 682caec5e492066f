"""The audit log for admins: who viewed or changed what, when, from where; filter and export."""

from __future__ import annotations

import csv
import io
import json

from flask import Blueprint, Response, render_template, request, url_for

from core.audit_details import detail_lines
from core.spreadsheet import safe_row

from .. import audit
from ..audit_view import Filters, events, patient_named
from ..models import AuditEvent, User
from .auth import actor, admin_required
from .documents import parse_iso_date
from .extensions import client_address

bp = Blueprint("audit_log", __name__)
PER_PAGE = 100


def request_filters() -> Filters:
    """The filters the admin typed (a date that does not parse is left out)."""
    try:
        start, end = parse_iso_date(request.args.get("from")), parse_iso_date(request.args.get("to"))
    except ValueError:
        start = end = None
    return Filters(
        actor=request.args.get("actor", ""),
        action=request.args.get("action", ""),
        patient_mrn=request.args.get("patient", ""),
        start=start,
        end=end,
    )


def filtered_events():
    return events(request_filters())


def object_link(event: AuditEvent) -> str | None:
    """The page of what the event names, when it has one."""
    if not event.object_id or not event.object_id.isdigit():
        return None
    pages = {
        "document": ("documents.show", "document_id"),
        "patient": ("patients.show", "patient_id"),
    }
    if event.object_type in pages:
        endpoint, argument = pages[event.object_type]
        return url_for(endpoint, **{argument: int(event.object_id)})
    if event.object_type in ("user", "quarantine"):
        return url_for("admin_users.index" if event.object_type == "user" else "quarantine.index")
    return None


def export_filters() -> dict:
    """The export's filters as its own audit event keeps them. The user and action boxes take free
    text (a patient's name, typed in the wrong box): their value is kept only when it names a box
    user or begins actions the log has."""
    kept = {name: request.args[name] for name in ("from", "to") if request.args.get(name)}
    who, action = request.args.get("actor", "").strip(), request.args.get("action", "").strip()
    if who:
        kept["actor"] = who if User.select().where(User.username == who).exists() else "(not a box user)"
    if action:
        known = AuditEvent.select().where(AuditEvent.action.contains(action)).exists()
        kept["action"] = action if known else "(no such action)"
    patient = patient_named(request.args.get("patient", ""))
    if request.args.get("patient", "").strip():
        kept["patient"] = patient.id if patient else "(no such patient)"
    return kept


@bp.get("/audit")
@admin_required
def index():
    page = max(1, request.args.get("page", 1, type=int))
    shown = list(filtered_events().paginate(page, PER_PAGE + 1))
    return render_template(
        "audit.html",
        events=shown[:PER_PAGE],
        more=len(shown) > PER_PAGE,
        page=page,
        filters=request.args,
        object_link=object_link,
        detail_lines=detail_lines,
        patient_unknown=bool(request.args.get("patient", "").strip()) and not patient_named(request.args["patient"]),
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
