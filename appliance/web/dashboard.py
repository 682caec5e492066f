"""The dashboard: what is processing, filed today, waiting, quarantined, disk, sync."""

from __future__ import annotations

import datetime as dt
import shutil

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for

from appliance.sync import state as sync_state
from appliance.sync.pull import resolve
from appliance.sync.status import sync_status
from core.humane_time import ago

from .. import audit
from ..models import Document, Scan, SyncConflict, utcnow
from ..status import box_status, disk_low
from ..unlock import sealing_summary
from .auth import actor, admin_required
from .extensions import client_address

bp = Blueprint("dashboard", __name__)


def dashboard_figures() -> dict:
    """Everything the dashboard shows, as plain data (also served as JSON for live refresh)."""
    config = current_app.config["BOX"]
    status = box_status()
    today = dt.datetime.combine(utcnow().date(), dt.time())
    disk = shutil.disk_usage(config.data_dir)
    names = dict(
        Scan.select(Scan.id, Scan.original_name)
        .where(Scan.id.in_([job["scan_id"] for job in status["processing"]]))
        .tuples()
    )
    return {
        "processing": [
            dict(job, name=names.get(job["scan_id"], f"scan {job['scan_id']}")) for job in status["processing"]
        ],
        "queue_depth": status["queue_depth"],
        "filed_today": Document.select().where((Document.status == "filed") & (Document.created_at >= today)).count(),
        "needs_review": status["documents"]["needs_review"],
        "filed_total": status["documents"]["filed"],
        "quarantined": status["quarantine_open"],
        "disk": {
            "used": disk.used,
            "total": disk.total,
            "free": disk.free,
            "percent": round(100 * disk.used / disk.total, 1) if disk.total else 0,
            "low": disk_low(config),
        },
        "sync": sync_status(config),
        "sealing": sealing_summary(config),
        "as_of": utcnow().replace(tzinfo=dt.UTC).isoformat(timespec="seconds"),
    }


bp.add_app_template_filter(ago, "ago")


@bp.get("/")
def index():
    return render_template("dashboard.html", figures=dashboard_figures())


@bp.get("/api/dashboard")
def figures():
    return jsonify(dashboard_figures())


@bp.post("/sync/now")
def sync_now():
    """Ask the sync agent to run a cycle at once (it looks every few seconds)."""
    sync_state.put(sync_state.SYNC_NOW, True)
    audit.record("sync.now", actor=actor(), address=client_address())
    flash("Sync requested: the box sends what is waiting within a few seconds, if the hub can be reached.")
    return redirect(url_for("dashboard.index"))


@bp.post("/sync/conflicts/<int:conflict_id>")
@admin_required
def resolve_conflict(conflict_id: int):
    """An admin settles a conflict between head office's change and the box's unsent edit."""
    conflict = SyncConflict.get_or_none((SyncConflict.id == conflict_id) & SyncConflict.resolved_at.is_null())
    if conflict is None:
        abort(404)
    take_hub = request.form.get("keep") == "hub"
    resolve(conflict, take_hub, actor())
    flash("Head office's version applied." if take_hub else "The box's version kept; it goes to head office.")
    return redirect(url_for("dashboard.index"))
