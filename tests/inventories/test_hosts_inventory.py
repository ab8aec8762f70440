"""inventories/hosts.py: the operator's own hosts from a TOML file, validated before pyinfra connects."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from sandbox_hosts import SandboxHost
from tests.helpers import PROJECT_ROOT, PYINFRA

INVENTORY = "inventories/hosts.py"


def pyinfra(hosts_file: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYINFRA, "-y", INVENTORY, *args],
        cwd=PROJECT_ROOT, env={**os.environ, **(env or {}), "OPENCLAW_HOSTS_FILE": str(hosts_file)},
        capture_output=True, text=True, timeout=300, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def test_the_shipped_example_is_valid_once_its_secret_sources_exist(tmp_path: Path) -> None:
    token_file = tmp_path / ".config/openclaw/vm-token"
    token_file.parent.mkdir(parents=True)
    token_file.write_text("vm-token-value\n")
    result = pyinfra(
        PROJECT_ROOT / "inventories/hosts.example.toml",
        "--dry", "deploys/preflight.py",
        env={"HOME": str(tmp_path), "OPENCLAW_GATEWAY_TOKEN": "example-token", "SSH_CONNECT_TIMEOUT": "1"},
    )  # fmt: skip
    printed = result.stdout + result.stderr
    # Validation passed: pyinfra went on to connect (to hosts that do not exist here).
    assert "Loading inventory" in printed and "settings are invalid" not in printed, printed
    assert "Connecting to hosts" in printed


def test_without_its_secret_sources_the_example_is_refused_naming_them(tmp_path: Path) -> None:
    result = pyinfra(
        PROJECT_ROOT / "inventories/hosts.example.toml", "deploys/preflight.py", env={"HOME": str(tmp_path)}
    )
    printed = result.stdout + result.stderr
    assert result.returncode != 0
    assert "host 'vps1.example.net': openclaw_secrets.OPENCLAW_GATEWAY_TOKEN" in printed, printed
    assert "host 'openclaw-vm.local': openclaw_secrets.OPENCLAW_GATEWAY_TOKEN: file" in printed, printed
    assert "Connecting to hosts" not in printed


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no hosts file at"),
        ("[all]\n", "names no host"),
        ('[hosts."a"]\nopenclaw_gateways = [{ port = 80 }]\n', "host 'a': openclaw_gateways[0].port: port 80"),
        ('[hosts."a"]\nopenclaw_servce_user = "x"\n', "openclaw_servce_user is not a setting"),
        ('[groups."a"]\n', "unknown table(s) groups"),
        ("[hosts\n", "cannot be read"),
    ],
)
def test_a_bad_hosts_file_is_refused_before_connecting(tmp_path: Path, content: str | None, expected: str) -> None:
    hosts_file = tmp_path / "hosts.toml"
    if content is not None:
        hosts_file.write_text(content)
    result = pyinfra(hosts_file, "deploys/preflight.py", env={"OPENCLAW_GATEWAY_TOKEN": "t"})
    printed = result.stdout + result.stderr
    assert result.returncode != 0
    assert expected in printed, printed
    assert "Connecting to hosts" not in printed and "Traceback" not in printed, printed


@pytest.mark.sandbox
def test_an_operator_hosts_file_reaches_a_real_host(shared_sandbox_host: SandboxHost, tmp_path: Path) -> None:
    host = shared_sandbox_host
    hosts_file = tmp_path / "hosts.toml"
    hosts_file.write_text(
        "[all.openclaw_secrets]\n"
        'OPENCLAW_GATEWAY_TOKEN = { env = "OPENCLAW_GATEWAY_TOKEN" }\n\n'
        f"[hosts.{toml_string(host.name)}]\n"
        f"ssh_hostname = {toml_string(host.address)}\n"
        'ssh_user = "root"\n'
        f"ssh_key = {toml_string(str(host.ssh_key))}\n"
        f"ssh_known_hosts_file = {toml_string(str(host.known_hosts))}\n"
        'ssh_strict_host_key_checking = "accept-new"\n'
        'openclaw_isolation = "docker-isolation"\n'
    )
    result = pyinfra(hosts_file, "-v", "deploys/preflight.py", env={"OPENCLAW_GATEWAY_TOKEN": "t"})
    printed = result.stdout + result.stderr
    assert result.returncode == 0, printed
    assert "host ready (Linux x86_64, systemd running); planned: docker-isolation" in printed
