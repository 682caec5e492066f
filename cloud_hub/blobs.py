"""Blobs by content: which are missing, resumable chunked upload, hash check before storing."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from core.files import file_sha256
from sync import protocol

from .db import database, locked
from .models import Blob, Device, Document, Upload, utcnow
from .storage import Storage, blob_key

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
MAX_BLOB_BYTES = 2 * 1024**3


class BlobError(ValueError):
    """A blob request is refused; `status` says how (409: resume from `received`)."""

    def __init__(self, status: int, code: str, message: str, received: int | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.received = status, code, message, received


@dataclass
class UploadState:
    sha256: str
    size: int
    received: int
    complete: bool

    def as_json(self) -> dict:
        return {"sha256": self.sha256, "size": self.size, "received": self.received, "complete": self.complete}


def check_sha(sha256: str) -> str:
    """`sha256` in lower-case hex, or BlobError."""
    sha256 = (sha256 or "").lower()
    if not SHA256_RE.match(sha256):
        raise BlobError(400, "bad_sha256", "a blob is named by the 64 hex digits of its SHA-256")
    return sha256


def missing(organisation_id: int, hashes: list[str]) -> list[str]:
    """Those of `hashes` the organisation has no stored blob for, in the order given."""
    wanted = list(dict.fromkeys(check_sha(h) for h in hashes))
    have = {
        sha
        for (sha,) in Blob.select(Blob.sha256)
        .where((Blob.organisation == organisation_id) & Blob.sha256.in_(wanted))
        .tuples()
    }
    return [sha for sha in wanted if sha not in have]


def partial_uploads(device: Device, hashes: list[str]) -> dict[str, int]:
    """How far this device's unfinished uploads of `hashes` have got (to resume without asking)."""
    return dict(
        Upload.select(Upload.sha256, Upload.received)
        .where((Upload.device == device) & Upload.sha256.in_(hashes) & (Upload.received > 0))
        .tuples()
    )


def _staging_path(staging_dir: Path, device: Device, sha256: str) -> Path:
    return staging_dir / device.uid / f"{sha256}.part"


def of_clinic(device: Device, sha256: str) -> Blob | None:
    """The stored blob `sha256` when a document of the device's clinic is made from it, else None.

    Blobs are kept once per organisation, but a box may only fetch back the originals of its own
    clinic's documents.
    """
    sha256 = sha256.lower()
    used_here = Document.select().where((Document.clinic == device.clinic_id) & (Document.blob_sha256 == sha256))
    if not used_here.exists():
        return None
    return Blob.get_or_none((Blob.organisation == device.organisation_id) & (Blob.sha256 == sha256))


def state(device: Device, sha256: str) -> UploadState | None:
    """How much of a blob the hub has: all of it, part of an upload, or nothing (None)."""
    sha256 = check_sha(sha256)
    blob = Blob.get_or_none((Blob.organisation == device.organisation_id) & (Blob.sha256 == sha256))
    if blob is not None:
        return UploadState(sha256, blob.size, blob.size, True)
    upload = Upload.get_or_none((Upload.device == device) & (Upload.sha256 == sha256))
    if upload is not None:
        return UploadState(sha256, upload.size, upload.received, False)
    return None


def receive_chunk(
    device: Device,
    sha256: str,
    size: int,
    offset: int,
    data: bytes,
    staging_dir: Path,
    storage: Storage,
    verified_digest: str | None = None,
) -> UploadState:
    """Append one chunk at `offset`; when the last byte is in, verify the hash and store the blob.

    A chunk at the wrong offset is refused with 409 and the offset to resume from, so a box
    whose link died after the hub wrote a chunk (but before the answer arrived) picks up
    exactly there. Nothing is stored or acknowledged unless the whole blob hashes to its name.
    Chunks in staging are not fsynced: after a crash a short staging file simply fails the
    final hash and the box sends again.
    """
    sha256 = check_sha(sha256)
    if not 0 < size <= MAX_BLOB_BYTES:
        raise BlobError(400, "bad_size", f"blob size must be between 1 and {MAX_BLOB_BYTES} bytes")
    if offset == 0 and len(data) == size:
        return _receive_whole(device, sha256, data, staging_dir, storage, verified_digest)
    path = _staging_path(staging_dir, device, sha256)
    path.parent.mkdir(parents=True, exist_ok=True)
    with database.atomic():
        upload = locked(Upload.select().where((Upload.device == device) & (Upload.sha256 == sha256))).first()
        if upload is None:
            blob = Blob.get_or_none((Blob.organisation == device.organisation_id) & (Blob.sha256 == sha256))
            if blob is not None:
                return UploadState(sha256, blob.size, blob.size, True)
        if upload is None or upload.size != size:
            Upload.delete().where((Upload.device == device) & (Upload.sha256 == sha256)).execute()
            upload = Upload.create(device=device, sha256=sha256, size=size, received=0)
            path.write_bytes(b"")
        if offset != upload.received:
            raise BlobError(
                409,
                "wrong_offset",
                f"the hub has {upload.received} bytes of this blob; send the next chunk from there",
                received=upload.received,
            )
        if offset + len(data) > size:
            raise BlobError(400, "too_long", "the chunk runs past the blob's declared size")
        with open(path, "r+b" if path.exists() else "wb") as handle:
            handle.seek(offset)
            handle.write(data)
            handle.truncate()
        received = offset + len(data)
        Upload.update(received=received, updated_at=utcnow()).where(Upload.id == upload.id).execute()
    if received < size:
        return UploadState(sha256, size, received, False)
    return _finish(device, sha256, size, path, storage)


