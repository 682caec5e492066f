"""A real converge: the appliance playbook applied to a fresh Debian 12 root made here with
debootstrap, reached with Ansible's chroot connection, then applied again with nothing changed.

Inside a chroot systemd does not run, so the services are installed but not started
(`*_manage_services: false`); their units are checked with systemd-analyze in test_systemd.py
and the apps behind nginx in test_nginx.py. Everything else runs for real: apt, the user and
folders, the virtual environment from requirements/, the settings file, the migrations and the
admin password, the Samba share, the certificate and the nginx site (nginx -t), the data key
sealed to a real Tang (Debian's tangd on loopback, reached from the root as the hub's Tang) and
rebound when the Tang list changes. The hub host's Tang role is applied to the same root and the
tangd it installed is started there (via socat) to show that it answers with the keys it made.
"""

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import free_port, serving

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MIRROR = "http://deb.debian.org/debian"
TANGD = Path("/usr/libexec/tangd")
RECOVERY_PASSPHRASE = "converge recovery passphrase, not a real one"
pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not all(map(shutil.which, ("debootstrap", "socat", "clevis"))) or not TANGD.exists(),
    reason="needs root, debootstrap, socat, clevis and tang",
)


@contextlib.contextmanager
def tang(key_dir: Path, root: Path | None = None):
    """A real tangd over `key_dir` (inside `root` when given) on a loopback port, one per connection
    as systemd's socket activation runs it; yields its URL."""
    port = free_port()
    command = f"chroot {root} {TANGD} {key_dir}" if root else f"{TANGD} {key_dir}"
    process = subprocess.Popen(
        ["socat", f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork", f"EXEC:{command}"], stderr=subprocess.DEVNULL
    )
    with serving(process, port, "tangd", f"http://127.0.0.1:{port}") as url:
        yield url


@pytest.fixture(scope="module")
def hub_tang(tmp_path_factory):
    """The hub's Tang as the box sees it: the host's tangd, reached from the root over loopback."""
    with tang(tmp_path_factory.mktemp("hub-tang")) as url:
        yield url


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
    # As on a booted box: Clevis's shell pins read from /dev/fd (process substitution), that is /proc.
    subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=True)
    try:
        yield root
    finally:
        subprocess.run(["umount", "--lazy", str(root / "proc")], check=True)
    shutil.rmtree(root, ignore_errors=True)


def run_playbook(playbook: Path, inventory: str, tmp_path: Path) -> subprocess.CompletedProcess:
    (tmp_path / "inventory.yml").write_text(inventory)
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=str(ROOT / "ansible" / "ansible.cfg"),
        ANSIBLE_ROLES_PATH=str(ROOT / "ansible" / "roles"),
        ANSIBLE_NOCOLOR="1",
        PATH=f"{BIN}:{os.environ['PATH']}",
    )
    return subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", str(tmp_path / "inventory.yml"), str(playbook)],
        cwd=ROOT / "ansible",
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )


def converge(
    target: Path, tmp_path: Path, tang_url: str, clinic_tang_url: str = "", rebind: bool = False
) -> subprocess.CompletedProcess:
    commit = subprocess.run(
        ["git", "-C", str(target / "srv/digifort-src"), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    pip_env = {name: os.environ[name] for name in ("SSL_CERT_FILE", "PIP_CERT") if os.environ.get(name)}
    return run_playbook(
        ROOT / "ansible" / "appliance.yml",
        f"""
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
          digifort_hub_tang_url: {tang_url}
          digifort_enrolment_token: ""
          digifort_samba_scanner_password: converge-scanner-password
          appliance_clinic_tang_url: "{clinic_tang_url}"
          appliance_recovery_passphrase: "{RECOVERY_PASSPHRASE}"
          appliance_rebind: {str(rebind).lower()}
          appliance_manage_services: false
          nginx_manage_service: false
          samba_manage_service: false
          appliance_pip_environment: {pip_env!r}
""",
        tmp_path,
    )


def recap(output: str, host: str = "converge-box") -> dict:
    found = re.search(rf"{host}\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", output)
    assert found, output[-3000:]
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, found.groups()), strict=True))


def test_the_appliance_playbook_converges_and_a_second_run_changes_nothing(target, tmp_path, hub_tang):
    first = converge(target, tmp_path, hub_tang)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    assert recap(first.stdout)["changed"] > 0
    assert (target / "var/lib/digifort/appliance.db").exists()
    assert (target / "var/lib/digifort/admin-password").stat().st_mode & 0o777 == 0o600
    assert (target / "etc/systemd/system/digifort-box-worker.service").exists()
    assert "APPLIANCE_PROXY_HOPS=1" in (target / "etc/digifort/box.env").read_text()
    assert "wide links = no" in (target / "etc/samba/smb.conf").read_text()
    assert (target / "etc/nginx/conf.d/digifort-box.conf").exists()
    assert (target / "usr/bin/tesseract").exists()

    second = converge(target, tmp_path, hub_tang)
    assert second.returncode == 0, second.stdout[-4000:]
    assert recap(second.stdout) == {"ok": recap(second.stdout)["ok"], "changed": 0, "unreachable": 0, "failed": 0}, (
        second.stdout[-4000:]
    )


