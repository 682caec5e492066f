"""`python -m appliance.sync ...`: enrol the box, run the agent or one cycle, show the sync state."""

from __future__ import annotations

import argparse
import json
import socket
import sys

from appliance.box import BoxLocked
from appliance.config import Config
from appliance.unlock import NotSealed, open_unlocked
from core.commands import run_command
from sync import protocol

from . import state
from .agent import run_agent, run_once
from .client import HubError, NotEnrolled
from .enrolment import InsecureHubUrl, enrol_box
from .status import sync_status

INSECURE_HELP = "allow a plain http:// hub that is not on this machine (a test network only)"


def _enrol(args, config: Config) -> int:
    open_unlocked(config)
    if state.enrolled(config) and not args.force:
        print(
            f"this box is already enrolled with {state.get(state.HUB_URL)} as device {state.get(state.DEVICE_ID)}; "
            "use --force to enrol it again",
            file=sys.stderr,
        )
        return 2
    answer = enrol_box(config, args.hub, args.token, args.name or socket.gethostname(), args.insecure_http)
    print(
        f"enrolled with {args.hub} as device {answer['device_id']} for clinic {answer['clinic']['name']!r} "
        f"of {answer['organisation']['name']!r}"
    )
    return 0


def _rotate_key(args, config: Config) -> int:
    from .client import client_for

    open_unlocked(config)
    client = client_for(config)
    key = protocol.new_private_key()
    client.post_json(
        "/api/v1/sync/device/key", {"public_key": protocol.public_key_text(key), "rotation_token": args.token}
    )
    state.save_key(config, key)
    print(f"new key registered for device {state.get(state.DEVICE_ID)}; the old key is refused from now on")
    return 0


def _once(args, config: Config) -> int:
    drained = run_once(config)
    summary = sync_status(config)
    print(f"sync: backlog {summary['backlog']}, set aside {len(summary['set_aside'])}")
    return 0 if drained else 1


def _requeue(args, config: Config) -> int:
    from .push import requeue_set_aside

    open_unlocked(config)
    count = requeue_set_aside(args.key or None, actor="sync requeue (command line)")
    print(f"{count} set-aside item(s) back in the queue; they go with the next cycle")
    return 0


def _agent(args, config: Config) -> int:
    run_agent(config)
    return 0


def _push(args, config: Config) -> int:
    from pathlib import Path

    from .batch_push import push_folder

    folder = Path(args.folder)
    if not folder.is_dir():
        print(f"error: {folder} is not a folder", file=sys.stderr)
        return 2
    if args.data_dir:
        config = config.with_overrides(data_dir=Path(args.data_dir), inbox=Path(args.data_dir) / "inbox")
    done = push_folder(
        config, folder, args.hub, args.token, args.name or socket.gethostname(), insecure_http=args.insecure_http
    )
    return 0 if done else 1


def _status(args, config: Config) -> int:
    open_unlocked(config)
    summary = sync_status(config)
    if args.json:
        print(json.dumps(summary))
        return 0
    if not summary["configured"]:
        print("not configured: enrol the box with python -m appliance.sync enrol --hub URL --token T")
    else:
        print(f"hub: {summary['hub']} (device {summary['device_id']})")
    age = summary["oldest_unsynced_age_seconds"]
    print(
        f"backlog: {summary['backlog']} item(s), oldest {f'{age} s' if age is not None else '-'}, "
        f"{summary['bytes_pending']:,} bytes of originals pending"
    )
    print(f"last success: {summary['last_success'] or 'never'}")
    print(f"last error: {summary['last_error'] or 'none'}")
    for item in summary["set_aside"]:
        print(f"set aside: {item['kind']} {item['key']}: {item['reason']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m appliance.sync", description="DigiFort box-to-hub sync")
    sub = parser.add_subparsers(dest="command", required=True)
    enrolling = sub.add_parser(
        "enrol", aliases=["enroll"], help="register this box with the hub using a one-time token"
    )
    enrolling.add_argument("--hub", required=True, help="the hub's base URL, e.g. https://hub.example.org")
    enrolling.add_argument("--token", required=True)
    enrolling.add_argument("--name", help="display name at the hub (default: host name)")
    enrolling.add_argument("--force", action="store_true", help="enrol again with a new key")
    enrolling.add_argument("--insecure-http", action="store_true", help=INSECURE_HELP)
    enrolling.set_defaults(handler=_enrol)
    rotating = sub.add_parser(
        "rotate-key", help="replace this box's key at the hub (signed with the current key, with a rotation token)"
    )
    rotating.add_argument("--token", required=True, help="the one-time key rotation token from head office")
    rotating.set_defaults(handler=_rotate_key)
    sub.add_parser("once", help="one full sync cycle; exit 0 when the backlog is drained").set_defaults(handler=_once)
    sub.add_parser("agent", help="keep syncing (the box's sync process)").set_defaults(handler=_agent)
    pushing = sub.add_parser("push", help="read a folder of scans here and push them (a site without a box)")
    pushing.add_argument("folder")
    pushing.add_argument("--hub", required=True)
    pushing.add_argument("--token", help="one-time enrolment token (first run only)")
    pushing.add_argument("--name", help="display name at the hub (default: host name)")
    pushing.add_argument("--data-dir", help="where this machine keeps its local state (default APPLIANCE_DATA_DIR)")
    pushing.add_argument("--insecure-http", action="store_true", help=INSECURE_HELP)
    pushing.set_defaults(handler=_push)
    requeue = sub.add_parser("requeue", help="put set-aside items back in the queue once their cause is fixed")
    requeue.add_argument("--key", action="append", help="only this item (as `status` lists it); repeatable")
    requeue.set_defaults(handler=_requeue)
    status = sub.add_parser("status", help="backlog, oldest unsynced, last success and error")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=_status)
    return parser


def main(argv=None) -> int:
    try:
        return run_command(build_parser().parse_args(argv), Config.from_env)
    except (NotEnrolled, InsecureHubUrl) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (BoxLocked, NotSealed) as error:
        print(f"error: {error}", file=sys.stderr)
        return 4
    except HubError as error:
        print(f"error: {error}", file=sys.stderr)
        return 3 if error.retry else 2
