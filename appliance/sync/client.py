"""Talking to the hub: signed requests with the corrected clock, and errors sorted into
"try again later" and "refused"."""

from __future__ import annotations

import json
import time

import requests

from sync import protocol

from ..config import Config
from . import state


class HubError(Exception):
    """A request failed; `retry` says whether sending it again later can succeed."""

    def __init__(
        self, message: str, retry: bool, status: int | None = None, code: str | None = None, body: dict | None = None
    ):
        super().__init__(message)
        self.retry, self.status, self.code, self.body = retry, status, code, body or {}


class HubClient:
    """Signed requests for one enrolled box; learns the clock offset from every answer."""

    def __init__(self, base_url: str, device_id: str, key, timeout: float, offset: float | None = None):
        self.base = base_url.rstrip("/")
        self.device, self.key, self.timeout = device_id, key, timeout
        self.session = requests.Session()
        self.persist_clock = offset is None
        self.offset = state.get(state.CLOCK_OFFSET, 0.0) if offset is None else offset

    def clone(self) -> HubClient:
        """Another client for the same box with its own connection (for uploads in parallel)."""
        return HubClient(self.base, self.device, self.key, self.timeout, offset=self.offset)

    def _learn_clock(self, response, sent_at: float):
        server = response.headers.get(protocol.SERVER_TIME)
        if server:
            self.offset = float(server) - (sent_at + time.time()) / 2
            if self.persist_clock:
                state.put(state.CLOCK_OFFSET, round(self.offset, 3))

    def request(self, method: str, path: str, body: bytes = b"", content_type: str = "application/json") -> dict:
        """Send one signed request; its JSON answer, or HubError. A clock refusal is corrected once
        (the second of the two attempts always answers or raises)."""
        attempt = 1
        while True:
            headers = protocol.sign_request(self.key, self.device, method, path, body, now=time.time() + self.offset)
            headers["Content-Type"] = content_type
            sent_at = time.time()
            try:
                response = self.session.request(
                    method, self.base + path, data=body, headers=headers, timeout=self.timeout
                )
            except requests.RequestException as error:
                raise HubError(f"hub unreachable: {type(error).__name__}", retry=True) from None
            self._learn_clock(response, sent_at)
            try:
                answer = response.json()
            except ValueError:
                answer = {}
            if response.ok:
                return answer
            code = answer.get("error")
            if code == "clock_skew" and attempt == 1:
                attempt = 2
                continue
            # A clock still refused after correcting it once may pass once the offset settles.
            retry = code == "clock_skew" or answer.get(
                "retry", response.status_code >= 500 or response.status_code in (408, 429)
            )
            raise HubError(
                f"hub answered {response.status_code} {code or ''}: {answer.get('message', '')}".strip(),
                retry=bool(retry),
                status=response.status_code,
                code=code,
                body=answer,
            )

    def download(self, path: str) -> bytes:
        """A signed GET whose answer is bytes (a blob); HubError when refused or unreachable."""
        headers = protocol.sign_request(self.key, self.device, "GET", path, b"", now=time.time() + self.offset)
        try:
            response = self.session.get(self.base + path, headers=headers, timeout=self.timeout)
        except requests.RequestException as error:
            raise HubError(f"hub unreachable: {type(error).__name__}", retry=True) from None
        if not response.ok:
            raise HubError(
                f"hub answered {response.status_code}", retry=response.status_code >= 500, status=response.status_code
            )
        return response.content

    def post_json(self, path: str, payload) -> dict:
        return self.request("POST", path, json.dumps(payload).encode())


def enrol(base_url: str, token: str, public_key: str, name: str, timeout: float = 30) -> dict:
    """Register this box's key with the hub using a one-time token."""
    try:
        response = requests.post(
            base_url.rstrip("/") + "/api/v1/sync/enrol",
            timeout=timeout,
            json={"token": token, "public_key": public_key, "name": name},
        )
    except requests.RequestException as error:
        raise HubError(f"hub unreachable: {type(error).__name__}", retry=True) from None
    answer = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}
    if response.status_code != 201:
        raise HubError(
            answer.get("message", f"enrolment refused ({response.status_code})"),
            retry=False,
            status=response.status_code,
        )
    return answer


class NotEnrolled(RuntimeError):
    """The box has no device key or id yet: run `python -m appliance.sync enrol` first."""


def client_for(config: Config) -> HubClient:
    """A client signed with this box's device key, for the hub it is enrolled with."""
    hub_url, device_id = state.get(state.HUB_URL), state.get(state.DEVICE_ID)
    if hub_url is None or device_id is None or not state.enrolled(config):
        raise NotEnrolled("this box is not enrolled with a hub; run python -m appliance.sync enrol --hub URL --token T")
    return HubClient(hub_url, device_id, state.load_key(config), config.sync_timeout_seconds)
