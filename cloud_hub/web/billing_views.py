"""Billing for the `billing` and `org_admin` roles: usage by month, invoices as CSV and PDF."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for

from .. import audit, billing, records
from ..jobs import enqueue, invoice_job
from ..models import Invoice
from .access import actor, address, hub, organisation_id, roles

bp = Blueprint("hub_billing", __name__)
BILLERS = ("billing", "org_admin")


def _last_month() -> str:
    first = dt.date.today().replace(day=1)
    return (first - dt.timedelta(days=1)).strftime("%Y-%m")


def _month() -> str:
    month = request.args.get("month") or _last_month()
    try:
        billing.parse_month(month)
    except billing.BillingError:
        abort(400)
    return month


def _invoice(invoice_id: int) -> Invoice:
    found = Invoice.get_or_none((Invoice.id == invoice_id) & (Invoice.organisation == organisation_id()))
    if found is None:
        abort(404)
    return found


def _invoice_json(row: Invoice) -> dict:
    return {
        "id": row.id,
        "month": row.month,
        "currency": row.currency,
        "total": f"{row.total:.2f}",
        "lines": billing.invoice_lines(row),
        "created_at": row.created_at.isoformat() + "Z",
    }


@bp.get("/billing")
@roles(*BILLERS)
def index():
    month = _month()
    invoices = Invoice.select().where(Invoice.organisation == organisation_id()).order_by(Invoice.month.desc())
    return render_template(
        "hub_billing.html",
        month=month,
        usage=billing.usage(organisation_id(), month),
        plan=billing.plan_of(organisation_id()),
        invoices=invoices,
        not_ended=_not_ended(month),
        issued=billing.issued(organisation_id(), month),
    )


def _not_ended(month: str) -> str | None:
    try:
        billing.month_ended(month)
    except billing.BillingError as problem:
        return str(problem)
    return None


@bp.post("/billing/invoices")
@roles(*BILLERS)
def make_invoice():
    month = request.form.get("month", "")
    try:
        billing.month_ended(month)
    except billing.BillingError as problem:
        flash(str(problem), "error")
        return redirect(url_for("hub_billing.index", month=month if len(month) == 7 else None))
    if billing.issued(organisation_id(), month) is not None:
        flash(f"The invoice for {month} was already made.")
        return redirect(url_for("hub_billing.index", month=month))
    if request.form.get("confirm") != "yes":
        return render_template("hub_billing_confirm.html", bill=billing.priced(organisation_id(), month))
    outcome = enqueue(hub().config, invoice_job, organisation_id(), month)
    audit.record("invoice.request", actor=actor(), organisation=organisation_id(), address=address(), month=month)
    flash(f"Invoice for {month}: {outcome.split(':')[0]}.")
    return redirect(url_for("hub_billing.index", month=month))


@bp.get("/billing/invoices/<int:invoice_id>.csv")
@roles(*BILLERS)
def invoice_csv(invoice_id: int):
    row = _invoice(invoice_id)
    audit.record("invoice.export", actor=actor(), organisation=organisation_id(), obj=row, address=address())
    return Response(
        billing.invoice_csv(row),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename=invoice-{row.month}.csv"},
    )


@bp.get("/billing/invoices/<int:invoice_id>.pdf")
@roles(*BILLERS)
def invoice_pdf(invoice_id: int):
    row = _invoice(invoice_id)
    audit.record("invoice.export", actor=actor(), organisation=organisation_id(), obj=row, address=address())
    pdf = billing.invoice_pdf(row, records.organisation(organisation_id()).name)
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f"attachment; filename=invoice-{row.month}.pdf"},
    )


@bp.get("/api/v1/billing/usage")
@roles(*BILLERS)
def api_usage():
    used = billing.usage(organisation_id(), _month())
    return jsonify({**used, "storage_gb_months": str(used["storage_gb_months"])})


@bp.get("/api/v1/billing/invoices")
@roles(*BILLERS)
def api_invoices():
    rows = Invoice.select().where(Invoice.organisation == organisation_id()).order_by(Invoice.month.desc())
    return jsonify(invoices=[_invoice_json(row) for row in rows])


@bp.get("/api/v1/billing/invoices/<int:invoice_id>")
@roles(*BILLERS)
def api_invoice(invoice_id: int):
    return jsonify(invoice=_invoice_json(_invoice(invoice_id)))
