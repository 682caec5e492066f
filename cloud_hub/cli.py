"""`python -m cloud_hub ...`: the hub's command line."""

from __future__ import annotations

import argparse
import shutil
import sys

from core.commands import run_command
from core.config import ConfigError

from .config import HubConfig
from .db import DatabaseUrlError
from .hub import open_hub, prepare_storage
from .models import Organisation


def _init(args, config: HubConfig) -> int:
    applied = open_hub(config)
    prepare_storage(config)
    where = "S3 bucket " + config.s3_bucket if config.s3_bucket else str(config.blobs_dir.resolve())
    print(f"database ready (migrations applied now: {applied or 'none'}); blobs in {where}")
    return 0


def _serve(args, config: HubConfig) -> int:
    from core.web.server import AppServer

    from . import create_app

    open_hub(config)
    AppServer(lambda: create_app(config), args.bind or config.bind, config.web_workers).run()
    return 0


def _create_org(args, config: HubConfig) -> int:
    from .tenancy import create_clinic, create_organisation

    open_hub(config)
    organisation = create_organisation(args.name)
    for clinic in args.clinic:
        create_clinic(organisation, clinic)
    print(
        f"organisation {organisation.name!r} created (id {organisation.id}) with "
        f"{len(args.clinic)} clinic(s): {', '.join(args.clinic) or 'none yet'}"
    )
    return 0


def _create_clinic(args, config: HubConfig) -> int:
    from .tenancy import create_clinic, organisation_named

    open_hub(config)
    clinic = create_clinic(organisation_named(args.org), args.name)
    print(f"clinic {clinic.name!r} created (id {clinic.id})")
    return 0


def _create_user(args, config: HubConfig) -> int:
    from core.passwords import generate_password

    from .tenancy import clinic_named, create_user, organisation_named

    open_hub(config)
    organisation = organisation_named(args.org)
    clinics = [clinic_named(organisation, name) for name in args.clinic]
    password = args.password or generate_password()
    user = create_user(organisation, args.email, password, args.role, clinics)
    shown = "" if args.password else f" with password: {password} (shown once; store it now)"
    print(f"user {user.email!r} ({user.role}) created{shown}")
    return 0


def _reset_mfa(args, config: HubConfig) -> int:
    from .mfa import turn_off
    from .models import User

    open_hub(config)
    user = User.get_or_none(User.email == args.email.strip().lower())
    if user is None:
        print(f"error: no user {args.email!r}", file=sys.stderr)
        return 2
    turn_off(user, actor="cli", action="mfa.reset")
    print(f"two-step sign-in of {user.email!r} removed; a role that must have it sets it up at the next sign-in")
    return 0


def _enrolment_token(args, config: HubConfig) -> int:
    from .devices import issue_enrolment_token
    from .tenancy import clinic_named, organisation_named

    open_hub(config)
    clinic = clinic_named(organisation_named(args.org), args.clinic)
    hours = args.hours or config.enrolment_token_hours
    token, row = issue_enrolment_token(clinic, created_by="cli", hours=hours)
    print(token)
    print(
        f"one-time enrolment token for clinic {clinic.name!r}, valid until {row.expires_at:%Y-%m-%d %H:%M} UTC",
        file=sys.stderr,
    )
    return 0


def _rotation_token(args, config: HubConfig) -> int:
    from .devices import device_of, issue_rotation_token
    from .tenancy import organisation_named

    open_hub(config)
    device = device_of(organisation_named(args.org).id, args.device)
    token, row = issue_rotation_token(device, created_by="cli", hours=args.hours or config.enrolment_token_hours)
    print(token)
    print(
        f"one-time key rotation token for device {device.uid} ({device.name!r}), valid until "
        f"{row.expires_at:%Y-%m-%d %H:%M} UTC; on the box: python -m appliance.sync rotate-key --token TOKEN",
        file=sys.stderr,
    )
    return 0


