"""The box's data key: what encrypts the database (SQLCipher) and every file holding patient data
(age). It is made once at `init`; only sealed copies of it are ever written to disk (see
`appliance.unlock`), and the unsealed key lives in memory and, while the box runs, in a file in
the runtime folder (a RAM filesystem: a power cut or a theft forgets it)."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

import pyrage

from core.files import write_durably

from .config import Config

VERSION = 1


@dataclass(frozen=True)
class DataKey:
    """The database's raw 256-bit SQLCipher key and the age identities files are sealed to.

    `files[0]` is the identity new files are sealed to; older ones (kept during `keys rotate`)
    still open files written before.
    """

    database: bytes
    files: tuple[str, ...]
    # During `keys rotate`: the database key being replaced, until the database is rekeyed.
    previous_database: bytes | None = None

    @classmethod
    def generate(cls) -> DataKey:
        return cls(database=secrets.token_bytes(32), files=(str(pyrage.x25519.Identity.generate()),))

    @property
    def identities(self) -> list:
        return [pyrage.x25519.Identity.from_str(identity) for identity in self.files]

    @property
    def recipient(self) -> str:
        """The public half new files are sealed to (safe to hand to any process)."""
        return str(pyrage.x25519.Identity.from_str(self.files[0]).to_public())

    @property
    def sqlcipher_key(self) -> str:
        """The PRAGMA key value: a raw key, so no passphrase derivation on each connection."""
        return f"x'{self.database.hex()}'"

    @property
    def sqlcipher_keys(self) -> tuple[str, ...]:
        """The key, then the one it replaces while a rotation is under way."""
        previous = () if self.previous_database is None else (f"x'{self.previous_database.hex()}'",)
        return (self.sqlcipher_key, *previous)

    def to_bytes(self) -> bytes:
        document = {"version": VERSION, "database": self.database.hex(), "files": list(self.files)}
        if self.previous_database is not None:
            document["previous_database"] = self.previous_database.hex()
        return json.dumps(document).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> DataKey:
        try:
            document = json.loads(raw)
            if document.get("version") != VERSION:
                raise ValueError(f"unknown data key version {document.get('version')!r}")
            previous = document.get("previous_database")
            key = cls(
                database=bytes.fromhex(document["database"]),
                files=tuple(document["files"]),
                previous_database=bytes.fromhex(previous) if previous else None,
            )
            key.identities  # noqa: B018  (refuses a damaged identity now, not at the first file)
        except (ValueError, KeyError, TypeError, pyrage.IdentityError) as error:
            raise ValueError(f"not a DigiFort data key: {error}") from None
        if len(key.database) != 32 or not key.files:
            raise ValueError("not a DigiFort data key: wrong length")
        return key


def _runtime_path(config: Config) -> Path:
    """The unsealed key's file in the runtime folder, one per data folder (boxes never share it)."""
    tag = hashlib.sha256(str(config.data_dir).encode()).hexdigest()[:16]
    return config.runtime_dir / f"digifort-data-key-{tag}"


def _own_folder(folder: Path) -> Path:
    """`folder`, made 0700 if missing; refused when another user owns it or can enter it."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise PermissionError(f"{folder} must be a folder of this user's only (mode 0700)")
    return folder


def remember(config: Config, key: DataKey) -> None:
    """Keep the unsealed key for the box's other processes (web, worker, sync agent) until power-off."""
    _own_folder(config.runtime_dir)
    write_durably(_runtime_path(config), key.to_bytes(), mode=0o600)


def recall(config: Config) -> DataKey | None:
    """The key another process of this box unsealed since boot, if any."""
    try:
        return DataKey.from_bytes((_own_folder(config.runtime_dir) / _runtime_path(config).name).read_bytes())
    except FileNotFoundError:
        return None


def forget(config: Config) -> None:
    """Drop the remembered key (tests, and `keys lock`)."""
    try:
        os.unlink(_runtime_path(config))
    except FileNotFoundError:
        pass
