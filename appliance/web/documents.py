"""The document viewer: page images with zoom, OCR text, metadata, original and searchable PDF
downloads, edits."""

from __future__ import annotations

import datetime as dt
import io

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for

from appliance.sync.retention import original_path
from core.highlight import highlighted

from .. import audit, review
from ..annotations import AnnotationError, annotate, annotations_of, parse_tags
from ..doc_types import type_names
from ..documents import DocumentError, document_pages, update_metadata
from ..history import document_history
from ..models import Document, Page, Patient
from ..pdf_export import document_pdf
from ..search import page_hits
from ..trash import REASON_LABELS, purge_due_at
from ..word_boxes import image_size
from .auth import actor
from .extensions import client_address
from .page_images import view_image
from .stored_files import send_stored

bp = Blueprint("documents", __name__)
# The shape a page image is given before it has loaded when its own is not known (A4), so that
# the page a search hit points at is where the viewer scrolled to once the images above it load.
A4_VIEW = (1240, 1754)


def get_document(document_id: int) -> Document:
    return Document.get_or_none(Document.id == document_id) or abort(404)


def get_page(document: Document, page_id: int) -> Page:
    return Page.get_or_none((Page.id == page_id) & (Page.document == document.id)) or abort(404)


def parse_iso_date(raw: str | None) -> dt.date | None:
    """A date from an <input type=date> value; None for empty; ValueError for nonsense."""
    raw = (raw or "").strip()
    return dt.date.fromisoformat(raw) if raw else None


def trashed_for_undo() -> Document | None:
    """The document just moved to the trash (`?undo=<id>`), for the page's Undo button."""
    document = Document.get_or_none(Document.id == request.args.get("undo", type=int))
    return document if document is not None and document.status == "trashed" else None


@bp.get("/documents/<int:document_id>")
def show(document_id: int):
    document = get_document(document_id)
    audit.record("document.view", actor=actor(), obj=document, address=client_address())
    pages = document_pages(document)
    history, earlier = document_history(document)
    query = request.args.get("q", "").strip()[:200]
    config = current_app.config["BOX"]
    return render_template(
        "document.html",
        document=document,
        pages=pages,
        doc_types=type_names(config),
        focus=request.args.get("page", type=int),
        annotations=annotations_of(document),
        history=history,
        history_earlier=earlier,
        query=query,
        hits=page_hits(query, pages) if query else {},
        sizes={page.id: image_size(page.word_boxes) or A4_VIEW for page in pages},
        highlighted=highlighted,
        panel=review.panel(document) if document.status == "needs_review" else None,
        undo=trashed_for_undo(),
        trash_reason=REASON_LABELS.get(document.trash_reason or ""),
        purge_due=purge_due_at(document.trashed_at, config) if document.trashed_at else None,
    )


@bp.get("/documents/<int:document_id>/pages/<int:page_id>/image")
def page_image(document_id: int, page_id: int):
    document = get_document(document_id)
    page = get_page(document, page_id)
    return send_stored(view_image(current_app.config["BOX"], document.scan, page), "image/jpeg", max_age=3600)


@bp.get("/documents/<int:document_id>/pages/<int:page_id>/thumbnail")
def page_thumbnail(document_id: int, page_id: int):
    document = get_document(document_id)
    page = get_page(document, page_id)
    if not page.thumbnail:
        abort(404)
    return send_stored(current_app.config["BOX"].data_dir / page.thumbnail, "image/jpeg", max_age=3600)


@bp.get("/documents/<int:document_id>/original")
def original(document_id: int):
    document = get_document(document_id)
    scan = document.scan
    path = original_path(current_app.config["BOX"], scan)
    audit.record("document.download", actor=actor(), obj=document, address=client_address())
    return send_stored(
        path,
        "application/octet-stream",
        as_attachment=True,
        download_name=scan.original_name.replace("\n", " ")[-150:],
    )


@bp.get("/documents/<int:document_id>/searchable.pdf")
def searchable_pdf(document_id: int):
    """The document as a searchable PDF/A-2b (its text layer from the OCR already done), made in memory."""
    document = get_document(document_id)
    body = document_pdf(current_app.config["BOX"], document, actor(), client_address())
    return send_file(
        io.BytesIO(body), mimetype="application/pdf", as_attachment=True, download_name=f"document-{document.id}.pdf"
    )


@bp.post("/documents/<int:document_id>/edit")
def edit(document_id: int):
    document = get_document(document_id)
    patient = None
    if request.form.get("patient_id"):
        patient = Patient.get_or_none(Patient.id == request.form.get("patient_id", type=int)) or abort(400)
    try:
        update_metadata(
            document,
            doc_type=request.form.get("doc_type", ""),
            doc_date=parse_iso_date(request.form.get("doc_date")),
            patient=patient,
            actor=actor(),
            address=client_address(),
            types=type_names(current_app.config["BOX"]),
        )
    except (ValueError, DocumentError) as error:
        flash(f"Not saved: {error}", "error")
    else:
        flash("Saved.")
    return redirect(url_for("documents.show", document_id=document.id))


@bp.post("/documents/<int:document_id>/annotations")
def annotations(document_id: int):
    document = get_document(document_id)
    try:
        annotate(
            document,
            tags=parse_tags(request.form.get("tags", "")),
            note=request.form.get("note", ""),
            actor=actor(),
            address=client_address(),
        )
    except AnnotationError as error:
        flash(f"Tags and note not saved: {error}", "error")
    else:
        flash("Tags and note saved.")
    return redirect(url_for("documents.show", document_id=document.id) + "#tags-notes")
