"""The systemd units, checked with systemd's own tools on the units as they are installed."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted((ROOT / "systemd").glob("*.service"))
EXPOSURE_THRESHOLD = 20  # systemd-analyze counts tenths here: 20 is an exposure of 2.0 (the units score 1.5 today)
pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The units with the install paths pointing at this checkout and its virtual environment."""
    folder = tmp_path_factory.mktemp("units")
    for unit in UNITS:
        text = unit.read_text().replace("/opt/digifort/venv/bin/python", sys.executable)
        (folder / unit.name).write_text(text.replace("/opt/digifort/app", str(ROOT)))
    return folder


def test_every_long_running_process_has_a_unit():
    assert {unit.name for unit in UNITS} == {
        "digifort-box-web.service",
        "digifort-box-worker.service",
        "digifort-box-sync.service",
        "digifort-hub-web.service",
        "digifort-hub-worker.service",
    }
    for unit in UNITS:
        text = unit.read_text()
        assert "Restart=on-failure" in text and "EnvironmentFile=/etc/digifort/" in text
        assert "User=root" not in text and "NoNewPrivileges=yes" in text and "CapabilityBoundingSet=\n" in text


@pytest.mark.parametrize("unit", ["digifort-box-web", "digifort-box-worker", "digifort-box-sync"])
def test_the_box_units_share_one_ram_folder_for_the_unsealed_key_and_reach_the_tpm(unit):
    lines = set((ROOT / "systemd" / f"{unit}.service").read_text().splitlines())
    assert {"User=digifort", "RuntimeDirectory=digifort", "RuntimeDirectoryMode=0700"} <= lines
    assert "RuntimeDirectoryPreserve=yes" in lines  # a restart of one unit keeps the key for the others
    assert {"SupplementaryGroups=tss", "BindPaths=-/dev/tpmrm0", "DeviceAllow=/dev/tpmrm0 rw"} <= lines
    settings = (ROOT / "systemd" / "box.env.example").read_text().splitlines()
    assert {"APPLIANCE_ENCRYPTION=on", "APPLIANCE_RUNTIME_DIR=/run/digifort"} <= set(settings)


@pytest.mark.parametrize("unit", [u.name for u in UNITS])
def test_every_unit_has_a_memory_cap(unit):
    caps = re.findall(r"^MemoryMax=(\d+)M$", (ROOT / "systemd" / unit).read_text(), re.MULTILINE)
    assert len(caps) == 1 and 0 < int(caps[0]) <= 2000, unit


@pytest.mark.parametrize("unit", [u.name for u in UNITS])
def test_systemd_analyze_verify_passes(installed, unit):
    result = subprocess.run(["systemd-analyze", "verify", str(installed / unit)], capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


@pytest.mark.parametrize("unit", [u.name for u in UNITS])
def test_systemd_analyze_security_stays_under_the_threshold(installed, unit):
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", f"--threshold={EXPOSURE_THRESHOLD}", str(installed / unit)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-600:]
    assert "Overall exposure level" in result.stdout
