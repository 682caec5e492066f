"""Head office's pages: dashboard, search, patients, documents, devices, users, audit log."""

from __future__ import annotations

import csv
import datetime as dt
import io

import peewee as pw
from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, send_file, url_for

from core.highlight import highlighted
from core.spreadsheet import safe_row

from .. import audit, audit_view, devices, page_views, records, tenancy, uploads
from ..jobs import enqueue, ocr_upload_job
from ..models import ROLES, AuditEvent, Clinic, Device, Document, HubUpload, Patient, User, UserClinic
from ..search import SearchError, search_documents
from .access import actor, address, hub, organisation_id, roles, visible_clinic_ids

bp = Blueprint("hub_ui", __name__)
PER_PAGE = 20
AUDIT_PAGE = 100
AUDIT_FILTERS = ("actor", "action", "patient", "from", "to")


@bp.get("/")
@roles(*ROLES)
def dashboard():
    if g.signed_in.user.role == "billing":
        return redirect(url_for("hub_billing.index"))
    return render_template(
        "hub_dashboard.html", overview=records.clinic_overview(organisation_id(), visible_clinic_ids())
    )


@bp.get("/search")
@roles("org_admin", "viewer")
def search():
    query = request.args.get("q", "").strip()[:200]
    page = max(1, request.args.get("page", 1, type=int))
    hits, patients, error = [], [], None
    if query:
        patients = records.find_patients(organisation_id(), visible_clinic_ids(), query, limit=10) if page == 1 else []
        try:
            hits = search_documents(
                organisation_id(), visible_clinic_ids(), query, limit=PER_PAGE + 1, offset=(page - 1) * PER_PAGE
            )
            audit.record(
                "search", actor=actor(), organisation=organisation_id(), address=address(), results=len(hits[:PER_PAGE])
            )
        except SearchError as problem:
            error = str(problem)
    return render_template(
        "hub_search.html",
        query=query,
        hits=hits[:PER_PAGE],
        more=len(hits) > PER_PAGE,
        patients=patients,
        page=page,
        error=error,
        highlighted=highlighted,
    )


@bp.get("/documents/<int:document_id>")
@roles("org_admin", "viewer")
def document(document_id: int):
    try:
        found = records.document(organisation_id(), visible_clinic_ids(), document_id)
    except records.NotFound:
        abort(404)
    audit.record("document.view", actor=actor(), organisation=organisation_id(), obj=found, address=address())
    return render_template(
        "hub_document.html", document=found, pages=records.pages_of(found), patient=found.patient, clinic=found.clinic
    )


@bp.get("/patients/<int:patient_id>")
@roles("org_admin", "viewer")
def patient(patient_id: int):
    try:
        found = records.patient(organisation_id(), visible_clinic_ids(), patient_id)
    except records.NotFound:
        abort(404)
    audit.record("patient.view", actor=actor(), organisation=organisation_id(), obj=found, address=address())
    return render_template(
        "hub_patient.html",
        patient=found,
        records=records.same_person(organisation_id(), visible_clinic_ids(), found),
        documents=records.documents_across(organisation_id(), visible_clinic_ids(), found),
    )


@bp.get("/documents/<int:document_id>/pages/<int:number>/image")
@roles("org_admin", "viewer")
def page_image(document_id: int, number: int):
    try:
        found = records.document(organisation_id(), visible_clinic_ids(), document_id)
        blob = records.original_blob(found)
    except records.NotFound:
        abort(404)
    if not 1 <= number <= found.page_count:
        abort(404)
    path = page_views.view_image(hub().config, hub().storage, found, blob, number)
    return send_file(path, mimetype="image/jpeg", max_age=0)


@bp.get("/upload")
@roles("org_admin")
def upload_page():
    recent = (
        HubUpload.select(HubUpload, Clinic, Document, Patient)
        .join(Clinic)
        .switch(HubUpload)
        .join(Document, pw.JOIN.LEFT_OUTER)
        .join(Patient, pw.JOIN.LEFT_OUTER)
        .where((HubUpload.organisation == organisation_id()) & HubUpload.clinic.in_(visible_clinic_ids()))
        .order_by(HubUpload.id.desc())
        .limit(50)
    )
    return render_template(
        "hub_upload.html", uploads=recent, clinics=records.visible_clinics(organisation_id(), visible_clinic_ids())
    )


