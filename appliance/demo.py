"""`python -m appliance demo`: the box on embedded defaults, for `make demo`."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from .box import open_box
from .config import Config
from .ingest.worker import run_worker
from .models import User
from .users import create_user, generate_password

DEMO_ROOT = Path("demo-data")


def demo_config() -> Config:
    """Demo settings: everything under ./demo-data unless APPLIANCE_* says otherwise."""
    env = dict(os.environ)
    env.setdefault("APPLIANCE_DATA_DIR", str(DEMO_ROOT / "box"))
    env.setdefault("APPLIANCE_INBOX", str(DEMO_ROOT / "inbox"))
    return Config.from_env(env)


def _demo_login(config: Config) -> tuple[str, str]:
    secret = config.data_dir / "demo-admin-password"
    if not User.select().where(User.username == "admin").exists():
        password = generate_password()
        create_user("admin", password, role="admin", actor="demo")
        secret.write_text(password)
        secret.chmod(0o600)
    return "admin", secret.read_text().strip() if secret.exists() else "(set earlier; see `python -m appliance init`)"


def _start_web(config: Config, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "appliance", "serve", "--bind", config.bind], env=env)


def run_demo() -> int:
    """Start the box's web UI and worker on demo data; stop both with Ctrl-C."""
    config = demo_config()
    open_box(config)
    username, password = _demo_login(config)
    env = dict(os.environ, APPLIANCE_DATA_DIR=str(config.data_dir), APPLIANCE_INBOX=str(config.inbox))
    web = _start_web(config, env)
    print(
        "\nDigiFort demo box is running.\n"
        f"  Box web UI:        http://{config.bind}/\n"
        f"  Sign in as:        {username} / {password}\n"
        f"  Drop scans into:   {config.inbox.resolve()}   (PDF, TIFF, JPEG or PNG)\n"
        f"  Data (database, originals, thumbnails): {config.data_dir.resolve()}\n"
        "  Coming next: the cloud hub and the sync agent.\n"
        "  Stop with Ctrl-C.\n",
        flush=True,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        run_worker(config)
    finally:
        web.terminate()
        web.wait(timeout=30)
    return 0
