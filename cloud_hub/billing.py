"""Metering, usage and invoices.

Every request is metered (bytes in and out) against its organisation and, for a box's
requests, its device; every new document adds its pages. A daily roll-up records how many
bytes each organisation stores. A month's usage is priced with the organisation's plan:

- pages ingested × price per page;
- storage in GB-months: the bytes stored each day (the latest snapshot on or before that day),
  summed over the month's days, divided by the number of days in the month, in GB (10^9 bytes);
- data transferred: bytes in plus bytes out, in GB, × price per GB.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
import json
from decimal import ROUND_HALF_UP, Decimal

import peewee as pw

from .db import database
from .models import Blob, Invoice, Organisation, PricePlan, UsageDaily, utcnow

GB = Decimal(10**9)
DEFAULT_PLAN = {
    "currency": "GBP",
    "per_page": Decimal("0.0200"),
    "per_gb_month": Decimal("0.1000"),
    "per_gb_transfer": Decimal("0.0500"),
}


class BillingError(ValueError):
    """A month or a plan given is not usable."""


def meter(
    organisation_id: int,
    device_id: int = 0,
    *,
    pages: int = 0,
    documents: int = 0,
    bytes_in: int = 0,
    bytes_out: int = 0,
    day: dt.date | None = None,
) -> None:
    """Add to an organisation's (and device's) usage for the day."""
    day = day or utcnow().date()
    UsageDaily.insert(
        organisation=organisation_id,
        day=day,
        device_id=device_id,
        pages=pages,
        documents=documents,
        bytes_in=bytes_in,
        bytes_out=bytes_out,
    ).on_conflict(
        conflict_target=[UsageDaily.organisation, UsageDaily.day, UsageDaily.device_id],
        update={
            UsageDaily.pages: UsageDaily.pages + pw.EXCLUDED.pages,
            UsageDaily.documents: UsageDaily.documents + pw.EXCLUDED.documents,
            UsageDaily.bytes_in: UsageDaily.bytes_in + pw.EXCLUDED.bytes_in,
            UsageDaily.bytes_out: UsageDaily.bytes_out + pw.EXCLUDED.bytes_out,
        },
    ).execute()


def snapshot_storage(day: dt.date | None = None) -> int:
    """Record every organisation's stored bytes for `day` (idempotent); how many were recorded."""
    day = day or utcnow().date()
    totals = dict(Blob.select(Blob.organisation, pw.fn.SUM(Blob.size)).group_by(Blob.organisation).tuples())
    with database.atomic():
        for organisation in Organisation.select(Organisation.id):
            stored = int(totals.get(organisation.id) or 0)
            UsageDaily.insert(organisation=organisation.id, day=day, device_id=0, bytes_stored=stored).on_conflict(
                conflict_target=[UsageDaily.organisation, UsageDaily.day, UsageDaily.device_id],
                update={UsageDaily.bytes_stored: stored},
            ).execute()
    return len(totals)


def parse_month(month: str) -> tuple[dt.date, dt.date]:
    """First and last day of a "YYYY-MM" month."""
    try:
        first = dt.datetime.strptime(month, "%Y-%m").date()
    except (TypeError, ValueError):
        raise BillingError("a month looks like 2026-11") from None
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


def usage(organisation_id: int, month: str) -> dict:
    """An organisation's usage in `month`: totals, storage GB-months and a line per device."""
    first, last = parse_month(month)
    rows = list(
        UsageDaily.select().where((UsageDaily.organisation == organisation_id) & UsageDaily.day.between(first, last))
    )
    devices: dict[int, dict] = {}
    for row in rows:
        line = devices.setdefault(
            row.device_id, {"device_id": row.device_id, "pages": 0, "documents": 0, "bytes_in": 0, "bytes_out": 0}
        )
        for name in ("pages", "documents", "bytes_in", "bytes_out"):
            line[name] += getattr(row, name)
    totals = {
        name: sum(line[name] for line in devices.values()) for name in ("pages", "documents", "bytes_in", "bytes_out")
    }
    return {
        "month": month,
        **totals,
        "storage_gb_months": _gb_months(organisation_id, first, last),
        "devices": sorted(devices.values(), key=lambda line: line["device_id"]),
    }


def _gb_months(organisation_id: int, first: dt.date, last: dt.date) -> Decimal:
    snapshots = dict(
        UsageDaily.select(UsageDaily.day, UsageDaily.bytes_stored)
        .where(
            (UsageDaily.organisation == organisation_id)
            & (UsageDaily.device_id == 0)
            & (UsageDaily.day <= last)
            & UsageDaily.bytes_stored.is_null(False)
        )
        .order_by(UsageDaily.day)
        .tuples()
    )
    known = [day for day in snapshots if day < first]
    stored = snapshots[known[-1]] if known else 0
    byte_days = 0
    for offset in range((last - first).days + 1):
        stored = snapshots.get(first + dt.timedelta(days=offset), stored)
        byte_days += stored
    return (Decimal(byte_days) / GB / Decimal((last - first).days + 1)).quantize(Decimal("0.000001"))