@bp.post("/upload")
@roles("org_admin")
def upload():
    clinic_id = request.form.get("clinic_id", type=int)
    if clinic_id not in visible_clinic_ids():
        abort(404)
    files = [f for f in request.files.getlist("files") if f.filename]
    if not files:
        flash("Choose one or more files to upload.", "error")
        return redirect(url_for("hub_ui.upload_page"))
    clinic = Clinic.get_by_id(clinic_id)
    for item in files:
        accepted = uploads.accept(hub().config, clinic, item.filename, item.stream, actor())
        enqueue(hub().config, ocr_upload_job, accepted.id)
    flash(f"{len(files)} file(s) received; each is read and filed in the background.")
    return redirect(url_for("hub_ui.upload_page"))


@bp.get("/devices")
@roles("org_admin", "it")
def device_list():
    visible = set(visible_clinic_ids())
    rows = [device for device in devices.devices_of(organisation_id()) if device.clinic_id in visible]
    return render_template(
        "hub_devices.html", devices=rows, clinics=records.visible_clinics(organisation_id(), visible_clinic_ids())
    )


def _device(uid: str) -> Device:
    try:
        device = devices.device_of(organisation_id(), uid)
    except devices.EnrolmentError:
        abort(404)
    if device.clinic_id not in visible_clinic_ids():
        abort(404)
    return device


@bp.post("/devices/<uid>/revoke")
@roles("org_admin", "it")
def revoke_device(uid: str):
    devices.revoke(_device(uid), actor=actor())
    flash("The box is revoked: every request from it is refused from now on.")
    return redirect(url_for("hub_ui.device_list"))


@bp.post("/devices/<uid>/rename")
@roles("org_admin", "it")
def rename_device(uid: str):
    try:
        devices.rename(_device(uid), request.form.get("name", ""), actor=actor())
    except devices.EnrolmentError as problem:
        flash(str(problem), "error")
    return redirect(url_for("hub_ui.device_list"))


@bp.post("/devices/<uid>/rotation-token")
@roles("org_admin", "it")
def rotation_token(uid: str):
    device = _device(uid)
    token, row = devices.issue_rotation_token(device, created_by=actor(), hours=hub().config.enrolment_token_hours)
    return render_template("hub_rotation_token.html", token=token, device=device, expires_at=row.expires_at)


@bp.post("/clinics/<int:clinic_id>/enrolment-token")
@roles("org_admin", "it")
def enrolment_token(clinic_id: int):
    if clinic_id not in visible_clinic_ids():
        abort(404)
    clinic = Clinic.get_by_id(clinic_id)
    token, row = devices.issue_enrolment_token(clinic, created_by=actor(), hours=hub().config.enrolment_token_hours)
    return render_template("hub_token.html", token=token, clinic=clinic, expires_at=row.expires_at)


@bp.get("/users")
@roles("org_admin")
def users():
    me = g.signed_in.user
    rows = list(User.select().where(User.organisation == organisation_id()).order_by(User.email))
    visible = set(visible_clinic_ids())
    limited_to: dict[int, list[str]] = {}
    for user_id, clinic_id, name in (
        UserClinic.select(UserClinic.user, Clinic.id, Clinic.name)
        .join(Clinic)
        .where(Clinic.organisation == organisation_id())
        .order_by(Clinic.name)
        .tuples()
    ):
        shown = name if clinic_id in visible else "clinics you do not see"
        if shown not in limited_to.setdefault(user_id, []):
            limited_to[user_id].append(shown)
    return render_template(
        "hub_users.html",
        users=rows,
        limited_to=limited_to,
        manageable={user.id for user in rows if tenancy.may_manage(me, tenancy.clinic_ids_of(user), user.role)},
        roles=ROLES,
        clinics=records.visible_clinics(organisation_id(), visible_clinic_ids()),
    )


def _user(user_id: int) -> User:
    found = User.get_or_none((User.id == user_id) & (User.organisation == organisation_id()))
    if found is None:
        abort(404)
    return found