def test_the_converged_box_is_encrypted_and_sealed_to_the_hubs_tang(target, hub_tang):
    settings = (target / "etc/digifort/box.env").read_text().splitlines()
    assert "APPLIANCE_ENCRYPTION=on" in settings
    assert f"APPLIANCE_TANG_URLS={hub_tang}" in settings
    assert {"APPLIANCE_SEAL_TPM2=auto", "APPLIANCE_RUNTIME_DIR=/run/digifort"} <= set(settings)
    for pin in ("tang", "tpm2", "sss"):
        assert (target / f"usr/bin/clevis-encrypt-{pin}").exists(), pin
    assert "d /run/digifort 0700 digifort digifort -" in (target / "etc/tmpfiles.d/digifort.conf").read_text()
    runtime = (target / "run/digifort").stat()
    assert runtime.st_mode & 0o777 == 0o700 and runtime.st_uid == user_id(target, "digifort")
    assert "digifort" in group_members(target, "tss")  # clevis's tpm2 pin opens /dev/tpmrm0 (root:tss 0660)
    assert any((target / "var/lib/digifort/keys").iterdir()), "init sealed nothing"
    # The passphrase was handed to init in the RAM folder only, and is gone.
    assert not (target / "run/digifort/recovery-passphrase").exists()
    for readable in ("etc/digifort/box.env", "etc/digifort/seal-pins", "etc/tmpfiles.d/digifort.conf"):
        assert RECOVERY_PASSPHRASE not in (target / readable).read_text(), readable


def test_a_new_tang_in_the_inventory_rebinds_the_data_key(target, tmp_path, hub_tang):
    handler = r"RUNNING HANDLER \[appliance : Rebind the data key to the pins\][^\n]*\nchanged: \[converge-box\]"
    sealed = sealed_copies(target)
    (tmp_path / "clinic-tang").mkdir()
    with tang(tmp_path / "clinic-tang") as clinic:
        rebound = converge(target, tmp_path, hub_tang, clinic_tang_url=clinic)
        rebound_copies = sealed_copies(target)
        again = converge(target, tmp_path, hub_tang, clinic_tang_url=clinic)
        asked = converge(target, tmp_path, hub_tang, clinic_tang_url=clinic, rebind=True)
    assert rebound.returncode == 0, rebound.stdout[-4000:] + rebound.stderr[-2000:]
    assert re.search(handler, rebound.stdout), rebound.stdout[-4000:]
    assert rebound_copies != sealed, "the sealed copy did not change"
    assert f"APPLIANCE_TANG_URLS={hub_tang},{clinic}" in (target / "etc/digifort/box.env").read_text().splitlines()
    assert f"tang {clinic}" in (target / "etc/digifort/seal-pins").read_text()
    assert again.returncode == 0 and recap(again.stdout)["changed"] == 0, again.stdout[-4000:]
    assert not re.search(handler, again.stdout)
    # After Tang's keys rotate the pins are the same: -e appliance_rebind=true asks for it.
    assert asked.returncode == 0 and re.search(handler, asked.stdout), asked.stdout[-4000:]
    assert sealed_copies(target) != rebound_copies


def test_the_hub_hosts_tang_listens_on_its_own_port_and_answers_with_the_keys_it_made(target, tmp_path):
    playbook = tmp_path / "tang.yml"
    playbook.write_text("""
- name: Tang as on the hub host
  hosts: hubs
  become: true
  roles:
    - role: tang
""")
    inventory = f"""
all:
  children:
    hubs:
      hosts:
        converge-hub:
          ansible_host: {target}
          ansible_connection: community.general.chroot
          ansible_python_interpreter: /usr/bin/python3
          tang_manage_service: false
"""
    first = run_playbook(playbook, inventory, tmp_path)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    dropin = (target / "etc/systemd/system/tangd.socket.d/digifort-listen.conf").read_text().splitlines()
    assert dropin[-2:] == ["ListenStream=", "ListenStream=7500"]
    keys = {json.loads(path.read_text())["alg"]: path for path in (target / "var/lib/tang").glob("*.jwk")}
    assert set(keys) == {"ES512", "ECMR"}
    assert all(path.stat().st_uid == user_id(target, "_tang") for path in keys.values())

    # clevis pins the advertisement to the signing key the role made, then recovers through that tangd.
    with tang(Path("/var/lib/tang"), root=target) as url:
        sealed = clevis("encrypt", "tang", json.dumps({"url": url, "thp": keys["ES512"].stem}), data=b"data key")
        assert clevis("decrypt", data=sealed) == b"data key"
    with pytest.raises(subprocess.CalledProcessError):
        clevis("decrypt", data=sealed)  # that tangd is gone: nothing else can answer

    second = run_playbook(playbook, inventory, tmp_path)
    assert second.returncode == 0 and recap(second.stdout, "converge-hub")["changed"] == 0, second.stdout[-4000:]


def sealed_copies(root: Path) -> dict[str, bytes]:
    keys = root / "var/lib/digifort/keys"
    return {str(path.relative_to(keys)): path.read_bytes() for path in keys.rglob("*") if path.is_file()}


def clevis(*args: str, data: bytes) -> bytes:
    return subprocess.run(["clevis", *args], input=data, capture_output=True, check=True, timeout=60).stdout


def user_id(root: Path, name: str) -> int:
    entries = (line.split(":") for line in (root / "etc/passwd").read_text().splitlines())
    return next(int(entry[2]) for entry in entries if entry[0] == name)


def group_members(root: Path, name: str) -> list[str]:
    entries = (line.split(":") for line in (root / "etc/group").read_text().splitlines())
    return next(entry[3].split(",") for entry in entries if entry[0] == name)