def plan_of(organisation_id: int) -> dict:
    """The organisation's price plan, or the default one."""
    plan = PricePlan.get_or_none(PricePlan.organisation == organisation_id)
    if plan is None:
        return dict(DEFAULT_PLAN)
    return {
        "currency": plan.currency,
        "per_page": plan.per_page,
        "per_gb_month": plan.per_gb_month,
        "per_gb_transfer": plan.per_gb_transfer,
    }


def set_plan(
    organisation_id: int, currency: str, per_page: Decimal, per_gb_month: Decimal, per_gb_transfer: Decimal
) -> None:
    """Give an organisation its own prices."""
    if min(per_page, per_gb_month, per_gb_transfer) < 0 or len(currency) != 3:
        raise BillingError("prices cannot be negative and the currency is a 3-letter code")
    PricePlan.insert(
        organisation=organisation_id,
        currency=currency.upper(),
        per_page=per_page,
        per_gb_month=per_gb_month,
        per_gb_transfer=per_gb_transfer,
    ).on_conflict(
        conflict_target=[PricePlan.organisation],
        update={
            PricePlan.currency: currency.upper(),
            PricePlan.per_page: per_page,
            PricePlan.per_gb_month: per_gb_month,
            PricePlan.per_gb_transfer: per_gb_transfer,
        },
    ).execute()


def _money(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def month_ended(month: str, today: dt.date | None = None) -> None:
    """Refuse a month that has not ended yet (the current month or a later one)."""
    _, last = parse_month(month)
    today = today or utcnow().date()
    if last >= today:
        raise BillingError(
            f"{month} has not ended yet: its invoice can be made from {last + dt.timedelta(days=1):%Y-%m-%d}"
        )


def priced(organisation_id: int, month: str) -> dict:
    """What the month's invoice would say, from its usage and the plan now: currency, lines, total."""
    used, plan = usage(organisation_id, month), plan_of(organisation_id)
    transfer_gb = (Decimal(used["bytes_in"] + used["bytes_out"]) / GB).quantize(Decimal("0.000001"))
    lines = [
        ("Pages ingested", Decimal(used["pages"]), "page", plan["per_page"]),
        ("Storage", used["storage_gb_months"], "GB-month", plan["per_gb_month"]),
        ("Data transferred", transfer_gb, "GB", plan["per_gb_transfer"]),
    ]
    items = [
        {
            "description": text,
            "quantity": str(quantity),
            "unit": unit,
            "unit_price": str(price),
            "amount": str(_money(quantity * price)),
        }
        for text, quantity, unit, price in lines
    ]
    total = sum((Decimal(line["amount"]) for line in items), Decimal("0.00"))
    return {"month": month, "currency": plan["currency"], "lines": items, "total": total}


def issued(organisation_id: int, month: str) -> Invoice | None:
    """The organisation's invoice for a month, if one was made."""
    return Invoice.get_or_none((Invoice.organisation == organisation_id) & (Invoice.month == month))


def invoice(organisation_id: int, month: str, today: dt.date | None = None) -> Invoice:
    """The organisation's invoice for an ended month, made from its usage and plan the first time asked."""
    existing = issued(organisation_id, month)
    if existing is not None:
        return existing
    month_ended(month, today)
    bill = priced(organisation_id, month)
    try:
        with database.atomic():
            return Invoice.create(
                organisation=organisation_id,
                month=month,
                currency=bill["currency"],
                lines=json.dumps(bill["lines"]),
                total=bill["total"],
            )
    except pw.IntegrityError:
        return Invoice.get((Invoice.organisation == organisation_id) & (Invoice.month == month))


def invoice_lines(row: Invoice) -> list[dict]:
    return json.loads(row.lines)


def invoice_csv(row: Invoice) -> str:
    """The invoice as CSV: one line per item, then the total."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["description", "quantity", "unit", "unit_price", "amount", "currency"])
    for line in invoice_lines(row):
        writer.writerow(
            [line["description"], line["quantity"], line["unit"], line["unit_price"], line["amount"], row.currency]
        )
    writer.writerow(["Total", "", "", "", f"{row.total:.2f}", row.currency])
    return out.getvalue()


def invoice_pdf(row: Invoice, organisation_name: str) -> bytes:
    """The invoice as a one-page PDF."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    pdf.setTitle(f"DigiFort invoice {row.month}")
    pdf.setFont("Helvetica-Bold", 16)
    pdf.drawString(60, 780, f"DigiFort invoice · {organisation_name} · {row.month}")
    pdf.setFont("Helvetica", 10)
    pdf.drawString(60, 760, f"Invoice {row.id}, issued {row.created_at:%Y-%m-%d}; amounts in {row.currency}")
    y = 720
    for label, x in (("Description", 60), ("Quantity", 250), ("Unit", 340), ("Unit price", 410), ("Amount", 490)):
        pdf.drawString(x, y, label)
    for line in invoice_lines(row):
        y -= 20
        for value, x in (
            (line["description"], 60),
            (line["quantity"], 250),
            (line["unit"], 340),
            (line["unit_price"], 410),
            (line["amount"], 490),
        ):
            pdf.drawString(x, y, value)
    pdf.setFont("Helvetica-Bold", 11)
    pdf.drawString(410, y - 30, "Total")
    pdf.drawString(490, y - 30, f"{row.total:.2f}")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
