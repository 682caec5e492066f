"""Upload: the manual path into the same pipeline, one file per request for per-file progress."""

from __future__ import annotations

from pathlib import PurePath

from flask import Blueprint, abort, current_app, jsonify, render_template, request, url_for

from ..ingest.intake import accept_stream
from ..models import Document, Job, Quarantine, Scan
from .auth import actor

bp = Blueprint("upload", __name__)


@bp.get("/upload")
def index():
    return render_template("upload.html")


@bp.post("/upload")
def receive():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return jsonify(error="no file was sent"), 400
    config = current_app.config["BOX"]
    name = PurePath(upload.filename.replace("\\", "/")).name[:255] or "upload"
    intake = accept_stream(upload.stream, config, source="upload", original_name=name, actor=actor())
    scan = intake.scan
    return jsonify(
        outcome=intake.outcome,
        reason=intake.reason,
        scan_id=scan.id if scan else None,
        status_url=url_for("upload.scan_status", scan_id=scan.id) if scan else None,
    ), 201


@bp.get("/api/scans/<int:scan_id>")
def scan_status(scan_id: int):
    """Where a received file is in the pipeline, for the upload page's progress bars."""
    scan = Scan.get_or_none(Scan.id == scan_id) or abort(404)
    source = scan.duplicate_of if scan.status == "duplicate" else scan
    job = Job.get_or_none(Job.scan == source.id)
    entry = Quarantine.select().where(Quarantine.scan == source.id).order_by(Quarantine.id.desc()).first()
    documents = [
        {"id": d.id, "status": d.status, "url": url_for("documents.show", document_id=d.id)}
        for d in Document.select().where(Document.scan == source.id).order_by(Document.id)
    ]
    return jsonify(
        status=scan.status,
        pages_done=job.pages_done if job else 0,
        pages_total=job.pages_total if job else None,
        documents=documents,
        reason=entry.reason if scan.status == "quarantined" and entry else None,
    )
