"""`python -m appliance serve`: the web UI under gunicorn."""
from __future__ import annotations

from gunicorn.app.base import BaseApplication

from ..config import Config


class BoxServer(BaseApplication):
    """Gunicorn configured in code, so the box needs no separate gunicorn config file."""

    def __init__(self, config: Config, bind: str):
        self.box_config, self.bind = config, bind
        super().__init__()

    def load_config(self):
        self.cfg.set("bind", self.bind)
        self.cfg.set("workers", self.box_config.web_workers)
        self.cfg.set("threads", 4)
        self.cfg.set("timeout", 120)
        self.cfg.set("accesslog", None)
        self.cfg.set("errorlog", "-")

    def load(self):
        from . import create_app

        return create_app(self.box_config)


def serve(config: Config, bind: str | None = None):
    """Run gunicorn in the foreground until it is stopped."""
    BoxServer(config, bind or config.bind).run()
