"""Full-text search: documents ranked by their best page, highlighted, filtered by type and date,
paginated, with a spelling suggestion when nothing matches."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from core.highlight import highlighted

from .. import audit, bulk
from ..annotation_search import search_annotations
from ..doc_types import type_names
from ..search import SearchError, search_documents
from .auth import actor
from .documents import parse_iso_date
from .extensions import client_address

bp = Blueprint("search", __name__)
PER_PAGE = 20


@bp.get("/search")
def index():
    query = request.args.get("q", "").strip()[:200]
    doc_type = request.args.get("type") if request.args.get("type") in type_names(current_app.config["BOX"]) else None
    page = max(1, request.args.get("page", 1, type=int))
    hits, error, more, results, noted = [], None, False, None, []
    try:
        date_from = parse_iso_date(request.args.get("from"))
        date_to = parse_iso_date(request.args.get("to"))
    except ValueError:
        date_from = date_to = None
        error = "Dates must look like 2024-03-14."
    if query and error is None:
        try:
            results = search_documents(
                query,
                limit=PER_PAGE + 1,
                offset=(page - 1) * PER_PAGE,
                doc_type=doc_type,
                date_from=date_from,
                date_to=date_to,
            )
            more, hits = len(results.hits) > PER_PAGE, results.hits[:PER_PAGE]
            if page == 1:
                noted = search_annotations(query, doc_type=doc_type, date_from=date_from, date_to=date_to)
            # The query is patient data (names, dates of birth): the trail keeps only what was done.
            audit.record(
                "search",
                actor=actor(),
                address=client_address(),
                results=len(hits),
                noted=len(noted),
                documents=results.documents,
                page=page,
                filtered=bool(doc_type or date_from or date_to),
                respelled=results.suggested_for is not None,
            )
        except SearchError as problem:
            error = str(problem)
    return render_template(
        "search.html",
        query=query,
        hits=hits,
        results=results,
        error=error,
        page=page,
        more=more,
        doc_type=doc_type,
        doc_types=type_names(current_app.config["BOX"]),
        date_from=date_from,
        date_to=date_to,
        highlighted=highlighted,
        noted=noted,
        bulk_actions=list(bulk.ACTIONS),
    )
