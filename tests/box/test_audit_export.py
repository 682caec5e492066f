"""The box's audit export opens in a spreadsheet as text: a username typed at a failed sign-in
cannot become a formula (OWASP's CSV injection advice)."""

import csv
import io

from tests.conftest import sign_in

HOSTILE = '=HYPERLINK("http://evil","x")'


def test_a_formula_typed_as_a_username_is_exported_as_text(app, admin_client):
    stranger = app.test_client()
    assert sign_in(stranger, HOSTILE, "wrong-password-1").status_code == 401
    exported = admin_client.get("/audit.csv?action=auth.login_failed")
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert [row["actor"] for row in rows] == ["'" + HOSTILE]
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row.values())