def _patients_import(args, config: HubConfig) -> int:
    from pathlib import Path

    from core.register import RegisterError

    from .register import apply, plan
    from .tenancy import clinic_named, organisation_named
    from .uploads import date_order_for

    open_hub(config)
    clinic = clinic_named(organisation_named(args.org), args.clinic)
    path = Path(args.file)
    try:
        report = plan(clinic, path.name, path.read_bytes(), date_order_for(config, clinic), args.mrn_system or "")
    except (OSError, RegisterError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for line, reason in report.refused:
        print(f"line {line}: refused: {reason}", file=sys.stderr)
    if not args.dry_run:
        apply(clinic, report, "cli", path.name)
    print(("would import: " if args.dry_run else f"imported into {clinic.name!r}: ") + report.summary())
    return 0


def _devices(args, config: HubConfig) -> int:
    from .devices import devices_of
    from .tenancy import organisation_named

    open_hub(config)
    rows = devices_of(organisation_named(args.org).id)
    for device in rows:
        state = f"revoked {device.revoked_at:%Y-%m-%d %H:%M}" if device.revoked_at else "active"
        seen = f"{device.last_seen_at:%Y-%m-%d %H:%M}" if device.last_seen_at else "never"
        print(f"{device.uid}  {device.clinic.name:<20} {device.name:<24} {state:<24} last seen {seen}")
    if not rows:
        print("no devices enrolled yet")
    return 0


def _device_action(args, config: HubConfig) -> int:
    from .devices import device_of, rename, revoke
    from .tenancy import organisation_named

    open_hub(config)
    device = device_of(organisation_named(args.org).id, args.device)
    if args.command == "revoke-device":
        revoke(device, actor="cli")
        print(f"device {device.uid} revoked: every request from it is refused from now on")
    else:
        rename(device, args.name, actor="cli")
        print(f"device {device.uid} renamed to {args.name!r}")
    return 0


def _worker(args, config: HubConfig) -> int:
    from .jobs import run_worker

    run_worker(config, burst=args.burst)
    return 0


def _rollup(args, config: HubConfig) -> int:
    from .jobs import enqueue, rollup_job

    open_hub(config)
    print(f"storage roll-up for {args.day or 'today'}: {enqueue(config, rollup_job, args.day)}")
    return 0


def _archive(args, config: HubConfig) -> int:
    from .jobs import archive_job, enqueue

    open_hub(config)
    print(
        f"archival of blobs older than {config.archive_after_days} days and of page images older than "
        f"{config.view_cache_days:g} days: {enqueue(config, archive_job)}"
    )
    return 0


def _usage(args, config: HubConfig) -> int:
    from .billing import usage
    from .tenancy import organisation_named

    open_hub(config)
    organisations = (
        [organisation_named(args.org)] if args.org else list(Organisation.select().order_by(Organisation.name))
    )
    for organisation in organisations:
        used = usage(organisation.id, args.month)
        print(
            f"{organisation.name}  {args.month}: {used['pages']} pages, {used['documents']} documents, "
            f"{used['storage_gb_months']} GB-months stored, {used['bytes_in']:,} bytes in, "
            f"{used['bytes_out']:,} bytes out"
        )
    return 0


def _invoice(args, config: HubConfig) -> int:
    from .billing import month_ended
    from .jobs import enqueue, invoice_job
    from .tenancy import organisation_named

    open_hub(config)
    organisation = organisation_named(args.org)
    month_ended(args.month)
    print(f"invoice for {organisation.name} {args.month}: {enqueue(config, invoice_job, organisation.id, args.month)}")
    return 0


def _price_plan(args, config: HubConfig) -> int:
    from decimal import Decimal, InvalidOperation

    from .billing import BillingError, set_plan
    from .tenancy import organisation_named

    open_hub(config)
    organisation = organisation_named(args.org)
    try:
        prices = [Decimal(value) for value in (args.per_page, args.per_gb_month, args.per_gb_transfer)]
    except InvalidOperation:
        raise BillingError("prices are numbers like 0.02") from None
    set_plan(organisation.id, args.currency, *prices)
    print(
        f"price plan of {organisation.name}: {args.currency.upper()} {prices[0]} a page, {prices[1]} a GB-month, "
        f"{prices[2]} a GB transferred (from the next invoice made)"
    )
    return 0


def _box_user(args, config: HubConfig) -> int:
    from .box_admin import allow_box_user
    from .tenancy import clinic_named, organisation_named

    open_hub(config)
    clinic = clinic_named(organisation_named(args.org), args.clinic)
    allow_box_user(clinic, args.username, args.password, args.role, not args.disable, actor="cli")
    print(
        f"{args.username} {'may no longer sign in' if args.disable else 'may sign in'} at the boxes of "
        f"{clinic.name} (they learn it at their next sync)"
    )
    return 0


def _box_settings(args, config: HubConfig) -> int:
    from .box_admin import set_box_settings
    from .tenancy import clinic_named, organisation_named

    open_hub(config)
    clinic = clinic_named(organisation_named(args.org), args.clinic)
    settings = {
        name: value
        for name, value in (
            ("sync_blob_window", args.sync_window),
            ("sync_bandwidth_bytes", args.bandwidth),
            ("retention_days", args.retention_days),
        )
        if value is not None
    }
    set_box_settings(clinic, settings, actor="cli")
    print(f"settings for the boxes of {clinic.name}: {settings}")
    return 0


def _audit_verify(args, config: HubConfig) -> int:
    from .audit import verify
    from .tenancy import organisation_named

    open_hub(config)
    if args.org:
        chains = [(args.org, organisation_named(args.org).id)]
    else:
        chains = [(o.name, o.id) for o in Organisation.select().order_by(Organisation.name)]
        chains.append(("(no organisation)", None))
    status = 0
    for name, organisation_id in chains:
        verified, broken = verify(organisation_id)
        if broken is None:
            print(f"{name}: audit log intact: {verified} event(s) verified")
            continue
        print(f"{name}: audit log broken at event {broken.event_id}: {broken.problem}", file=sys.stderr)
        print(f"{name}: {verified} event(s) before it verified", file=sys.stderr)
        status = 1
    return status


def _backup_upload(args, config: HubConfig) -> int:
    storage = prepare_storage(config)
    storage.put_stream(args.key, sys.stdin.buffer)
    if config.s3_bucket:
        print(f"stored {args.key} in S3 bucket {config.s3_bucket}, encrypted at rest (SSE-S3, AES256)")
    else:
        print(
            f"stored {args.key} as {config.blobs_dir / args.key} on the local volume, NOT encrypted by the hub: "
            "keep that volume on an encrypted disk, or set S3_BUCKET"
        )
    return 0


def _backup_download(args, config: HubConfig) -> int:
    stream = prepare_storage(config).open(args.key)
    try:
        shutil.copyfileobj(stream, sys.stdout.buffer)
    finally:
        stream.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cloud_hub", description="DigiFort cloud hub")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("init", help="create or migrate the database; create the S3 bucket if missing").set_defaults(
        handler=_init
    )
    serve = sub.add_parser("serve", help="serve the hub's API under gunicorn")
    serve.add_argument("--bind", help="address:port to listen on (default HUB_BIND)")
    serve.set_defaults(handler=_serve)
    org = sub.add_parser("create-org", help="create an organisation, optionally with clinics")
    org.add_argument("name")
    org.add_argument("--clinic", action="append", default=[], help="a clinic to create (repeatable)")
    org.set_defaults(handler=_create_org)
    clinic = sub.add_parser("create-clinic", help="add a clinic to an organisation")
    clinic.add_argument("--org", required=True)
    clinic.add_argument("name")
    clinic.set_defaults(handler=_create_clinic)
    user = sub.add_parser("create-user", help="create a user of an organisation")
    user.add_argument("--org", required=True)
    user.add_argument("--email", required=True)
    user.add_argument("--role", required=True, choices=("org_admin", "viewer", "billing", "it"))
    user.add_argument("--clinic", action="append", default=[], help="limit the user to this clinic (repeatable)")
    user.add_argument("--password", help="use this password instead of generating one")
    user.set_defaults(handler=_create_user)
    reset = sub.add_parser("reset-mfa", help="remove a user's second factor (phone and recovery codes lost)")
    reset.add_argument("--email", required=True)
    reset.set_defaults(handler=_reset_mfa)
    token = sub.add_parser(
        "enrolment-token", aliases=["enrollment-token"], help="issue a one-time token that enrols one box into a clinic"
    )
    token.add_argument("--org", required=True)
    token.add_argument("--clinic", required=True)
    token.add_argument("--hours", type=int, help="validity (default HUB_ENROLMENT_TOKEN_HOURS, 72)")
    token.set_defaults(handler=_enrolment_token)
    rotation = sub.add_parser("rotation-token", help="issue a one-time token that lets one box replace its key")
    rotation.add_argument("--org", required=True)
    rotation.add_argument("device", help="the device id (see `devices`)")
    rotation.add_argument("--hours", type=int, help="validity (default HUB_ENROLMENT_TOKEN_HOURS, 72)")
    rotation.set_defaults(handler=_rotation_token)
    register = sub.add_parser(
        "patients-import", help="import a clinic's patient register (CSV or FHIR); its boxes learn it through the pull"
    )
    register.add_argument("--org", required=True)
    register.add_argument("--clinic", required=True)
    register.add_argument("--mrn-system", help="the FHIR identifier system that holds the MRN")
    register.add_argument("--dry-run", action="store_true", help="report what would change; change nothing")
    register.add_argument("file")
    register.set_defaults(handler=_patients_import)
    listing = sub.add_parser("devices", help="list an organisation's boxes")
    listing.add_argument("--org", required=True)
    listing.set_defaults(handler=_devices)
    revoking = sub.add_parser("revoke-device", help="refuse every further request from a box (stolen, retired)")
    revoking.add_argument("--org", required=True)
    revoking.add_argument("device", help="the device id (see `devices`)")
    revoking.set_defaults(handler=_device_action)
    renaming = sub.add_parser("rename-device", help="give a box a new display name")
    renaming.add_argument("--org", required=True)
    renaming.add_argument("device")
    renaming.add_argument("name")
    renaming.set_defaults(handler=_device_action)
    worker = sub.add_parser("worker", help="run the RQ worker for hub jobs (needs REDIS_URL)")
    worker.add_argument("--burst", action="store_true", help="stop once the queue is empty")
    worker.set_defaults(handler=_worker)
    rollup = sub.add_parser("rollup", help="record each organisation's stored bytes for a day (run nightly)")
    rollup.add_argument("--day", help="YYYY-MM-DD (default today)")
    rollup.set_defaults(handler=_rollup)
    sub.add_parser(
        "archive", help="move old blobs to the colder storage class, remove expired page images (run nightly)"
    ).set_defaults(handler=_archive)
    usage = sub.add_parser("usage", help="print usage per organisation for a month")
    usage.add_argument("--month", required=True, help="YYYY-MM")
    usage.add_argument("--org", help="one organisation (default all)")
    usage.set_defaults(handler=_usage)
    invoice = sub.add_parser("invoice", help="make an organisation's invoice for a month")
    invoice.add_argument("--org", required=True)
    invoice.add_argument("--month", required=True, help="YYYY-MM")
    invoice.set_defaults(handler=_invoice)
    plan = sub.add_parser("price-plan", help="set an organisation's prices")
    plan.add_argument("--org", required=True)
    plan.add_argument("--currency", default="GBP")
    plan.add_argument("--per-page", required=True)
    plan.add_argument("--per-gb-month", required=True)
    plan.add_argument("--per-gb-transfer", required=True)
    plan.set_defaults(handler=_price_plan)
    box_user = sub.add_parser("box-user", help="let a member of staff sign in at a clinic's boxes (offline too)")
    box_user.add_argument("--org", required=True)
    box_user.add_argument("--clinic", required=True)
    box_user.add_argument("--username", required=True)
    box_user.add_argument("--role", choices=("staff", "admin"), default="staff")
    box_user.add_argument("--password")
    box_user.add_argument("--disable", action="store_true", help="stop this user signing in at the boxes")
    box_user.set_defaults(handler=_box_user)
    box_settings = sub.add_parser("box-settings", help="sync window, bandwidth cap and retention for a clinic's boxes")
    box_settings.add_argument("--org", required=True)
    box_settings.add_argument("--clinic", required=True)
    box_settings.add_argument("--sync-window", help='originals only in this window, e.g. "19:00-07:00" ("" for always)')
    box_settings.add_argument("--bandwidth", type=int, help="bytes per second for originals (0: no cap)")
    box_settings.add_argument("--retention-days", type=int, help="days before confirmed originals leave the box")
    box_settings.set_defaults(handler=_box_settings)
    audit = sub.add_parser("audit", help="the audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verifying = audit_commands.add_parser(
        "verify", help="check an organisation's hash chain; report the first event edited, removed or out of place"
    )
    verifying.add_argument("--org", help="the organisation (default: every one, and the events of none)")
    verifying.set_defaults(handler=_audit_verify)
    backup = sub.add_parser(
        "backup-upload",
        help="store standard input (a pg_dump) in the blob storage: S3 encrypts it at rest, the local volume does not",
    )
    backup.add_argument("--key", required=True, help="e.g. backups/postgres/digifort-2026-11-26.dump")
    backup.set_defaults(handler=_backup_upload)
    fetch = sub.add_parser("backup-download", help="write a stored backup (e.g. a pg_dump) to standard output")
    fetch.add_argument("--key", required=True)
    fetch.set_defaults(handler=_backup_download)
    return parser


def main(argv=None) -> int:
    from .billing import BillingError
    from .box_admin import BoxAdminError
    from .devices import EnrolmentError
    from .tenancy import TenancyError

    try:
        return run_command(build_parser().parse_args(argv), HubConfig.from_env, (ConfigError, DatabaseUrlError))
    except (TenancyError, EnrolmentError, BillingError, BoxAdminError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
