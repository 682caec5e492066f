"""Exporting a patient's chart for a records request: the form on the patient page posts here and
gets one PDF back (cover page, a bookmark a document), audited as a disclosure.

Staff and admins alike may export: both already see and download every document one by one at the
front desk, where records requests are handled; the export names who made it on its cover page and
in the audit trail, with the purpose chosen.
"""

from __future__ import annotations

import io

from flask import Blueprint, abort, current_app, flash, redirect, request, send_file, url_for

from ..models import Patient, utcnow
from ..pdf_export import ExportError, chart_documents, export_chart
from .auth import actor
from .documents import parse_iso_date
from .extensions import client_address

bp = Blueprint("chart_export", __name__)


@bp.post("/patients/<int:patient_id>/chart.pdf")
def export(patient_id: int):
    patient = Patient.get_or_none(Patient.id == patient_id) or abort(404)
    back = redirect(url_for("patients.show", patient_id=patient.id))
    try:
        start, end = parse_iso_date(request.form.get("date_from")), parse_iso_date(request.form.get("date_to"))
    except ValueError:
        flash("Not exported: a date is not a date.", "error")
        return back
    chosen = [int(value) for value in request.form.getlist("document_id") if value.isdigit()]
    documents = chart_documents(patient, start, end, chosen)
    try:
        body = export_chart(
            current_app.config["BOX"],
            patient,
            documents,
            start,
            end,
            request.form.get("purpose", ""),
            actor(),
            client_address(),
        )
    except ExportError as error:
        flash(f"Not exported: {error}.", "error")
        return back
    return send_file(
        io.BytesIO(body),
        mimetype="application/pdf",
        as_attachment=True,
        download_name=f"chart-patient-{patient.id}-{utcnow():%Y%m%d}.pdf",
    )
