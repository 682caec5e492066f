"""Per-request metering: bytes in and out, per organisation and (for a box) per device."""

from __future__ import annotations

from flask import g, request

from .. import billing
from ..models import Device


def meter_request(response):
    """after_request: add this request's bytes to its organisation's (and device's) usage."""
    device = g.get("device")
    signed_in = g.get("signed_in")
    if device is None and signed_in is None:
        return response
    bytes_in = request.content_length or 0
    bytes_out = response.content_length or 0
    if device is not None:
        billing.meter(device.organisation_id, device.id, bytes_in=bytes_in, bytes_out=bytes_out)
        Device.update(bytes_in=Device.bytes_in + bytes_in, bytes_out=Device.bytes_out + bytes_out).where(
            Device.id == device.id
        ).execute()
    else:
        billing.meter(signed_in.organisation.id, 0, bytes_in=bytes_in, bytes_out=bytes_out)
    return response
