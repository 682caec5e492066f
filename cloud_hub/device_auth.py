"""Checking a signed request from a box: device, clock, signature, nonce, in that order."""

from __future__ import annotations

import datetime as dt
import time

from sync import protocol

from .models import Device, Organisation, utcnow

SEEN_EVERY = dt.timedelta(seconds=60)


class DeviceAuthError(Exception):
    """A signed request is refused; `status` and `code` go into the JSON answer."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def authenticate(
    headers, method: str, path: str, body: bytes, skew_seconds: int, nonces, now: float | None = None
) -> Device:
    """The device that signed this request, or DeviceAuthError saying why it is refused."""
    now = time.time() if now is None else now
    missing = [name for name in protocol.SIGNED_HEADERS if not headers.get(name)]
    if missing:
        raise DeviceAuthError(401, "unsigned", f"signed request headers missing: {', '.join(missing)}")
    device = (
        Device.select(Device, Organisation).join(Organisation).where(Device.uid == headers[protocol.DEVICE]).first()
    )
    if device is None:
        raise DeviceAuthError(401, "unknown_device", "this device is not enrolled")
    if device.revoked_at is not None:
        raise DeviceAuthError(403, "device_revoked", "this device has been revoked; enrol it again")
    try:
        stamp = int(headers[protocol.TIMESTAMP])
    except ValueError:
        raise DeviceAuthError(401, "bad_timestamp", "the timestamp must be whole Unix seconds") from None
    if abs(now - stamp) > skew_seconds:
        raise DeviceAuthError(
            401,
            "clock_skew",
            f"the request time is {int(stamp - now)} s off the hub's clock; "
            "correct the clock offset from the server time given and sign again",
        )
    try:
        protocol.verify_signature(device.public_key, headers, method, path, body)
    except protocol.SignatureError as error:
        raise DeviceAuthError(401, "bad_signature", str(error)) from None
    if not nonces.first_use(device, headers[protocol.NONCE], 2 * skew_seconds + 60):
        raise DeviceAuthError(401, "replay", "this nonce was already used; sign every request afresh")
    if device.last_seen_at is None or utcnow() - device.last_seen_at > SEEN_EVERY:
        Device.update(last_seen_at=utcnow()).where(Device.id == device.id).execute()
    return device
