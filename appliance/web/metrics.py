"""GET /metrics for Prometheus, with a bearer token (APPLIANCE_METRICS_TOKEN); absent when unset."""
from __future__ import annotations

import hmac

from flask import Blueprint, Response, abort, current_app, request

from sync.metrics import box_metrics

bp = Blueprint("metrics", __name__)


def token_matches(expected: str | None) -> bool:
    """True when the request carries `Authorization: Bearer <expected>` (and a token is configured)."""
    given = request.headers.get("Authorization", "")
    return bool(expected) and hmac.compare_digest(given.encode(), f"Bearer {expected}".encode())


@bp.get("/metrics")
def metrics():
    config = current_app.config["BOX"]
    if not config.metrics_token:
        abort(404)
    if not token_matches(config.metrics_token):
        abort(401)
    return Response(box_metrics(config), mimetype="text/plain; version=0.0.4")
