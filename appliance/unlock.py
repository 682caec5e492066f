"""Sealing the data key at `init` and unlocking the box at start, without a keyboard when a pin answers.

Two sealed copies sit in the keys folder: `data-key.jwe` (Clevis: any one Tang server or the
TPM2 opens it) and `data-key.passphrase.json` (the recovery passphrase IT keeps). At start each
process takes the key another one already unsealed (the runtime folder, in RAM), else asks
Clevis; when nothing answers the box is locked until someone types the passphrase.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from pathlib import Path

from core.files import write_durably

from . import data_key, key_sealing
from .box import open_box
from .config import Config
from .data_key import DataKey
from .key_sealing import ClevisError

log = logging.getLogger(__name__)
PASSPHRASE_FILE = "data-key.passphrase.json"  # noqa: S105  (a file name)
JWE_FILE = "data-key.jwe"
SEALING_FILE = "sealing.json"
SQLITE_HEADER = b"SQLite format 3\x00"


class Locked(Exception):
    """The box is locked: no pin answered and nobody has typed the recovery passphrase yet."""


class NotSealed(Exception):
    """This box has no sealed data key (it was never initialised with encryption on)."""


def _path(config: Config, name: str) -> Path:
    return config.keys_dir / name


def is_sealed(config: Config) -> bool:
    """The box has a data key (its passphrase-sealed copy is always written first)."""
    return _path(config, PASSPHRASE_FILE).exists()


def plain_database_present(config: Config) -> bool:
    """A database written before encryption was turned on (it needs converting, not a new key)."""
    try:
        with open(config.database_path, "rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except FileNotFoundError:
        return False


def _write_key_file(config: Config, name: str, data: bytes) -> None:
    config.keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_durably(_path(config, name), data, mode=0o600)


def _seal_with_clevis(config: Config, key: DataKey) -> tuple[list[str], bool]:
    """Write the Clevis JWE for the configured pins (none: remove it); the Tang URLs and TPM2 sealed to."""
    policy = key_sealing.clevis_policy(config)
    if policy is None:
        _path(config, JWE_FILE).unlink(missing_ok=True)
        return [], False
    _write_key_file(config, JWE_FILE, key_sealing.clevis_encrypt(policy, key.to_bytes()))
    return list(config.tang_urls), "tpm2" in policy["pins"]


def _record_sealing(config: Config, tang: list[str], tpm2: bool, problem: str | None) -> dict:
    summary = {
        "tang": tang,
        "tpm2": tpm2,
        "passphrase": True,
        "sealed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "problem": problem,
    }
    _write_key_file(config, SEALING_FILE, json.dumps(summary, indent=2).encode())
    return sealing_summary(config)


def seal(config: Config, key: DataKey, passphrase: str) -> dict:
    """Seal a new box's key under the recovery passphrase and the configured Clevis pins.

    The passphrase copy is written first: a Tang server that is down at install time leaves the
    box sealed to the passphrase only (`problem` says why), and `keys rebind` adds the pins later.
    """
    key_sealing.check_passphrase(passphrase)
    _write_key_file(config, PASSPHRASE_FILE, key_sealing.seal_with_passphrase(key.to_bytes(), passphrase))
    try:
        tang, tpm2 = _seal_with_clevis(config, key)
    except ClevisError as error:
        return _record_sealing(config, [], False, str(error))
    return _record_sealing(config, tang, tpm2, None)


def rebind(config: Config, key: DataKey | None = None) -> dict:
    """Seal the current key again to the pins configured now (Tang servers added or changed, a TPM2).

    Needs the box unlocked; a pin that does not answer keeps the previous JWE and raises ClevisError.
    """
    key = key or data_key.recall(config)
    if key is None:
        raise Locked("the box is locked: unlock it first (keys unlock, or the web page)")
    tang, tpm2 = _seal_with_clevis(config, key)
    return _record_sealing(config, tang, tpm2, None)


def sealing_summary(config: Config) -> dict:
    """What the key is sealed to, for the dashboard and `keys status`: `encrypted` False on a plain box."""
    try:
        return {"encrypted": True, **json.loads(_path(config, SEALING_FILE).read_bytes())}
    except FileNotFoundError:
        return {"encrypted": config.encryption, "tang": [], "tpm2": False, "passphrase": is_sealed(config)}


def _unseal_with_clevis(config: Config) -> tuple[DataKey | None, str]:
    jwe = _path(config, JWE_FILE)
    if not jwe.exists():
        return None, "the key is sealed to the recovery passphrase only"
    try:
        return DataKey.from_bytes(key_sealing.clevis_decrypt(jwe.read_bytes())), ""
    except ClevisError as error:
        return None, str(error)


def try_unlock(config: Config, quiet: bool = False) -> DataKey | None:
    """The data key: as another process of the box unsealed it, else from Clevis; None while locked."""
    key = data_key.recall(config)
    if key is not None:
        return key
    if not is_sealed(config):
        raise NotSealed(f"no sealed data key in {config.keys_dir}: run `python -m appliance init`")
    key, reason = _unseal_with_clevis(config)
    if key is None:
        if not quiet:
            log.warning("box is locked: %s", reason)
        return None
    data_key.remember(config, key)
    log.info("box unlocked by Clevis")
    return key


def unlock_with_passphrase(config: Config, passphrase: str) -> DataKey:
    """Open the passphrase-sealed key and remember it for the box's processes; WrongPassphrase if not."""
    try:
        document = _path(config, PASSPHRASE_FILE).read_bytes()
    except FileNotFoundError:
        raise NotSealed(f"no sealed data key in {config.keys_dir}") from None
    key = DataKey.from_bytes(key_sealing.open_with_passphrase(document, passphrase))
    data_key.remember(config, key)
    log.info("box unlocked with the recovery passphrase")
    return key


def wait_for_key(config: Config, stop: threading.Event) -> DataKey | None:
    """After a `try_unlock` that found the box locked: block until it is unlocked (Clevis retried
    every `unlock_retry_seconds`, the runtime folder looked at every second for an unlock by the
    web page or `keys unlock`); None when `stop` is set first."""
    next_clevis = time.monotonic() + config.unlock_retry_seconds
    while not stop.wait(1.0):
        key = data_key.recall(config)
        if key is None and time.monotonic() >= next_clevis:
            key = try_unlock(config, quiet=True)
            next_clevis = time.monotonic() + config.unlock_retry_seconds
        if key is not None:
            log.info("box unlocked; going on")
            return key
    return None


def open_unlocked(config: Config) -> list[int]:
    """`open_box` with the data key when encryption is on (remembered, or from Clevis); BoxLocked if none."""
    return open_box(config, try_unlock(config) if config.encryption else None)
