"""The OpenAPI document describes every API route the hub serves, and nothing it does not
(the browser pages are not part of the API)."""

import re
from pathlib import Path

import yaml

SPEC = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"


def test_openapi_lists_exactly_the_hub_routes(hub_app):
    spec = yaml.safe_load(SPEC.read_text())
    assert spec["openapi"].startswith("3.")
    documented = {
        (path, method.upper())
        for path, ops in spec["paths"].items()
        for method in ops
        if method in ("get", "post", "put", "delete", "patch")
    }
    served = set()
    for rule in hub_app.url_map.iter_rules():
        if not (rule.rule.startswith("/api/") or rule.rule == "/healthz"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        served |= {(path, method) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert documented == served
