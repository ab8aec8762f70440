"""The shipped suite run as an operator runs it (real pytest, ``--pyargs``), where no host needs to be deployed:
what it refuses before reading any host, how it matches hosts to inventory hosts, and a host it cannot reach."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from openclaw_infra.host_suite.host_checks import SuiteRefused, inventory_host_for

TOKEN = "suite-token-3c9e-never-printed"
INVENTORY = """
from openclaw_infra.inventory import checked_hosts

hosts = checked_hosts([
    ("vps1", {"ssh_hostname": "127.0.0.1", "openclaw_secrets": {"OPENCLAW_GATEWAY_TOKEN": {"env": "SUITE_TOKEN"}}}),
])
"""


def run_suite(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "openclaw_infra.host_suite", "-p", "no:cacheprovider", *args],
        capture_output=True, text=True, cwd=cwd, timeout=300, check=False,
        env={**os.environ, "SUITE_TOKEN": TOKEN, **(env or {})},
    )  # fmt: skip


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    path = tmp_path / "hosts.py"
    path.write_text(INVENTORY)
    return path


def test_without_an_inventory_it_refuses(tmp_path: Path) -> None:
    result = run_suite(tmp_path, "--hosts=ssh://vps1")
    assert result.returncode == 2
    assert "--openclaw-inventory=INVENTORY is needed" in result.stdout


def test_a_missing_inventory_file_is_refused(tmp_path: Path) -> None:
    result = run_suite(tmp_path, "--hosts=ssh://vps1", "--openclaw-inventory=nosuch.py")
    assert result.returncode == 2
    assert "inventory nosuch.py cannot be used: no inventory file nosuch.py" in result.stdout


def test_invalid_settings_are_refused_naming_the_key(inventory: Path) -> None:
    result = run_suite(
        inventory.parent, "--hosts=ssh://vps1", f"--openclaw-inventory={inventory}", env={"SUITE_TOKEN": ""}
    )
    assert result.returncode == 2
    assert "host 'vps1': openclaw_secrets.OPENCLAW_GATEWAY_TOKEN" in result.stdout


def test_a_host_with_no_settings_is_refused(inventory: Path) -> None:
    result = run_suite(inventory.parent, "--hosts=ssh://admin@vps2", f"--openclaw-inventory={inventory}")
    assert result.returncode == 2
    assert (
        "no inventory host has the name or ssh_hostname 'vps2', so the settings it was deployed with are unknown; "
        "the inventory's hosts: vps1 (ssh_hostname 127.0.0.1)"
    ) in result.stdout


def test_an_unreachable_host_fails_as_one_item_naming_why(inventory: Path) -> None:
    # Matched by its ssh_hostname; nothing listens on port 1.
    result = run_suite(inventory.parent, "--hosts=ssh://root@127.0.0.1:1", f"--openclaw-inventory={inventory}")
    assert result.returncode == 1
    assert "test_expected_state.py::test_expected_state[vps1: could not be checked]" in result.stdout
    assert "vps1 could not be checked: ssh failed: ssh: connect to host 127.0.0.1 port 1: Connection refused" in (
        result.stdout
    )
    assert TOKEN not in result.stdout + result.stderr


INVENTORY_DATA = {"vps1": {"ssh_hostname": "203.0.113.5"}, "vps2": {}, "twin": {"ssh_hostname": "vps2"}}


@pytest.mark.parametrize(
    ("address", "chosen", "expected"),
    [("vps1", None, "vps1"), ("203.0.113.5", None, "vps1"), ("elsewhere", "vps1", "vps1"), ("vps1", "twin", "twin")],
)
def test_hosts_are_matched_by_name_ssh_hostname_or_choice(address: str, chosen: str | None, expected: str) -> None:
    assert inventory_host_for(address, INVENTORY_DATA, chosen) == expected


@pytest.mark.parametrize(
    ("address", "chosen", "refusal"),
    [
        ("vps2", None, "2 inventory hosts (vps2, twin) have the name or ssh_hostname 'vps2'"),
        ("vps3", None, "no inventory host has the name or ssh_hostname 'vps3'"),
        ("vps1", "vps9", "--openclaw-host 'vps9' is not a host of the inventory"),
    ],
)
def test_ambiguous_or_unknown_hosts_are_refused(address: str, chosen: str | None, refusal: str) -> None:
    with pytest.raises(SuiteRefused, match="^" + refusal.replace("(", r"\(").replace(")", r"\)")):
        inventory_host_for(address, INVENTORY_DATA, chosen)
