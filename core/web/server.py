"""Gunicorn configured in code (no separate config file), for the box's and the hub's web apps."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from gunicorn.app.base import BaseApplication


class AppServer(BaseApplication):
    """Serve the app that `factory` builds (in each worker) on `bind` with `workers` processes."""

    def __init__(self, factory: Callable[[], Flask], bind: str, workers: int):
        self.factory, self.bind, self.workers = factory, bind, workers
        super().__init__()

    def load_config(self) -> None:
        self.cfg.set("bind", self.bind)
        self.cfg.set("workers", self.workers)
        self.cfg.set("threads", 4)
        self.cfg.set("timeout", 120)
        self.cfg.set("accesslog", None)
        self.cfg.set("errorlog", "-")
        # No runtime control socket: nothing uses it, and it would be written under $HOME.
        self.cfg.set("control_socket_disable", True)

    def load(self) -> Flask:
        return self.factory()
