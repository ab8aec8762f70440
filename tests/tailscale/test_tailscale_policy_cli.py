"""``openclaw-infra tailscale-policy INVENTORY`` run for real on an inventory file of hosts: the policy printed is the
one the settings need, hosts that need different ones are refused with a pointer to ``--host``, and bad settings
are refused naming the key, all before anything connects to a host (the hosts here do not exist)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import json5

from openclaw_infra.settings import Settings
from openclaw_infra.tailscale_policy import policy_text

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).with_name("openclaw-infra"))
COMMON = """
[all.openclaw_secrets]
OPENCLAW_GATEWAY_TOKEN = { env = "POLICY_TEST_TOKEN" }
"""


def policy_cli(tmp_path: Path, hosts_toml: str, *args: str) -> subprocess.CompletedProcess[str]:
    hosts_file = tmp_path / "hosts.toml"
    hosts_file.write_text(COMMON + hosts_toml)
    return subprocess.run(
        [CLI, "tailscale-policy", "inventories/hosts.py", *args],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "OPENCLAW_HOSTS_FILE": str(hosts_file), "POLICY_TEST_TOKEN": "t" * 40},
    )  # fmt: skip


def expected(**tailscale: object) -> str:
    settings = Settings.model_validate(
        {"tailscale": tailscale, "secrets": {"OPENCLAW_GATEWAY_TOKEN": {"env": "POLICY_TEST_TOKEN"}}}
    )
    return policy_text(settings)


def test_the_hosts_policy_is_printed_as_hujson(tmp_path: Path) -> None:
    result = policy_cli(
        tmp_path,
        """
[hosts."gw1.example.net"]
openclaw_tailscale = { clients = ["group:admins"] }
[hosts."gw2.example.net"]
openclaw_tailscale = { clients = ["group:admins"] }
[hosts."plain.example.net"]
""",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected(clients=["group:admins"]) + "\n"
    assert json5.loads(result.stdout)["grants"][1]["src"] == ["group:admins"]


def test_hosts_needing_different_policies_are_refused_and_one_can_be_printed(tmp_path: Path) -> None:
    hosts = """
[hosts."gw1.example.net"]
openclaw_tailscale = { clients = ["group:admins"] }
[hosts."gw2.example.net"]
openclaw_tailscale = { clients = ["group:ops"], serve_https_port = 443 }
"""
    refused = policy_cli(tmp_path, hosts)
    assert refused.returncode == 2
    assert "gw1.example.net, gw2.example.net need different policies" in refused.stderr
    assert "--host NAME" in refused.stderr and refused.stdout == ""
    one = policy_cli(tmp_path, hosts, "--host", "gw2.example.net")
    assert one.returncode == 0, one.stderr
    assert one.stdout == expected(clients=["group:ops"], serve_https_port=443) + "\n"


def test_no_tailscale_settings_and_bad_settings_are_refused(tmp_path: Path) -> None:
    none = policy_cli(tmp_path, '[hosts."plain.example.net"]\n')
    assert none.returncode == 2
    assert "no host of the inventory has openclaw_tailscale" in none.stderr
    bad = policy_cli(tmp_path, '[hosts."gw1.example.net"]\nopenclaw_tailscale = { clients = ["*"] }\n')
    assert bad.returncode == 2
    assert "openclaw_tailscale.clients" in bad.stderr, bad.stderr
