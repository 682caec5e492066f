"""The box's sync state: enrolment, the device key, counters and the last outcome, in SQLite."""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from appliance.config import Config
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
    config.sync_dir.mkdir(parents=True, exist_ok=True)
    path = key_path(config)
    partial = path.with_suffix(".part")
    with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
        handle.write(protocol.private_key_bytes(key))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)


def load_key(config: Config):
    return protocol.load_private_key(key_path(config).read_bytes())


def enrolled(config: Config) -> bool:
    return get("device_id") is not None and key_path(config).exists()
