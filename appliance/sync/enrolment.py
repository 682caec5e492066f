"""Enrolling this box with a hub: a new key pair, the public half registered with a one-time token."""

from __future__ import annotations

from appliance.config import Config
from sync import protocol

from . import state
from .client import enrol


def enrol_box(config: Config, hub_url: str, token: str, name: str) -> dict:
    """Make and keep a device key, register it, remember the hub; the hub's answer."""
    key = protocol.new_private_key()
    answer = enrol(hub_url, token, protocol.public_key_text(key), name)
    state.save_key(config, key)
    state.put(state.HUB_URL, hub_url.rstrip("/"))
    state.put(state.DEVICE_ID, answer["device_id"])
    return answer
