"""Enrolling this box with a hub: a new key pair, the public half registered with a one-time token."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from appliance.config import Config
from sync import protocol

from . import state
from .client import enrol


class InsecureHubUrl(ValueError):
    """The hub's URL would carry the enrolment token and every later batch unencrypted."""


def _this_machine(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified  # 0.0.0.0 as a destination is this machine too


def check_hub_url(hub_url: str, insecure_http: bool = False) -> None:
    """Refuse a hub URL that is not https://, unless it is plain http to this machine or `insecure_http`."""
    parts = urlsplit(hub_url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme != "http" or not parts.hostname:
        raise InsecureHubUrl(f"the hub URL must look like https://hub.example.org, not {hub_url!r}")
    if not (insecure_http or _this_machine(parts.hostname)):
        raise InsecureHubUrl(
            f"refusing plain http:// to {parts.hostname}: the enrolment token and patient data would travel "
            "unencrypted; use the hub's https:// address (or --insecure-http on a test network you trust)"
        )


def enrol_box(config: Config, hub_url: str, token: str, name: str, insecure_http: bool = False) -> dict:
    """Make and keep a device key, register it, remember the hub; the hub's answer."""
    check_hub_url(hub_url, insecure_http)
    key = protocol.new_private_key()
    answer = enrol(hub_url, token, protocol.public_key_text(key), name)
    state.save_key(config, key)
    state.put(state.HUB_URL, hub_url.rstrip("/"))
    state.put(state.DEVICE_ID, answer["device_id"])
    return answer
