"""`python -m appliance demo`: the box on embedded defaults, for `make demo`."""
from __future__ import annotations

import logging
import os
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


def run_demo() -> int:
    config = demo_config()
    open_box(config)
    username, password = _demo_login(config)
    inbox = config.inbox.resolve()
    print(
        "\nDigiFort demo box is running.\n"
        f"  Drop scans (PDF, TIFF, JPEG, PNG) into: {inbox}\n"
        f"  Data (database, originals, thumbnails): {config.data_dir.resolve()}\n"
        f"  Login for the box UI: {username} / {password}\n"
        f"  See what was filed:  .venv/bin/python -m appliance status   |   "
        f".venv/bin/python -m appliance search WORD\n"
        "  (run those with the same APPLIANCE_DATA_DIR; the demo uses ./demo-data/box)\n"
        "  Coming next: the clinic web UI, the cloud hub and the sync agent.\n"
        "  Stop with Ctrl-C.\n",
        flush=True,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_worker(config)
    return 0
