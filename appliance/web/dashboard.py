"""The dashboard: what is processing, filed today, waiting, quarantined, disk, sync."""
from __future__ import annotations

import datetime as dt
import shutil

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, url_for

from sync import state as sync_state
from sync.status import sync_status

from .. import audit
from ..models import Document, utcnow
from ..status import box_status, disk_low
from .auth import actor
from .extensions import client_address

bp = Blueprint("dashboard", __name__)


def dashboard_figures() -> dict:
    """Everything the dashboard shows, as plain data (also served as JSON for live refresh)."""
    config = current_app.config["BOX"]
    status = box_status()
    today = dt.datetime.combine(utcnow().date(), dt.time())
    disk = shutil.disk_usage(config.data_dir)
    return {
        "processing": status["processing"],
        "queue_depth": status["queue_depth"],
        "filed_today": Document.select().where((Document.status == "filed") & (Document.created_at >= today)).count(),
        "needs_review": status["documents"]["needs_review"],
        "filed_total": status["documents"]["filed"],
        "quarantined": status["quarantine_open"],
        "disk": {"used": disk.used, "total": disk.total, "free": disk.free,
                 "percent": round(100 * disk.used / disk.total, 1) if disk.total else 0,
                 "low": disk_low(config)},
        "sync": sync_status(config),
    }


@bp.get("/")
def index():
    return render_template("dashboard.html", figures=dashboard_figures())


@bp.get("/api/dashboard")
def figures():
    return jsonify(dashboard_figures())


@bp.post("/sync/now")
def sync_now():
    """Ask the sync agent to run a cycle at once (it looks every few seconds)."""
    sync_state.put("sync_now", "1")
    audit.record("sync.now", actor=actor(), address=client_address())
    flash("Sync requested: the box sends what is waiting within a few seconds, if the hub can be reached.")
    return redirect(url_for("dashboard.index"))
