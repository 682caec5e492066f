"""A real converge: the appliance playbook applied to a fresh Debian 12 root made here with
debootstrap, reached with Ansible's chroot connection, then applied again with nothing changed.

Inside a chroot systemd does not run, so the services are installed but not started
(`*_manage_services: false`); their units are checked with systemd-analyze in test_systemd.py
and the apps behind nginx in test_nginx.py. Everything else runs for real: apt, the user and
folders, the virtual environment from requirements/, the settings file, the migrations and the
admin password, the Samba share, the certificate and the nginx site (nginx -t).
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MIRROR = "http://deb.debian.org/debian"
pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("debootstrap") is None, reason="needs root and debootstrap"
)


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    """A minimal Debian 12 root with Python (Ansible's modules need it) and the project's code."""
    root = tmp_path_factory.mktemp("converge") / "root"
    subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            "--include=python3,python3-venv,python3-apt,git,ca-certificates,util-linux",
            "bookworm",
            str(root),
            MIRROR,
        ],
        check=True,
        capture_output=True,
        timeout=900,
    )
    (root / "usr/sbin/policy-rc.d").write_text("#!/bin/sh\nexit 101\n")  # no daemons start in the chroot
    (root / "usr/sbin/policy-rc.d").chmod(0o755)
    shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
    for name in ("SSL_CERT_FILE", "PIP_CERT"):
        bundle = os.environ.get(name)
        if bundle and Path(bundle).is_file():
            (root / bundle.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(bundle, root / bundle.lstrip("/"))
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(root / "srv/digifort-src")], check=True)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def converge(target: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    commit = subprocess.run(
        ["git", "-C", str(target / "srv/digifort-src"), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    pip_env = {name: os.environ[name] for name in ("SSL_CERT_FILE", "PIP_CERT") if os.environ.get(name)}
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(f"""
all:
  children:
    boxes:
      hosts:
        converge-box:
          ansible_host: {target}
          ansible_connection: community.general.chroot
          ansible_python_interpreter: /usr/bin/python3
          digifort_repo_url: file:///srv/digifort-src
          digifort_version: {commit}
          digifort_hub_url: https://hub.invalid
          digifort_enrolment_token: ""
          digifort_samba_scanner_password: converge-scanner-password
          appliance_manage_services: false
          nginx_manage_service: false
          samba_manage_service: false
          appliance_pip_environment: {pip_env!r}
""")
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(ROOT / "ansible" / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        PATH=f"{BIN}:{os.environ['PATH']}",
    )
    return subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(inventory), "appliance.yml"],
        cwd=ROOT / "ansible",
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )


def recap(output: str) -> dict:
    found = re.search(r"converge-box\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", output)
    assert found, output[-3000:]
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, found.groups()), strict=True))


def test_the_appliance_playbook_converges_and_a_second_run_changes_nothing(target, tmp_path):
    first = converge(target, tmp_path)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    assert recap(first.stdout)["changed"] > 0
    assert (target / "var/lib/digifort/appliance.db").exists()
    assert (target / "var/lib/digifort/admin-password").stat().st_mode & 0o777 == 0o600
    assert (target / "etc/systemd/system/digifort-box-worker.service").exists()
    assert "APPLIANCE_PROXY_HOPS=1" in (target / "etc/digifort/box.env").read_text()
    assert "wide links = no" in (target / "etc/samba/smb.conf").read_text()
    assert (target / "etc/nginx/conf.d/digifort-box.conf").exists()
    assert (target / "usr/bin/tesseract").exists()

    second = converge(target, tmp_path)
    assert second.returncode == 0, second.stdout[-4000:]
    assert recap(second.stdout) == {"ok": recap(second.stdout)["ok"], "changed": 0, "unreachable": 0, "failed": 0}, (
        second.stdout[-4000:]
    )
