"""Signed requests between a box and the hub (docs/sync-protocol.md describes the wire format).

A request is signed with the device's Ed25519 key over a canonical string made of the scheme,
the method, the path with its query, the timestamp, a nonce, the SHA-256 of the body and the
device id. The hub keeps only the public key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SCHEME = "DIGIFORT-ED25519-V1"
DEVICE = "X-DigiFort-Device"
TIMESTAMP = "X-DigiFort-Timestamp"
NONCE = "X-DigiFort-Nonce"
DIGEST = "X-DigiFort-Content-SHA256"
SIGNATURE = "X-DigiFort-Signature"
SERVER_TIME = "X-DigiFort-Server-Time"
SIGNED_HEADERS = (DEVICE, TIMESTAMP, NONCE, DIGEST, SIGNATURE)
# Blobs in one pack upload: their `sha256:size` list in the query stays well inside the
# request-line limits of gunicorn (4094 bytes) and nginx.
MAX_PACK_BLOBS = 32


class SignatureError(ValueError):
    """A request's signature, digest or key is not acceptable."""


def body_digest(body: bytes) -> str:
    """Hex SHA-256 of a request body."""
    return hashlib.sha256(body).hexdigest()


def canonical(method: str, path: str, timestamp: str, nonce: str, digest: str, device: str) -> bytes:
    """The exact bytes that are signed."""
    return "\n".join((SCHEME, method.upper(), path, timestamp, nonce, digest, device)).encode()


def new_private_key() -> Ed25519PrivateKey:
    """A fresh device key."""
    return Ed25519PrivateKey.generate()


def private_key_bytes(key: Ed25519PrivateKey) -> bytes:
    """The key as PEM (PKCS#8, unencrypted: the file holding it is mode 0600 on the box)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    """A device key read back from `private_key_bytes`."""
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError("the device key is not an Ed25519 key")
    return key


def public_key_text(key: Ed25519PrivateKey) -> str:
    """The public half as base64 of its 32 raw bytes (what the hub stores)."""
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def load_public_key(text: str) -> Ed25519PublicKey:
    """A public key from its base64 text, or SignatureError."""
    try:
        raw = base64.b64decode(text, validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (binascii.Error, ValueError, TypeError):
        raise SignatureError("public key must be base64 of 32 raw Ed25519 bytes") from None


def sign_request(
    key: Ed25519PrivateKey,
    device: str,
    method: str,
    path: str,
    body: bytes = b"",
    now: float | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The headers that sign one request (`now`: the corrected clock, in Unix seconds)."""
    timestamp = str(int(time.time() if now is None else now))
    nonce = nonce or secrets.token_hex(16)
    digest = body_digest(body)
    signature = key.sign(canonical(method, path, timestamp, nonce, digest, device))
    return {
        DEVICE: device,
        TIMESTAMP: timestamp,
        NONCE: nonce,
        DIGEST: digest,
        SIGNATURE: base64.b64encode(signature).decode(),
    }


def verify_signature(public_key: str, headers, method: str, path: str, body: bytes) -> None:
    """Check the digest and the signature of a request; raise SignatureError if either is wrong."""
    digest = headers.get(DIGEST, "")
    if digest != body_digest(body):
        raise SignatureError("the body does not match its SHA-256 header")
    try:
        signature = base64.b64decode(headers.get(SIGNATURE, ""), validate=True)
    except binascii.Error:
        raise SignatureError("the signature is not base64") from None
    message = canonical(
        method, path, headers.get(TIMESTAMP, ""), headers.get(NONCE, ""), digest, headers.get(DEVICE, "")
    )
    try:
        load_public_key(public_key).verify(signature, message)
    except InvalidSignature:
        raise SignatureError("the signature does not verify with this device's key") from None
