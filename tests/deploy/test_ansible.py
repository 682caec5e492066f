"""The Ansible playbooks: syntax checked for every inventory, and ansible-lint at the production profile."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE = ROOT / "ansible"
BIN = Path(sys.executable).parent
PLAYBOOKS = sorted(p.name for p in ANSIBLE.glob("*.yml"))
INVENTORIES = sorted(p.name for p in (ANSIBLE / "inventories").iterdir() if p.is_dir())


def test_the_playbooks_are_the_box_and_the_hub():
    assert PLAYBOOKS == ["appliance.yml", "hub.yml"] and {"production", "staging"} <= set(INVENTORIES)


@pytest.mark.parametrize("inventory", INVENTORIES)
@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_syntax_check(playbook, inventory):
    result = subprocess.run(
        [str(BIN / "ansible-playbook"), "--syntax-check", "-i", f"inventories/{inventory}/hosts.yml", playbook],
        cwd=ANSIBLE,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ansible_lint_passes_at_the_production_profile():
    result = subprocess.run(
        [str(BIN / "ansible-lint"), "--profile", "production", "--nocolor"],
        cwd=ANSIBLE,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "Profile 'production' was required, and it passed" in result.stdout + result.stderr
