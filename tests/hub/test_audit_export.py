"""The hub's audit export opens in a spreadsheet as text: a username typed at a box's failed
sign-in, synced to the hub, cannot become a formula in head office's CSV (OWASP's CSV injection
advice)."""

import csv
import io
import uuid

from appliance.models import AuditEvent as BoxAuditEvent
from appliance.sync.payloads import item_for
from tests.conftest import sign_in as box_sign_in
from tests.hub_fixtures import enrol_box, sign_in

HOSTILE = '=HYPERLINK("http://evil","x")'


def test_a_formula_typed_at_a_box_is_exported_as_text_at_the_hub(app, hub_app, tenants, people):
    assert box_sign_in(app.test_client(), HOSTILE, "wrong-password-1").status_code == 401
    event = BoxAuditEvent.get(BoxAuditEvent.action == "auth.login_failed")
    desk = enrol_box(hub_app, tenants["north"], name="front desk box")
    batch = {"batch_id": uuid.uuid4().hex, "seq": 1, "items": [item_for("audit", str(event.id))[0]]}
    assert desk.post_json("/api/v1/sync/batches", batch).get_json()["results"][0]["status"] == "applied"

    exported = sign_in(hub_app, "it@acme.test").get("/audit.csv?action=auth.login_failed")
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert [row["actor"] for row in rows] == [f"'{HOSTILE} (box front desk box)"]
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row.values())
