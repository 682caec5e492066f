"""`python -m appliance serve`: the box's web UI under gunicorn."""

from __future__ import annotations

from core.web.server import AppServer

from ..config import Config


def serve(config: Config, bind: str | None = None):
    """Run the box's web UI under gunicorn in the foreground until it is stopped."""
    from . import create_app

    AppServer(lambda: create_app(config), bind or config.bind, config.web_workers).run()
