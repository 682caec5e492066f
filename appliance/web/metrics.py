"""GET /metrics for Prometheus, with a bearer token (APPLIANCE_METRICS_TOKEN); absent when unset."""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app

from appliance.metrics import box_metrics
from core.web.security import bearer_matches

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics():
    config = current_app.config["BOX"]
    if not config.metrics_token:
        abort(404)
    if not bearer_matches(config.metrics_token):
        abort(401)
    return Response(box_metrics(config), mimetype="text/plain; version=0.0.4")
