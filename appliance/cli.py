"""`python -m appliance ...`: the box's command line."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from core.commands import run_command

from . import keys_cli
from .box import BoxLocked, open_box
from .config import Config
from .models import Job, User
from .unlock import NotSealed, open_unlocked, try_unlock


def _password_from_file(path: str | None) -> str | None:
    """The password kept in `path`; a new one written there (mode 0600) when the file is missing."""
    if not path:
        return None
    from core.files import write_durably
    from core.passwords import generate_password

    file = Path(path)
    if not file.exists():
        write_durably(file, generate_password().encode(), mode=0o600)
    return file.read_text().strip()


def _init(args, config: Config) -> int:
    from core.passwords import generate_password

    from .users import UserError, create_user

    key = None
    if config.encryption:
        try:
            key = keys_cli.init_key(config, args.recovery_passphrase_file)
        except keys_cli.KeyCommandError as error:
            print(f"error: {error}", file=sys.stderr)
            return 4
    applied = open_box(config, key)
    print(f"database ready at {config.database_path} (migrations applied now: {applied or 'none'})")
    if User.select().where(User.username == args.admin_user).exists():
        print(f"admin user {args.admin_user!r} already exists; password unchanged")
        return 0
    password = args.admin_password or _password_from_file(args.admin_password_file) or generate_password()
    try:
        create_user(args.admin_user, password, role="admin", actor="cli")
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.admin_password or args.admin_password_file:
        print(
            f"created admin user {args.admin_user!r}"
            + (f" (password in {args.admin_password_file})" if args.admin_password_file else "")
        )
    else:
        print(f"created admin user {args.admin_user!r} with password: {password}")
        print("this password is shown once; store it now")
    return 0


def _reset_mfa(args, config: Config) -> int:
    from .mfa import turn_off

    open_unlocked(config)
    user = User.get_or_none(User.username == args.username)
    if user is None:
        print(f"error: no user {args.username!r}", file=sys.stderr)
        return 2
    turn_off(user, actor="cli", action="mfa.reset")
    print(f"two-step sign-in of {user.username!r} removed; they sign in with their password and set it up again")
    return 0


def _worker(args, config: Config) -> int:
    from .ingest.runner import FatalEnvironmentError
    from .ingest.worker import run_worker

    print(f"watching {config.inbox} (data in {config.data_dir})", flush=True)
    try:
        run_worker(config)
    except FatalEnvironmentError as error:
        logging.getLogger("appliance").critical("%s", error)
        return 3
    return 0


def _process(args, config: Config) -> int:
    from .ingest.intake import accept_file
    from .ingest.runner import FatalEnvironmentError, JobRunner
    from .report import describe, file_report

    open_unlocked(config)
    intakes = []
    for name in args.files:
        path = Path(name)
        if not path.exists() and not path.is_symlink():
            print(f"{name}: no such file", file=sys.stderr)
            return 2
        intakes.append((name, accept_file(path, config, source="cli", remove=False, actor="cli")))
    scan_ids = {i.scan.id for _, i in intakes if i.scan is not None and i.outcome == "new"}
    runner = JobRunner(config)
    try:
        runner.run_until_idle(scan_ids)
        while Job.select().where(Job.scan.in_(list(scan_ids)), Job.state != "done").exists():
            time.sleep(0.5)
            runner.run_until_idle(scan_ids)
    except FatalEnvironmentError as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    finally:
        runner.close()
    for name, intake in intakes:
        report = file_report(name, intake, with_text=args.with_text)
        print(json.dumps(report, ensure_ascii=False) if args.json else describe(report), flush=True)
    return 0


def _search(args, config: Config) -> int:
    from .search import SearchError, search_documents

    open_unlocked(config)
    try:
        results = search_documents(args.query, limit=args.limit)
    except SearchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    hits = results.hits
    for hit in hits:
        if args.json:
            row = {
                "document_id": hit.document_id,
                "page": hit.page_number,
                "pages": hit.pages,
                "score": hit.score,
                "snippet": hit.marked(),
                "doc_type": hit.doc_type,
                "status": hit.status,
                "patient": {"mrn": hit.patient_mrn, "name": hit.patient_name} if hit.patient_mrn else None,
            }
            print(json.dumps(row, ensure_ascii=False))
        else:
            who = f"{hit.patient_name} (MRN {hit.patient_mrn})" if hit.patient_mrn else hit.status
            print(f"document {hit.document_id} page {hit.page_number} · {hit.doc_type} · {who}\n    {hit.marked()}")
    if not hits and not args.json:
        print("no matches")
    if results.note:
        print(results.note, file=sys.stderr)
    return 0


def _status(args, config: Config) -> int:
    from .status import box_status

    open_unlocked(config)
    summary = box_status()
    if args.json:
        print(json.dumps(summary))
        return 0
    docs, scans = summary["documents"], summary["scans"]
    print(f"documents: {docs['filed']} filed, {docs['needs_review']} waiting for review")
    print(
        f"scans: {scans['duplicate']} duplicates, {scans['pending'] + scans['processing']} in the queue; "
        f"quarantine: {summary['quarantine_open']} open"
    )
    age = summary["oldest_job_age_seconds"]
    print(f"queue depth: {summary['queue_depth']}; oldest job: {f'{age:.0f} s' if age is not None else 'none'}")
    return 0


def _backup(args, config: Config) -> int:
    from .backup import backup_database

    open_unlocked(config)
    target = backup_database(config, Path(args.to))
    print(f"database backed up to {target} (originals and thumbnails: copy store/ and thumbs/ as files)")
    if config.encryption:
        print("the backup is encrypted with the box's data key: keep the recovery passphrase to restore it elsewhere")
    return 0


def _restore(args, config: Config) -> int:
    from .backup import BackupError, restore_database
    from .box import box_key

    key = box_key(config)
    try:
        restore_database(config, Path(args.source), key.sqlcipher_key if key else None)
    except BackupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"database restored from {args.source} into {config.database_path}")
    return 0


def _patients_import(args, config: Config) -> int:
    from core.register import RegisterError

    from .register import import_register

    open_unlocked(config)
    path = Path(args.file)
    try:
        report = import_register(
            path.name, path.read_bytes(), config.date_order, config.mrn_system, actor="cli", dry_run=args.dry_run
        )
    except (OSError, RegisterError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for line, reason in report.refused:
        print(f"line {line}: refused: {reason}", file=sys.stderr)
    for row, changes in report.updated:
        print(f"line {row.line}: MRN {row.mrn} updated: {', '.join(sorted(changes))}")
    print(("would import: " if args.dry_run else "imported: ") + report.summary())
    return 0


def _patients_export(args, config: Config) -> int:
    from .register import export_csv

    open_unlocked(config)
    text = export_csv()
    if args.to:
        Path(args.to).write_text(text, encoding="utf-8")
        print(f"{text.count(chr(10)) - 1} patients written to {args.to}")
    else:
        sys.stdout.write(text)
    return 0


def _audit_verify(args, config: Config) -> int:
    from .audit import verify

    open_unlocked(config)
    verified, broken = verify()
    if broken is not None:
        print(f"audit log broken at event {broken.event_id}: {broken.problem}", file=sys.stderr)
        print(f"{verified} event(s) before it verified", file=sys.stderr)
        return 1
    print(f"audit log intact: {verified} event(s) verified")
    return 0


def _trash_purge(args, config: Config) -> int:
    from .trash import purge_expired

    open_unlocked(config)
    purged = purge_expired(config)
    print(f"purged {purged} item(s) trashed more than {config.trash_days} day(s) ago")
    return 0


def _keys_convert(args, config: Config) -> int:
    from . import at_rest
    from .conversion import convert_files, converting

    open_unlocked(config)
    if not converting(config):
        print("nothing to convert: every file of the box is sealed" if config.encryption else "encryption is off")
        return 0
    sealed = convert_files(config, at_rest.sealing())
    print(f"sealed {sealed} file(s); " + ("still converting" if converting(config) else "conversion finished"))
    return 0


def _serve(args, config: Config) -> int:
    from .web.server import serve

    if not config.encryption:
        open_unlocked(config)
    elif (key := try_unlock(config)) is not None:
        open_box(config, key)
    serve(config, args.bind)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m appliance", description="DigiFort clinic box")
    sub = parser.add_subparsers(dest="command", required=True)
    init = sub.add_parser("init", help="create or migrate the database and create the admin user")
    init.add_argument("--admin-user", default="admin")
    init.add_argument("--admin-password", help="use this password instead of generating one")
    init.add_argument(
        "--admin-password-file",
        help="read the password from this file, or generate one into it "
        "(mode 0600) when it does not exist; nothing is printed",
    )
    keys_cli.add_passphrase_option(init)
    init.set_defaults(handler=_init)
    serve = sub.add_parser("serve", help="serve the clinic web UI with gunicorn")
    serve.add_argument("--bind", help="address:port to listen on (default APPLIANCE_BIND)")
    serve.set_defaults(handler=_serve)
    sub.add_parser("worker", help="watch the inbox and process scans").set_defaults(handler=_worker)
    process = sub.add_parser("process", help="run the pipeline now on the given files")
    process.add_argument("files", nargs="+", metavar="FILE")
    process.add_argument("--json", action="store_true", help="one JSON object per line per file")
    process.add_argument("--with-text", action="store_true", help="include each page's text (with --json)")
    process.set_defaults(handler=_process)
    search = sub.add_parser("search", help="full-text search over processed pages")
    search.add_argument("query")
    search.add_argument("--json", action="store_true")
    search.add_argument("--limit", type=int, default=20)
    search.set_defaults(handler=_search)
    backup = sub.add_parser("backup", help="an online backup of the database (safe while the box runs)")
    backup.add_argument("--to", required=True, help="the backup file to write")
    backup.set_defaults(handler=_backup)
    restore = sub.add_parser("restore", help="put a database backup in place (stop the box's services first)")
    restore.add_argument("source", help="a file written by backup")
    restore.set_defaults(handler=_restore)
    patients = sub.add_parser("patients", help="the patient register: import the clinic's list, export it")
    register = patients.add_subparsers(dest="register_command", required=True)
    importing = register.add_parser("import", help="upsert patients by MRN from a CSV or FHIR R4 Patient file")
    importing.add_argument("file", help="CSV (mrn,last_name,first_name,dob) or FHIR Bundle JSON / NDJSON")
    importing.add_argument("--dry-run", action="store_true", help="report what would change; change nothing")
    importing.set_defaults(handler=_patients_import)
    exporting = register.add_parser("export", help="write every patient as CSV (the import's format)")
    exporting.add_argument("--to", help="the file to write (default: standard output)")
    exporting.set_defaults(handler=_patients_export)
    reset = sub.add_parser("reset-mfa", help="remove a user's second factor (phone and recovery codes lost)")
    reset.add_argument("username")
    reset.set_defaults(handler=_reset_mfa)
    audit = sub.add_parser("audit", help="the audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    audit_commands.add_parser(
        "verify", help="check the hash chain; report the first event edited, removed or out of place"
    ).set_defaults(handler=_audit_verify)
    trash = sub.add_parser("trash", help="the trash of documents and discarded quarantine files")
    trash_commands = trash.add_subparsers(dest="trash_command", required=True)
    trash_commands.add_parser(
        "purge", help="delete for good what was trashed more than APPLIANCE_TRASH_DAYS ago (the worker does it hourly)"
    ).set_defaults(handler=_trash_purge)
    keys = sub.add_parser("keys", help="the data key: status, unlock, rebind, convert a plain box, rotate")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    keys_cli.add_commands(key_commands)
    key_commands.add_parser(
        "convert", help="seal the files a plain box wrote before it was converted (resumable; the worker does it too)"
    ).set_defaults(handler=_keys_convert)
    status = sub.add_parser("status", help="counts by status, queue depth, oldest job age")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=_status)
    return parser


def main(argv=None) -> int:
    try:
        return run_command(build_parser().parse_args(argv), Config.from_env)
    except (BoxLocked, NotSealed) as error:
        print(f"error: {error}", file=sys.stderr)
        return 4
