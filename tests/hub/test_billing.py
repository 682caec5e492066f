"""Metering, usage and invoices: figures from known fixtures, from real requests, and through RQ."""

import datetime as dt
import io
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader

from cloud_hub import billing
from cloud_hub.db import database
from cloud_hub.models import Invoice, UsageDaily
from tests.hub_fixtures import enrol_box, file_document, sign_in

ROOT = Path(__file__).resolve().parents[2]


def test_usage_and_invoice_figures_from_known_fixtures(hub_app, tenants):
    acme = tenants["acme"].id
    with database.connection_context():
        billing.set_plan(acme, "EUR", Decimal("0.05"), Decimal("2.00"), Decimal("1.00"))
        billing.meter(acme, 7, pages=600, documents=60, bytes_in=2 * 10**9, day=dt.date(2026, 10, 3))
        billing.meter(acme, 7, pages=400, documents=40, bytes_in=10**9, bytes_out=10**9, day=dt.date(2026, 10, 5))
        billing.meter(acme, 0, bytes_out=123, day=dt.date(2026, 11, 1))
        UsageDaily.insert(organisation=acme, day=dt.date(2026, 9, 30), device_id=0, bytes_stored=10**9).execute()
        UsageDaily.insert(organisation=acme, day=dt.date(2026, 10, 11), device_id=0, bytes_stored=4 * 10**9).execute()
        used = billing.usage(acme, "2026-10")
        invoice = billing.invoice(acme, "2026-10")
        again = billing.invoice(acme, "2026-10")
    assert (used["pages"], used["documents"], used["bytes_in"], used["bytes_out"]) == (1000, 100, 3 * 10**9, 10**9)
    assert used["storage_gb_months"] == Decimal("3.032258")  # (10 days x 1 GB + 21 days x 4 GB) / 31 days
    assert [line["amount"] for line in billing.invoice_lines(invoice)] == ["50.00", "6.06", "4.00"]
    assert invoice.total == Decimal("60.06") and invoice.currency == "EUR" and again.id == invoice.id
    assert billing.invoice_csv(invoice).splitlines()[-1] == "Total,,,,60.06,EUR"


def test_requests_and_new_documents_are_metered_per_organisation_and_device(hub_app, tenants):
    box = enrol_box(hub_app, tenants["north"])
    file_document(box, "Metered page", "555")
    with database.connection_context():
        rows = list(UsageDaily.select().where(UsageDaily.organisation == tenants["acme"].id))
        other = UsageDaily.select().where(UsageDaily.organisation == tenants["other"].id).count()
    device_rows = [row for row in rows if row.device_id != 0]
    assert len(device_rows) == 1 and device_rows[0].pages == 1 and device_rows[0].documents == 1
    assert device_rows[0].bytes_in > len(b"%PDF-1.4 Metered page") and device_rows[0].bytes_out > 0
    assert other == 0


def test_billing_users_see_usage_and_download_invoices_as_csv_and_pdf(hub_app, tenants, people):
    with database.connection_context():
        billing.meter(tenants["acme"].id, 0, pages=12, day=dt.date(2026, 10, 9))
    bill = sign_in(hub_app, "bill@acme.test")
    assert bill.get("/").headers["Location"].endswith("/billing")
    page = bill.get("/billing?month=2026-10").get_data(as_text=True)
    assert "12</span><span>pages ingested" in page
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    env_redis = hub_app.extensions["digifort_hub"].config.redis_url
    asked = bill.post("/billing/invoices", data={"csrf_token": token, "month": "2026-10"}).get_data(as_text=True)
    assert "Make the invoice for 2026-10?" in asked and 'id="confirm-total">GBP 0.24<' in asked
    assert bill.get("/api/v1/billing/invoices").get_json()["invoices"] == []
    bill.post("/billing/invoices", data={"csrf_token": token, "month": "2026-10", "confirm": "yes"})
    if env_redis:
        env = dict(
            os.environ,
            DATABASE_URL=hub_app.extensions["digifort_hub"].config.database_url,
            REDIS_URL=env_redis,
            HUB_DATA_DIR=str(hub_app.extensions["digifort_hub"].config.data_dir),
        )
        worked = subprocess.run(
            [sys.executable, "-m", "cloud_hub", "worker", "--burst"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert worked.returncode == 0, worked.stderr
    listed = bill.get("/api/v1/billing/invoices").get_json()["invoices"]
    assert [(i["month"], i["total"]) for i in listed] == [("2026-10", "0.24")]
    csv_text = bill.get(f"/billing/invoices/{listed[0]['id']}.csv").get_data(as_text=True)
    assert "Pages ingested,12,page,0.0200,0.24,GBP" in csv_text
    pdf = bill.get(f"/billing/invoices/{listed[0]['id']}.pdf")
    text = PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()
    assert pdf.mimetype == "application/pdf" and "Acme Health" in text and "0.24" in text
    assert bill.get("/api/v1/billing/usage?month=2026-10").get_json()["pages"] == 12
    assert sign_in(hub_app, "vera@acme.test").get("/billing").status_code == 403
    with database.connection_context():
        assert Invoice.select().count() == 1


def test_a_month_that_has_not_ended_cannot_be_invoiced(hub_app, tenants, people):
    acme = tenants["acme"].id
    with database.connection_context():
        billing.meter(acme, 0, pages=5, day=dt.date(2026, 11, 30))
        for month, today in (("2026-11", dt.date(2026, 11, 30)), ("2026-12", dt.date(2026, 11, 15))):
            with pytest.raises(billing.BillingError, match="has not ended yet"):
                billing.invoice(acme, month, today=today)
        assert billing.invoice(acme, "2026-11", today=dt.date(2026, 12, 1)).total == Decimal("0.10")
        assert Invoice.select().count() == 1
    this_month = billing.utcnow().strftime("%Y-%m")
    bill = sign_in(hub_app, "bill@acme.test")
    page = bill.get(f"/billing?month={this_month}").get_data(as_text=True)
    assert "has not ended yet" in page and "Make the invoice for" not in page
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    refused = bill.post(
        "/billing/invoices", data={"csrf_token": token, "month": this_month, "confirm": "yes"}, follow_redirects=True
    )
    assert f"{this_month} has not ended yet" in refused.get_data(as_text=True)
    unsigned = bill.post("/billing/invoices", data={"month": "2026-10", "confirm": "yes"})
    assert unsigned.status_code == 400
    with database.connection_context():
        assert Invoice.select().count() == 1
