"""The hub side of the sync protocol: /api/v1/sync/... (docs/sync-protocol.md).

Every answer carries the hub's clock in X-DigiFort-Server-Time, so a box without a real-time
clock can correct its own. Errors are JSON: {"error": code, "message": text, "retry": bool}.
"""

from __future__ import annotations

import time

from flask import Blueprint, current_app, g, jsonify, request, send_file

from sync import protocol

from .. import blobs, changes, devices
from ..batches import BatchError, commit, parse
from ..blobs import BlobError
from ..device_auth import DeviceAuthError, authenticate
from ..devices import EnrolmentError
from ..models import Clinic, Organisation

bp = Blueprint("sync_api", __name__, url_prefix="/api/v1/sync")
RETRY_STATUSES = {408, 409, 425, 429, 500, 502, 503, 504}
CHANGES_LIMIT = 500


def error(status: int, code: str, message: str, **extra):
    """The JSON error answer; `retry` tells the box whether sending again can succeed."""
    body = {"error": code, "message": message, "retry": status in RETRY_STATUSES, **extra}
    if code == "clock_skew":
        body["server_time"] = time.time()
    return jsonify(body), status


@bp.after_request
def server_time(response):
    response.headers[protocol.SERVER_TIME] = f"{time.time():.3f}"
    return response


@bp.errorhandler(DeviceAuthError)
def refused(problem: DeviceAuthError):
    return error(problem.status, problem.code, problem.message)


@bp.errorhandler(BlobError)
def blob_refused(problem: BlobError):
    extra = {"received": problem.received} if problem.received is not None else {}
    return error(problem.status, problem.code, problem.message, **extra)


@bp.errorhandler(BatchError)
def batch_refused(problem: BatchError):
    return error(problem.status, problem.code, problem.message)


@bp.before_request
def signed_device():
    """Every route but enrolment and the clock needs a signed request from an enrolled device."""
    if request.endpoint in ("sync_api.enrol", "sync_api.enroll", "sync_api.clock"):
        return None
    hub = current_app.extensions["digifort_hub"]
    g.device = authenticate(
        request.headers,
        request.method,
        request.full_path.rstrip("?"),
        request.get_data(),
        hub.config.clock_skew_seconds,
        hub.nonces,
    )
    return None


@bp.get("/time")
def clock():
    return jsonify({"server_time": time.time()})


@bp.post("/enrol")
@bp.post("/enroll", endpoint="enroll")  # the spelling boxes before 2026-12 use
def enrol():
    data = request.get_json(silent=True) or {}
    try:
        device = devices.enrol(
            str(data.get("token", "")),
            str(data.get("public_key", "")),
            str(data.get("name", "")),
            address=request.remote_addr,
        )
    except (EnrolmentError, protocol.SignatureError) as problem:
        return error(400, "enrolment_refused", str(problem))
    clinic = Clinic.get_by_id(device.clinic_id)
    organisation = Organisation.get_by_id(device.organisation_id)
    return jsonify(
        {
            "device_id": device.uid,
            "clinic": {"id": clinic.id, "name": clinic.name},
            "organisation": {"id": organisation.id, "name": organisation.name},
            "server_time": time.time(),
        }
    ), 201


@bp.get("/device")
def device_info():
    device = g.device
    return jsonify(
        {
            "device_id": device.uid,
            "name": device.name,
            "clinic_id": device.clinic_id,
            "last_seq": device.last_seq,
            "seq_gaps": device.seq_gaps,
        }
    )


@bp.post("/device/key")
def rotate_key():
    data = request.get_json(silent=True) or {}
    try:
        devices.rotate_key(
            g.device,
            str(data.get("public_key", "")),
            str(data.get("rotation_token", "")),
            actor=f"device:{g.device.uid}",
        )
    except devices.RotationRefused as problem:
        return error(403, "rotation_refused", str(problem))
    except (EnrolmentError, protocol.SignatureError) as problem:
        return error(400, "bad_key", str(problem))
    return jsonify({"rotated": True})


@bp.post("/blobs/missing")
def missing_blobs():
    data = request.get_json(silent=True) or {}
    hashes = data.get("sha256")
    if not isinstance(hashes, list) or len(hashes) > 1000:
        return error(400, "bad_request", 'send {"sha256": [...]} with at most 1000 hashes')
    missing = blobs.missing(g.device.organisation_id, hashes)
    return jsonify({"missing": missing, "received": blobs.partial_uploads(g.device, missing)})


@bp.get("/blobs/<sha256>")
def blob_state(sha256: str):
    found = blobs.state(g.device, sha256)
    if found is None:
        return jsonify({"sha256": sha256.lower(), "received": 0, "complete": False})
    return jsonify(found.as_json())


@bp.get("/blobs/<sha256>/content")
def blob_content(sha256: str):
    """A stored original back to a box whose clinic has a document made from it (the box evicted its copy)."""
    hub = current_app.extensions["digifort_hub"]
    blob = blobs.of_clinic(g.device, sha256)
    if blob is None:
        return error(404, "not_found", "the hub has no such original for this box's clinic")
    return send_file(
        hub.storage.open(blob.storage_key),
        mimetype="application/octet-stream",
        download_name=f"{blob.sha256}.bin",
        as_attachment=True,
    )


@bp.put("/blobs/<sha256>")
def upload_chunk(sha256: str):
    hub = current_app.extensions["digifort_hub"]
    try:
        size = int(request.args["size"])
        offset = int(request.args.get("offset", "0"))
    except (KeyError, ValueError):
        return error(400, "bad_request", "PUT /blobs/<sha256>?size=TOTAL&offset=N with the chunk as the body")
    data = request.get_data()
    if len(data) > hub.config.chunk_bytes:
        return error(413, "chunk_too_large", f"chunks may be at most {hub.config.chunk_bytes} bytes")
    state = blobs.receive_chunk(
        g.device,
        sha256,
        size,
        offset,
        data,
        hub.config.staging_dir,
        hub.storage,
        verified_digest=request.headers.get(protocol.DIGEST),
    )
    return jsonify(state.as_json()), 201 if state.complete else 200


@bp.post("/blobs/pack")
def upload_pack():
    """Small blobs together: `?blobs=sha256:size,...` names them, the body is their bytes in
    that order (no larger than one chunk)."""
    hub = current_app.extensions["digifort_hub"]
    data = request.get_data()
    parts = blobs.parse_pack(request.args.get("blobs", ""), len(data), hub.config.chunk_bytes)
    stored = blobs.receive_pack(g.device, parts, data, hub.config.staging_dir, hub.storage)
    return jsonify({"stored": stored}), 201


@bp.post("/batches")
def commit_batch():
    hub = current_app.extensions["digifort_hub"]
    body = request.get_data()
    batch = parse(body, hub.config.max_batch_items, hub.config.max_batch_bytes)
    answer, replayed = commit(g.device, body, batch)
    return jsonify({**answer, "replayed": replayed}), 200


@bp.get("/changes")
def change_feed():
    after = request.args.get("after", 0, type=int)
    limit = min(max(request.args.get("limit", 100, type=int), 1), CHANGES_LIMIT)
    return jsonify(changes.feed(g.device, max(after, 0), limit))
