"""Files at rest: sealed as age streams (X25519 recipients, ChaCha20-Poly1305 in 64 KiB chunks,
each chunk authenticated) or, on a box without encryption, plain.

A `Sealing` is what a process needs to write and read the box's files: the recipient new files
are sealed to and the identities that open them (several while a key rotation is under way). It
pickles, so the OCR pool and the render sandbox get it with their task. Every write goes to a
temporary name beside the target, encrypted as it is written (never a plain copy first), and is
renamed into place once complete and fsynced.
"""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyrage

from .files import fsync_dir

CHUNK = 1024 * 1024
AGE_HEADER = b"age-encryption.org/v1\n"


class SealBroken(OSError):
    """A sealed file does not open: damaged, cut short, or sealed to another key (to its
    readers, an unreadable file like any other)."""


class _Hashing(io.RawIOBase):
    """A reader that passes bytes through while counting and hashing them (for intake)."""

    def __init__(self, read: Callable[[int], bytes]):
        self._read = read
        self.digest = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        block = self._read(CHUNK if size is None or size < 0 else size)
        self.digest.update(block)
        self.size += len(block)
        return block

    def readinto(self, buffer) -> int:
        block = self.read(len(buffer))
        buffer[: len(block)] = block
        return len(block)


@dataclass(frozen=True)
class Sealing:
    """How this box keeps files: sealed to `recipient` (opened with `identities`), or plain."""

    recipient: str | None = None
    identities: tuple[str, ...] = ()
    # While a plain box is being converted, files not sealed yet are read as they are.
    accept_plain: bool = False

    @property
    def sealed(self) -> bool:
        return self.recipient is not None

    def _recipients(self) -> list:
        return [pyrage.x25519.Recipient.from_str(self.recipient)]

    def _identities(self) -> list:
        return [pyrage.x25519.Identity.from_str(identity) for identity in self.identities]

    def write(self, target: Path, data: bytes, mode: int = 0o600) -> None:
        """Write `data` to `target` whole (sealed when this box seals)."""
        self.write_from(io.BytesIO(data).read, target, mode)

    def write_from(self, read: Callable[[int], bytes], target: Path, mode: int = 0o600) -> tuple[str, int]:
        """Stream what `read(n)` returns into `target`; return the plain bytes' (SHA-256, size)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}.{uuid.uuid4().hex}.part")  # two writers never share it
        digest = self.write_partial(read, partial, mode)
        os.replace(partial, target)
        fsync_dir(target.parent)
        return digest

    def write_partial(self, read: Callable[[int], bytes], partial: Path, mode: int = 0o600) -> tuple[str, int]:
        """Stream into the new file `partial` and fsync it, for the caller to rename into place
        (intake names its file by the hash); return the plain bytes' (SHA-256, size)."""
        source = _Hashing(read)
        try:
            with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode), "wb") as handle:
                if self.sealed:
                    pyrage.encrypt_io(source, handle, self._recipients())
                else:
                    while block := source.read(CHUNK):
                        handle.write(block)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return source.digest.hexdigest(), source.size

    def rewrite(self, path: Path, data: bytes) -> None:
        """Put `data` (the file's plain bytes) back over `path` sealed with this sealing, once the
        sealed copy is decrypted again and checked against them (converting, rotating): a power
        cut at any moment leaves the old file or the new one whole. SealBroken if the copy differs."""
        mode = path.stat().st_mode & 0o777
        partial = path.with_name(f"{path.name}.rewrite.part")
        partial.unlink(missing_ok=True)
        self.write_partial(io.BytesIO(data).read, partial, mode)
        if hashlib.sha256(self.read(partial)).digest() != hashlib.sha256(data).digest():
            partial.unlink()
            raise SealBroken(f"the new copy of {path.name} does not open to the same bytes; the old one is kept")
        os.replace(partial, path)
        fsync_dir(path.parent)

    def read(self, path: Path) -> bytes:
        """The plain bytes of the file at `path` (raises SealBroken when a sealed file does not open)."""
        raw = Path(path).read_bytes()
        if not self.sealed or (self.accept_plain and not raw.startswith(AGE_HEADER)):
            return raw
        try:
            return pyrage.decrypt(raw, self._identities())
        except pyrage.DecryptError:
            raise SealBroken(f"{Path(path).name} does not open with this box's key (damaged or cut short)") from None

    def source(self, path: Path) -> Path | bytes:
        """What a renderer opens: the path of a plain file, the decrypted bytes of a sealed one."""
        return self.read(path) if self.sealed else Path(path)


PLAIN = Sealing()


def sealed_size_for(plain_size: int) -> int:
    """The most bytes an age stream of `plain_size` bytes takes (16 a 64 KiB chunk, and a header)."""
    return plain_size + (plain_size // 65536 + 1) * 16 + 4096


def is_sealed_file(path: Path) -> bool:
    """True when the file at `path` is an age stream (conversion tells converted files by it)."""
    with open(path, "rb") as handle:
        return handle.read(len(AGE_HEADER)) == AGE_HEADER
