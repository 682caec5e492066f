"""`python -m demo` (what `make demo` runs): hub, box, worker and sync agent on embedded defaults.

It is the one module that starts both sides, so it lives beside them rather than in either.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from appliance.box import open_box
from appliance.config import Config
from appliance.data_key import DataKey
from appliance.ingest.worker import run_worker
from appliance.keys_cli import init_key
from appliance.models import User
from appliance.users import create_user
from core.passwords import generate_password
from core.waiting import wait_for_http

DEMO_ROOT = Path("demo-data")


def demo_config() -> Config:
    """Demo settings: everything under ./demo-data unless APPLIANCE_* says otherwise."""
    env = dict(os.environ)
    env.setdefault("APPLIANCE_DATA_DIR", str(DEMO_ROOT / "box"))
    env.setdefault("APPLIANCE_INBOX", str(DEMO_ROOT / "inbox"))
    env.setdefault("APPLIANCE_ENCRYPTION", "on")
    return Config.from_env(env)


def _demo_key(config: Config) -> DataKey | None:
    """The demo box's data key: made and sealed under a recovery passphrase kept beside the demo
    data on the first start (a real box's is printed once and kept by IT), unlocked after."""
    if not config.encryption:
        return None
    return init_key(config, str(DEMO_ROOT / "recovery-passphrase"))


def _demo_login(config: Config) -> tuple[str, str]:
    secret = config.data_dir / "demo-admin-password"
    if not User.select().where(User.username == "admin").exists():
        password = generate_password()
        create_user("admin", password, role="admin", actor="demo")
        secret.write_text(password)
        secret.chmod(0o600)
    return "admin", secret.read_text().strip() if secret.exists() else "(set earlier; see `python -m appliance init`)"


def _encryption_line(config: Config) -> str:
    if not config.encryption:
        return "no (APPLIANCE_ENCRYPTION=off)"
    return f"yes; recovery passphrase in {(DEMO_ROOT / 'recovery-passphrase').resolve()}"


def _start_web(config: Config, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "appliance", "serve", "--bind", config.bind], env=env)


def _start_hub(env: dict):
    from cloud_hub.demo import demo_hub_config, demo_hub_env, prepare

    hub_config = demo_hub_config(DEMO_ROOT / "hub", os.environ.get("HUB_BIND") or "127.0.0.1:8090")
    email, password = prepare(hub_config)
    hub_env = {key: value for key, value in env.items() if key not in ("DATABASE_URL", "REDIS_URL", "S3_BUCKET")}
    hub_env.update(demo_hub_env(hub_config))
    process = subprocess.Popen([sys.executable, "-m", "cloud_hub", "serve"], env=hub_env)
    return process, hub_config, email, password


def _start_sync(config: Config, env: dict, hub_config) -> subprocess.Popen:
    """Enrol the demo box with the demo hub (first start only), then run the sync agent."""
    from appliance.sync import state
    from appliance.sync.enrolment import enrol_box
    from cloud_hub.demo import enrolment_token

    hub_url = f"http://{hub_config.bind}"
    wait_for_http(f"{hub_url}/healthz")
    if not state.enrolled(config) or state.get(state.HUB_URL) != hub_url:
        enrol_box(config, hub_url, enrolment_token(hub_config), "Demo box")
    return subprocess.Popen(
        [sys.executable, "-m", "appliance.sync", "agent"], env=dict(env, APPLIANCE_SYNC_INTERVAL_SECONDS="3")
    )


def run_demo() -> int:
    """Start the box's web UI and worker, and the hub, on demo data; stop them all with Ctrl-C."""
    config = demo_config()
    open_box(config, _demo_key(config))
    username, password = _demo_login(config)
    env = dict(
        os.environ,
        APPLIANCE_DATA_DIR=str(config.data_dir),
        APPLIANCE_INBOX=str(config.inbox),
        APPLIANCE_ENCRYPTION="on" if config.encryption else "off",
        APPLIANCE_RUNTIME_DIR=str(config.runtime_dir),
    )
    web = _start_web(config, env)
    hub, hub_config, hub_email, hub_password = _start_hub(env)
    agent = _start_sync(config, env, hub_config)
    print(
        "\nDigiFort demo is running.\n"
        f"  Box web UI:        http://{config.bind}/\n"
        f"  Sign in as:        {username} / {password}\n"
        f"  Drop scans into:   {config.inbox.resolve()}   (PDF, TIFF, JPEG or PNG)\n"
        f"  Box data (database, originals, thumbnails): {config.data_dir.resolve()}\n"
        f"  Encrypted at rest: {_encryption_line(config)}\n"
        f"  Hub (head office): http://{hub_config.bind}/\n"
        f"  Sign in as:        {hub_email} / {hub_password}\n"
        f"  Hub data:          {(DEMO_ROOT / 'hub').resolve()}\n"
        "  Sync agent:        running; filed documents reach the hub within seconds\n"
        "  Stop with Ctrl-C.\n",
        flush=True,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        run_worker(config)
    finally:
        for process in (agent, web, hub):
            process.terminate()
            process.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_demo())
