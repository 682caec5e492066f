"""Sealed copies of the data key: under the recovery passphrase (Argon2id + ChaCha20-Poly1305) and
under Clevis (an SSS policy over Tang servers and the TPM2).

ChaCha20-Poly1305 rather than AES-GCM: a Raspberry Pi 4 has no AES instructions. Clevis runs as
Debian's `clevis` command, always with a time limit, so that a Tang server that does not answer
never hangs the box.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import subprocess
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from .config import Config

FORMAT = "digifort-passphrase-sealed-key"
CLEVIS_SECONDS = 15.0
TPM_DEVICES = (Path("/dev/tpmrm0"), Path("/dev/tpm0"))
# No 0/o, 1/l/i: read aloud or copied from paper, every character is unambiguous.
ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
GROUPS, GROUP_LENGTH = 6, 5
MIN_PASSPHRASE = 20
# The fields authenticated with the sealed key (the cipher's associated data).
HEADER_FIELDS = ("format", "version", "kdf", "time_cost", "memory_kib", "parallelism", "cipher")


class WrongPassphrase(Exception):
    """The passphrase does not open the sealed key."""


class ClevisError(Exception):
    """`clevis` failed or took too long (no pin answered, or Clevis is not installed)."""


@dataclass(frozen=True)
class Argon2Parameters:
    """Argon2id's cost: a guess costs an attacker 64 MiB and about a second of a core."""

    time_cost: int = 3
    memory_kib: int = 64 * 1024
    parallelism: int = 1


def generate_passphrase() -> str:
    """A recovery passphrase to print once: 6 groups of 5 unambiguous characters (about 148 bits)."""
    return "-".join("".join(secrets.choice(ALPHABET) for _ in range(GROUP_LENGTH)) for _ in range(GROUPS))


def normalise(passphrase: str) -> str:
    """What the key is derived from: case, spaces and dashes do not matter when it is typed."""
    folded = unicodedata.normalize("NFKC", passphrase).lower()
    return "".join(ch for ch in folded if not ch.isspace() and ch != "-")


def check_passphrase(passphrase: str) -> None:
    """Refuse a passphrase IT supplies that is too short to stand in for the data key."""
    if len(normalise(passphrase)) < MIN_PASSPHRASE:
        raise ValueError(f"the recovery passphrase must have at least {MIN_PASSPHRASE} characters")


def _derive(passphrase: str, salt: bytes, cost: Argon2Parameters) -> bytes:
    return hash_secret_raw(
        normalise(passphrase).encode(),
        salt,
        time_cost=cost.time_cost,
        memory_cost=cost.memory_kib,
        parallelism=cost.parallelism,
        hash_len=32,
        type=Type.ID,
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def seal_with_passphrase(secret: bytes, passphrase: str, cost: Argon2Parameters | None = None) -> bytes:
    """`secret` sealed under `passphrase`, as the JSON document written to the keys folder."""
    cost = cost or Argon2Parameters()
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    header = {"format": FORMAT, "version": 1, "kdf": "argon2id", **asdict(cost), "cipher": "chacha20-poly1305"}
    aad = json.dumps(header, sort_keys=True).encode()
    sealed = ChaCha20Poly1305(_derive(passphrase, salt, cost)).encrypt(nonce, secret, aad)
    return json.dumps({**header, "salt": _b64(salt), "nonce": _b64(nonce), "sealed": _b64(sealed)}).encode()


def open_with_passphrase(document: bytes, passphrase: str) -> bytes:
    """The secret in a document from `seal_with_passphrase`; WrongPassphrase when it does not open."""
    fields = json.loads(document)
    if fields.get("format") != FORMAT or fields.get("version") != 1:
        raise ValueError("not a DigiFort passphrase-sealed key")
    cost = Argon2Parameters(fields["time_cost"], fields["memory_kib"], fields["parallelism"])
    header = {key: fields[key] for key in HEADER_FIELDS}
    aad = json.dumps(header, sort_keys=True).encode()
    salt, nonce, sealed = (base64.b64decode(fields[name]) for name in ("salt", "nonce", "sealed"))
    try:
        return ChaCha20Poly1305(_derive(passphrase, salt, cost)).decrypt(nonce, sealed, aad)
    except InvalidTag:
        raise WrongPassphrase("the recovery passphrase is wrong") from None


def tpm2_wanted(config: Config) -> bool:
    """Seal to the TPM2 when told to, or (auto) when this machine has one."""
    if config.seal_tpm2 == "auto":
        return any(device.exists() for device in TPM_DEVICES)
    return config.seal_tpm2 == "on"


def clevis_policy(config: Config) -> dict | None:
    """The SSS policy: any one of the configured Tang servers or the TPM2; None when there is no pin."""
    pins: dict = {}
    if config.tang_urls:
        pins["tang"] = [{"url": url} for url in config.tang_urls]
    if tpm2_wanted(config):
        pins["tpm2"] = {}
    return {"t": 1, "pins": pins} if pins else None


def _clevis(arguments: list[str], data: bytes, seconds: float) -> bytes:
    """Run `clevis` with `data` on stdin; its own process group, killed whole after `seconds`."""
    try:
        process = subprocess.Popen(
            ["clevis", *arguments],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise ClevisError("clevis is not installed") from None
    try:
        output, errors = process.communicate(data, timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise ClevisError(f"clevis {arguments[0]} took longer than {seconds:g} s (no pin answered)") from None
    if process.returncode != 0:
        reason = errors.decode(errors="replace").strip().splitlines()
        last = reason[-1] if reason else f"exit {process.returncode}"
        raise ClevisError(f"clevis {arguments[0]} failed: {last}")
    return output


def clevis_encrypt(policy: dict, secret: bytes) -> bytes:
    """`secret` sealed under `policy` as a compact JWE (Tang advertisements trusted as fetched: -y)."""
    return _clevis(["encrypt", "sss", json.dumps(policy), "-y"], secret, CLEVIS_SECONDS)


def clevis_decrypt(jwe: bytes) -> bytes:
    """The secret in `jwe`, when one of its pins answers within CLEVIS_SECONDS."""
    return _clevis(["decrypt"], jwe, CLEVIS_SECONDS)