def _receive_whole(
    device: Device, sha256: str, data: bytes, staging_dir: Path, storage: Storage, verified_digest: str | None
) -> UploadState:
    """A blob sent in one chunk goes straight to storage from memory. `verified_digest` (the
    request body's SHA-256, already checked against the signature) spares hashing it again.

    The box sends only what /blobs/missing named, so the hub does not look first: should
    another box of the organisation have stored the same content meanwhile, the same bytes
    are written again under the same key and recorded once."""
    size = len(data)
    if (verified_digest or hashlib.sha256(data).hexdigest()) != sha256:
        raise BlobError(
            422,
            "hash_mismatch",
            "the bytes received do not hash to the blob's name; the upload was discarded, send it again from the start",
        )
    key = blob_key(device.organisation.uid, sha256)
    storage.put_bytes(key, data)
    record_blob(device.organisation_id, sha256, size, key)
    _forget_chunked_attempt(device, sha256, staging_dir)
    return UploadState(sha256, size, size, True)


def _forget_chunked_attempt(device: Device, sha256: str, staging_dir: Path) -> None:
    """Drop an earlier chunked upload of a blob now stored whole; its staging file shows there was one."""
    staging = _staging_path(staging_dir, device, sha256)
    if staging.exists():
        Upload.delete().where((Upload.device == device) & (Upload.sha256 == sha256)).execute()
        staging.unlink(missing_ok=True)


def parse_pack(listing: str, body_size: int, max_bytes: int) -> list[tuple[str, int]]:
    """The `sha256:size,...` list of a pack, checked against the body it describes."""
    parts = []
    for entry in (listing or "").split(","):
        sha, _, size = entry.partition(":")
        if not size.isascii() or not size.isdigit() or int(size) < 1:
            raise BlobError(400, "bad_pack", "name each blob of a pack as sha256:size, separated by commas")
        parts.append((check_sha(sha), int(size)))
    if len(parts) > protocol.MAX_PACK_BLOBS:
        raise BlobError(400, "bad_pack", f"a pack holds at most {protocol.MAX_PACK_BLOBS} blobs")
    if len({sha for sha, _ in parts}) != len(parts):
        raise BlobError(400, "bad_pack", "a pack names each blob once")
    if body_size > max_bytes:
        raise BlobError(413, "pack_too_large", f"a pack may be at most {max_bytes} bytes")
    if sum(size for _, size in parts) != body_size:
        raise BlobError(400, "bad_pack", "the sizes listed do not add up to the body's length")
    return parts


def receive_pack(
    device: Device, parts: list[tuple[str, int]], data: bytes, staging_dir: Path, storage: Storage
) -> list[str]:
    """Several small blobs in one request, one after another in `data`: each must hash to its
    name before any is stored (a mismatch refuses the whole pack); then each is stored and
    all are recorded at once. The SHA-256s stored, in order."""
    pieces, offset = [], 0
    for sha, size in parts:
        piece = data[offset : offset + size]
        offset += size
        if hashlib.sha256(piece).hexdigest() != sha:
            raise BlobError(
                422,
                "hash_mismatch",
                f"blob {sha} of the pack does not hash to its name; nothing of the pack was stored, send it again",
            )
        pieces.append((sha, piece))
    organisation = device.organisation
    rows = []
    for sha, piece in pieces:
        key = blob_key(organisation.uid, sha)
        storage.put_bytes(key, piece)
        rows.append({"organisation": organisation.id, "sha256": sha, "size": len(piece), "storage_key": key})
    Blob.insert_many(rows).on_conflict_ignore().execute()
    for sha, _ in pieces:
        _forget_chunked_attempt(device, sha, staging_dir)
    return [sha for sha, _ in pieces]


def _finish(device: Device, sha256: str, size: int, path: Path, storage: Storage) -> UploadState:
    actual = file_sha256(path)
    if actual != sha256:
        Upload.delete().where((Upload.device == device) & (Upload.sha256 == sha256)).execute()
        path.unlink(missing_ok=True)
        raise BlobError(
            422,
            "hash_mismatch",
            "the bytes received do not hash to the blob's name; the upload was discarded, send it again from the start",
        )
    key = blob_key(device.organisation.uid, sha256)
    storage.put_file(key, path)
    _record(device, sha256, size, key)
    path.unlink(missing_ok=True)
    return UploadState(sha256, size, size, True)


def record_blob(organisation_id: int, sha256: str, size: int, key: str) -> None:
    """A stored blob, recorded for the organisation (once, however many boxes sent it: the
    first to finish the same content wins, the others find it there)."""
    Blob.insert(organisation=organisation_id, sha256=sha256, size=size, storage_key=key).on_conflict_ignore().execute()


def _record(device: Device, sha256: str, size: int, key: str) -> None:
    """The blob is stored: record it for the organisation and forget the upload (a leftover
    upload row after a crash between the two is harmless: the blob is found first)."""
    record_blob(device.organisation_id, sha256, size, key)
    Upload.delete().where((Upload.device == device) & (Upload.sha256 == sha256)).execute()
