"""The box's sync state: enrolment, the device key, counters and the last outcome, in SQLite."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from appliance.config import Config
from appliance.files import write_durably
from appliance.models import SyncState

from . import protocol

KEY_FILE = "device-key.pem"


def get(key: str, default: str | None = None) -> str | None:
    row = SyncState.get_or_none(SyncState.key == key)
    return row.value if row is not None else default


def put(key: str, value) -> None:
    SyncState.insert(key=key, value=str(value)).on_conflict_replace().execute()


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def key_path(config: Config) -> Path:
    return config.sync_dir / KEY_FILE


def save_key(config: Config, key) -> None:
    """Write the device's private key, readable by the box's user only."""
    write_durably(key_path(config), protocol.private_key_bytes(key), mode=0o600)


def load_key(config: Config):
    return protocol.load_private_key(key_path(config).read_bytes())


def enrolled(config: Config) -> bool:
    return get("device_id") is not None and key_path(config).exists()
