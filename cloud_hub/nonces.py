"""Nonces already seen inside the timestamp window: Redis when configured, else the database."""

from __future__ import annotations

import datetime as dt

import peewee as pw
import redis

from .db import database
from .models import Device, UsedNonce, utcnow


class RedisNonces:
    """SET NX with an expiry: the first use of a nonce wins, for as long as a replay could pass."""

    def __init__(self, client: redis.Redis):
        self.client = client

    def first_use(self, device: Device, nonce: str, ttl_seconds: int) -> bool:
        return bool(self.client.set(f"digifort:nonce:{device.uid}:{nonce}", b"1", nx=True, ex=ttl_seconds))


class DatabaseNonces:
    """The same on the hub's own database (the embedded default has no Redis)."""

    def first_use(self, device: Device, nonce: str, ttl_seconds: int) -> bool:
        now = utcnow()
        try:
            with database.atomic():
                UsedNonce.create(device=device, nonce=nonce, expires_at=now + dt.timedelta(seconds=ttl_seconds))
        except pw.IntegrityError:
            return False
        UsedNonce.delete().where(UsedNonce.expires_at < now).execute()
        return True


def nonce_store(redis_url: str | None):
    """Redis-backed when REDIS_URL is set, database-backed otherwise."""
    if redis_url:
        return RedisNonces(redis.Redis.from_url(redis_url))
    return DatabaseNonces()
