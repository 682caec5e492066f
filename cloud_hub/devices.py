"""Boxes (devices): one-time enrolment tokens, enrolment, renaming, key rotation, revocation."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid

from sync.protocol import load_public_key

from . import audit
from .db import database
from .models import Clinic, Device, EnrolmentToken, utcnow

TOKEN_PREFIX = "dfe_"  # noqa: S105 - the marker that starts every token, not a secret
ROTATION_PREFIX = "dfr_"
ROTATION_REFUSED = (
    "a key rotation needs a one-time rotation token for this box from head office "
    "(Devices page, or python -m cloud_hub rotation-token)"
)


class EnrolmentError(ValueError):
    """An enrolment token or a device key is not acceptable."""


class RotationRefused(EnrolmentError):
    """A key rotation without a valid rotation token for the device."""


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.strip().encode()).hexdigest()


def issue_enrolment_token(clinic: Clinic, created_by: str, hours: int) -> tuple[str, EnrolmentToken]:
    """A one-time token that enrols one box into `clinic` within `hours`; only its hash is kept."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(24)
    with database.atomic():
        row = EnrolmentToken.create(
            clinic=clinic,
            token_hash=_token_hash(token),
            created_by=created_by,
            expires_at=utcnow() + dt.timedelta(hours=hours),
        )
        audit.record(
            "device.token_issued",
            actor=created_by,
            organisation=clinic.organisation_id,
            obj=row,
            clinic=clinic.id,
            hours=hours,
        )
    return token, row


def enrol(token: str, public_key: str, name: str, address: str | None = None) -> Device:
    """Register a box's public key with the clinic the token was issued for; the token is spent."""
    load_public_key(public_key)
    name = (name or "").strip()[:100] or "box"
    with database.atomic():
        row = EnrolmentToken.get_or_none(
            (EnrolmentToken.token_hash == _token_hash(token)) & EnrolmentToken.device.is_null()
        )
        if row is None:
            raise EnrolmentError("unknown enrolment token")
        if row.expires_at < utcnow():
            raise EnrolmentError("the enrolment token has expired; ask head office for a new one")
        spent = (
            EnrolmentToken.update(used_at=utcnow())
            .where((EnrolmentToken.id == row.id) & EnrolmentToken.used_at.is_null())
            .execute()
        )
        if not spent:
            raise EnrolmentError("the enrolment token has already been used")
        clinic = Clinic.get_by_id(row.clinic_id)
        device = Device.create(
            uid=uuid.uuid4().hex, organisation=clinic.organisation_id, clinic=clinic, name=name, public_key=public_key
        )
        audit.record(
            "device.enrol",
            actor=f"device:{device.uid}",
            organisation=clinic.organisation_id,
            obj=device,
            clinic=clinic.id,
            address=address,
        )
    return device


def devices_of(organisation_id: int) -> list[Device]:
    """The organisation's devices, by clinic and name, revoked ones included."""
    return list(
        Device.select(Device, Clinic)
        .join(Clinic)
        .where(Device.organisation == organisation_id)
        .order_by(Clinic.name, Device.name)
    )


def device_of(organisation_id: int, uid: str) -> Device:
    """The organisation's device with this id, or EnrolmentError (never another organisation's)."""
    device = Device.get_or_none((Device.organisation == organisation_id) & (Device.uid == uid))
    if device is None:
        raise EnrolmentError(f"no device {uid!r} in this organisation")
    return device


def rename(device: Device, name: str, actor: str) -> Device:
    """Give a device a new display name."""
    name = name.strip()[:100]
    if not name:
        raise EnrolmentError("the device needs a name")
    with database.atomic():
        Device.update(name=name).where(Device.id == device.id).execute()
        audit.record("device.rename", actor=actor, organisation=device.organisation_id, obj=device)
    return Device.get_by_id(device.id)


def issue_rotation_token(device: Device, created_by: str, hours: int) -> tuple[str, EnrolmentToken]:
    """A one-time token that lets `device` replace its key once within `hours`; only its hash is kept."""
    token = ROTATION_PREFIX + secrets.token_urlsafe(24)
    with database.atomic():
        row = EnrolmentToken.create(
            clinic=device.clinic_id,
            device=device,
            token_hash=_token_hash(token),
            created_by=created_by,
            expires_at=utcnow() + dt.timedelta(hours=hours),
        )
        audit.record(
            "device.rotation_token_issued",
            actor=created_by,
            organisation=device.organisation_id,
            obj=device,
            hours=hours,
        )
    return token, row


def rotate_key(device: Device, public_key: str, token: str, actor: str) -> Device:
    """Replace a device's public key, spending a rotation token issued for it; requests signed with
    the old key are refused from now on.

    The request is signed with the current key as well, but that key alone is not enough: whoever
    stole it could otherwise put their own key in its place and lock the real box out.
    """
    load_public_key(public_key)
    with database.atomic():
        spent = (
            EnrolmentToken.update(used_at=utcnow())
            .where(
                (EnrolmentToken.token_hash == _token_hash(token or ""))
                & (EnrolmentToken.device == device.id)
                & EnrolmentToken.used_at.is_null()
                & (EnrolmentToken.expires_at >= utcnow())
            )
            .execute()
        )
        if spent:
            Device.update(public_key=public_key, key_rotated_at=utcnow()).where(Device.id == device.id).execute()
            audit.record("device.rotate_key", actor=actor, organisation=device.organisation_id, obj=device)
    if not spent:
        audit.record("device.rotate_key_refused", actor=actor, organisation=device.organisation_id, obj=device)
        raise RotationRefused(ROTATION_REFUSED)
    return Device.get_by_id(device.id)


def revoke(device: Device, actor: str) -> Device:
    """Refuse every further request from a device (a stolen or retired box)."""
    with database.atomic():
        Device.update(revoked_at=utcnow()).where((Device.id == device.id) & Device.revoked_at.is_null()).execute()
        audit.record("device.revoke", actor=actor, organisation=device.organisation_id, obj=device)
    return Device.get_by_id(device.id)
