"""The box's sync state: enrolment, the device key, counters and the last outcome, in SQLite.

Every key the `sync_state` table holds is named here once, with its type; the rest of the box
reads and writes them through `get` and `put` with these names, never with a string.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar, overload

from appliance import at_rest
from appliance.config import Config
from appliance.models import SyncState
from sync import protocol

KEY_FILE = "device-key.pem"
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


@dataclass(frozen=True)
class Key(Generic[T]):
    """One entry of the sync state: its name in the table and the type of its value."""

    name: str
    kind: Callable[[str], T]
    meaning: str


class Readable(Protocol[T_co]):
    """A key as `get` reads it. Read-only, so covariant: a Key[str] is accepted where a Key[object]
    is asked for (mypy asks so inside an f-string), while `put` keeps a Key invariant and checks the
    value stored against its type."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> Callable[[str], T_co]: ...


HUB_URL = Key("hub_url", str, "the hub this box is enrolled with")
DEVICE_ID = Key("device_id", str, "this box's device id at the hub")
SEQ = Key("seq", int, "the sequence number of the last batch sent")
CURSOR = Key("cursor", int, "the hub's change cursor the box has applied up to")
CLOCK_OFFSET = Key("clock_offset", float, "hub clock minus box clock, in seconds")
SYNC_NOW = Key("sync_now", bool, "staff asked for a sync now (the agent clears it)")
LAST_ATTEMPT = Key("last_attempt", str, "when the last cycle started (ISO time)")
LAST_SUCCESS = Key("last_success", str, "when the last cycle ended well (ISO time)")
LAST_ERROR = Key("last_error", str, "when and why the last cycle failed")
SEND_SINGLY_THROUGH = Key("send_singly_through", int, "outbox rows up to this id go one per batch")
FIXED = (
    HUB_URL,
    DEVICE_ID,
    SEQ,
    CURSOR,
    CLOCK_OFFSET,
    SYNC_NOW,
    LAST_ATTEMPT,
    LAST_SUCCESS,
    LAST_ERROR,
    SEND_SINGLY_THROUGH,
)
SETTING_PREFIX, HUB_USER_PREFIX = "setting:", "hub_user:"


def setting(name: str, kind: Callable[[str], T]) -> Key[T]:
    """A box setting head office manages (`setting:<name>`), overriding the box's own."""
    return Key(f"{SETTING_PREFIX}{name}", kind, f"the box setting {name}, as head office set it")


def hub_user(username: str) -> Key[bool]:
    """Marks a box user head office manages (`hub_user:<username>`)."""
    return Key(f"{HUB_USER_PREFIX}{username}", bool, f"user {username} is managed by head office")


def known(name: str) -> bool:
    """True when `name` is one of the keys this module defines."""
    return name in {key.name for key in FIXED} or name.startswith((SETTING_PREFIX, HUB_USER_PREFIX))


def _parse(key: Key[T], raw: str) -> T:
    if key.kind is bool:
        return raw == "1"  # type: ignore[return-value]
    return key.kind(raw)


@overload
def get(key: Readable[T]) -> T | None: ...
@overload
def get(key: Readable[T], default: T) -> T: ...
def get(key, default=None):
    """The value stored under `key`, or `default` when there is none."""
    row = SyncState.get_or_none(SyncState.key == key.name)
    return _parse(key, row.value) if row is not None else default


def put(key: Key[T], value: T) -> None:
    """Store `value` under `key`."""
    raw = ("1" if value else "0") if key.kind is bool else str(value)
    SyncState.insert(key=key.name, value=raw).on_conflict_replace().execute()


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def key_path(config: Config) -> Path:
    return config.sync_dir / KEY_FILE


def save_key(config: Config, key) -> None:
    """Write the device's private key, readable by the box's user only."""
    at_rest.sealing().write(key_path(config), protocol.private_key_bytes(key), mode=0o600)


def load_key(config: Config):
    return protocol.load_private_key(at_rest.sealing().read(key_path(config)))


def enrolled(config: Config) -> bool:
    return get(DEVICE_ID) is not None and key_path(config).exists()