def _chosen_clinics() -> list[Clinic]:
    wanted = {int(value) for value in request.form.getlist("clinic") if value.isdigit()}
    found = list(Clinic.select().where((Clinic.organisation == organisation_id()) & Clinic.id.in_(list(wanted))))
    if len(found) != len(wanted):
        abort(404)
    return found


@bp.post("/users")
@roles("org_admin")
def create_user():
    try:
        tenancy.create_user(
            records.organisation(organisation_id()),
            request.form.get("email", ""),
            request.form.get("password", ""),
            request.form.get("role", ""),
            _chosen_clinics(),
            actor=actor(),
            by=g.signed_in.user,
        )
        flash("User added.")
    except tenancy.NotAllowed:
        abort(403)
    except tenancy.TenancyError as problem:
        flash(str(problem), "error")
    return redirect(url_for("hub_ui.users"))


@bp.post("/users/<int:user_id>/active")
@roles("org_admin")
def set_active(user_id: int):
    user = _user(user_id)
    try:
        tenancy.set_active(user, request.form.get("active") == "1", actor=actor(), by=g.signed_in.user)
    except tenancy.NotAllowed:
        abort(403)
    flash(f"{user.email} is {'enabled' if request.form.get('active') == '1' else 'disabled; their sessions ended'}.")
    return redirect(url_for("hub_ui.users"))


@bp.post("/users/<int:user_id>/password")
@roles("org_admin")
def reset_password(user_id: int):
    try:
        tenancy.set_password(_user(user_id), request.form.get("password", ""), actor=actor(), by=g.signed_in.user)
        flash("Password changed; the user's sessions ended.")
    except tenancy.NotAllowed:
        abort(403)
    except tenancy.TenancyError as problem:
        flash(str(problem), "error")
    return redirect(url_for("hub_ui.users"))


def _audit_filters() -> audit_view.Filters:
    """The filters typed on the audit page; only an org_admin may look up a patient (IT reads no
    patient data)."""
    try:
        start = dt.date.fromisoformat(request.args.get("from") or "") if request.args.get("from") else None
        end = dt.date.fromisoformat(request.args.get("to") or "") if request.args.get("to") else None
    except ValueError:
        start = end = None
    patient = request.args.get("patient", "") if g.signed_in.user.role == "org_admin" else ""
    return audit_view.Filters(request.args.get("actor", ""), request.args.get("action", ""), patient, start, end)


def _audit_rows():
    return audit_view.events(organisation_id(), _audit_filters())


def audit_object_link(event: AuditEvent) -> str | None:
    """The hub page of what a head-office event names (a box's events name the box's own ids)."""
    if event.device_id is None and event.object_type == "document" and (event.object_id or "").isdigit():
        return url_for("hub_ui.document", document_id=int(event.object_id))
    return None


@bp.app_template_filter("shown_detail")
def shown_detail(detail: str | None) -> str | None:
    return audit.shown_detail(detail)


@bp.get("/audit")
@roles("org_admin", "it")
def audit_log():
    page = max(1, request.args.get("page", 1, type=int))
    rows = list(_audit_rows().paginate(page, AUDIT_PAGE))
    filters = {
        name: request.args[name] for name in ("actor", "action", "patient", "from", "to") if request.args.get(name)
    }
    return render_template(
        "hub_audit.html",
        events=rows,
        page=page,
        more=len(rows) == AUDIT_PAGE,
        filters=filters,
        object_link=audit_object_link,
        readable_detail=audit_view.readable_detail,
        may_filter_patients=g.signed_in.user.role == "org_admin",
    )


@bp.get("/audit.csv")
@roles("org_admin", "it")
def audit_csv():
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["at", "actor", "action", "object_type", "object_id", "address", "detail"])
    for event in _audit_rows():
        writer.writerow(
            safe_row(
                [
                    event.at.isoformat(),
                    event.actor,
                    event.action,
                    event.object_type,
                    event.object_id,
                    event.address,
                    audit.shown_detail(event.detail),
                ]
            )
        )
    audit.record("audit.export", actor=actor(), organisation=organisation_id(), address=address())
    return Response(
        out.getvalue(), mimetype="text/csv", headers={"Content-Disposition": "attachment; filename=audit.csv"}
    )
