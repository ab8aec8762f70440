"""Multi-gateway on Linux (issue 12, the multi-gateway guide), live on a sandbox host with the real gateway.

Three gateways deployed together: two profiles of the service user (the default one on 18789, profile wa on 18809)
and one of a second user (bob, profile work on 18829), each with its own token. Then: each healthy and listening
on loopback only, each accepting its own token and refusing the others', neither user able to read the other's
state or secrets, a second run with zero changes, drift clean; then profile wa removed from the settings: its
service, secrets and cron job gone, its state dir kept and archived, the others untouched, a run after that with
zero changes.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sandbox_hosts import SandboxHost
from tests.helpers import PROJECT_ROOT, PYINFRA, VERIFIED, changed_operations, run_pyinfra, status_with_token

pytestmark = pytest.mark.sandbox

DEPLOY = "deploys/linux_vm.py"  # the sandbox inventory says linux-vm: the same systemd deployment
TOKEN = "OPENCLAW_GATEWAY_TOKEN"
# name -> (user, profile, port, its token's environment variable, the token)
GATEWAYS = {
    "openclaw-gateway": ("openclaw", None, 18789, "MG_TOKEN_MAIN", "mg-main-3b1d6f0e"),
    "openclaw-gateway-wa": ("openclaw", "wa", 18809, "MG_TOKEN_WA", "mg-wa-9c2e7a41"),
    "openclaw-gateway-work": ("bob", "work", 18829, "MG_TOKEN_WORK", "mg-work-5f8b2d63"),
}
STATE_DIRS = {
    "openclaw-gateway": "/home/openclaw/.openclaw",
    "openclaw-gateway-wa": "/home/openclaw/.openclaw-wa",
    "openclaw-gateway-work": "/home/bob/.openclaw-work",
}
ENV = {variable: token for _, _, _, variable, token in GATEWAYS.values()}


# The sandbox inventory's data for the host, with the gateways under test: what the drift command reads.
DRIFT_INVENTORY = """\
from openclaw_infra.inventory import checked_hosts
from sandbox_hosts import get_host, mirror_service
from sandbox_hosts.hosts import demo_token_path

hosts = checked_hosts([(%r, {
    **get_host(%r).pyinfra_data(),
    "openclaw_isolation": "linux-vm",
    "openclaw_node": {"tarball_base_url": mirror_service.BASE_URL},
    "openclaw_secrets": {"OPENCLAW_GATEWAY_TOKEN": {"file": str(demo_token_path())}},
    "openclaw_docker_sandbox": False,
    "openclaw_gateways": %s,
})])
"""


def gateways_json(names: list[str]) -> str:
    gateways: list[dict[str, Any]] = []
    for name in names:
        user, profile, port, variable, _ = GATEWAYS[name]
        gateway: dict[str, Any] = {"port": port, "secrets": {TOKEN: {"env": variable}}}
        if profile:
            gateway["profile"] = profile
        if user != "openclaw":
            gateway["user"] = user
        gateways.append(gateway)
    return json.dumps(gateways)


def gateways_data(names: list[str]) -> list[str]:
    # No Docker sandbox: the three gateways are what is under test, and the engine's install is slow.
    return ["--data", f"openclaw_gateways={gateways_json(names)}", "--data", "openclaw_docker_sandbox=false"]


def deploy(host: SandboxHost, names: list[str]) -> subprocess.CompletedProcess[str]:
    return run_pyinfra([host], *gateways_data(names), "--json", DEPLOY, env=ENV)


def readable_by(host: SandboxHost, user: str, path: str) -> bool:
    return host.run(f"runuser -u {user} -- test -r {path}", check=False).returncode == 0


def test_three_gateways_of_two_users_each_its_own_then_one_retired(
    shared_sandbox_host: SandboxHost, tmp_path: Path
) -> None:
    host = shared_sandbox_host
    names = list(GATEWAYS)
    first = deploy(host, names)
    assert first.returncode == 0 and VERIFIED in first.stdout + first.stderr, first.stderr[-4000:]

    for name, (_, _, port, _, token) in GATEWAYS.items():
        health = host.run(f"curl -fsS http://127.0.0.1:{port}/health").stdout
        assert json.loads(health)["ok"] is True, (name, health)
        listeners = host.run(f"ss -Hltn 'sport = :{port}'").stdout.split("\n")
        addresses = {line.split()[3].rpartition(":")[0] for line in listeners if line.strip()}
        assert addresses and addresses <= {"127.0.0.1", "[::1]"}, (name, addresses)
        # Its own token gets past the gateway's auth; every other gateway's is refused.
        own = status_with_token(host, port, token)
        assert own.isdigit() and own not in ("000", "401", "403"), (name, own)  # an answer, past the auth
        for other, (_, _, _, _, other_token) in GATEWAYS.items():
            if other != name:
                assert status_with_token(host, port, other_token) == "401", (name, other)

    # Neither user reads the other's state or any gateway's secrets.
    assert not readable_by(host, "openclaw", f"{STATE_DIRS['openclaw-gateway-work']}/openclaw.json")
    assert not readable_by(host, "bob", f"{STATE_DIRS['openclaw-gateway']}/openclaw.json")
    for user in ("openclaw", "bob"):
        for secrets in ("secrets.env", "secrets-wa.env", "secrets-work.env"):
            assert not readable_by(host, user, f"/etc/openclaw/{secrets}"), (user, secrets)
    # Each profile's git config in its own state dir (the guide's step 5).
    for name, state_dir in STATE_DIRS.items():
        environment = host.run(f"systemctl show -p Environment --value {name}").stdout
        assert f"GIT_CONFIG_GLOBAL={state_dir}/.gitconfig" in environment, (name, environment)

    second = deploy(host, names)
    assert second.returncode == 0 and changed_operations(second.stdout) == [], second.stdout[-3000:]
    inventory = tmp_path / "gateways.py"
    inventory.write_text(DRIFT_INVENTORY % (host.name, host.name, gateways_json(names)))
    drift = subprocess.run(
        [str(Path(PYINFRA).with_name("openclaw-infra")), "drift", str(inventory), DEPLOY, "--json"],
        capture_output=True, text=True, cwd=PROJECT_ROOT, env={**os.environ, **ENV}, timeout=900, check=False,
    )  # fmt: skip
    assert drift.returncode == 0, drift.stdout[-3000:] + drift.stderr[-3000:]
    checked = {check["check"] for report in json.loads(drift.stdout)["hosts"] for check in report["checks"]}
    for name, (_, _, port, _, _) in GATEWAYS.items():
        assert f"service {name}.service" in checked and f"health 127.0.0.1:{port}" in checked, checked

    # Profile wa leaves the settings: retired, its state kept and archived, the others as they were.
    kept = ["openclaw-gateway", "openclaw-gateway-work"]
    main_started = host.run("systemctl show -p InvocationID --value openclaw-gateway").stdout
    retired = deploy(host, kept)
    printed = retired.stdout + retired.stderr
    assert retired.returncode == 0, printed[-4000:]
    assert "openclaw-gateway-wa.service is no longer in the settings" in printed
    assert f"its state dir {STATE_DIRS['openclaw-gateway-wa']} is kept" in printed
    assert host.run("systemctl cat openclaw-gateway-wa.service", check=False).returncode != 0
    assert host.run("ss -Hltn 'sport = :18809'").stdout.strip() == ""
    for gone in (
        "/etc/openclaw/secrets-wa.env",
        "/etc/cron.d/openclaw-gateway-wa",
        "/etc/logrotate.d/openclaw-gateway-wa",
    ):
        assert host.run(f"test -e {gone}", check=False).returncode != 0, gone
    assert host.run(f"test -f {STATE_DIRS['openclaw-gateway-wa']}/openclaw.json", check=False).returncode == 0
    archives = host.run("stat -c '%a %U %n' /var/backups/openclaw-infra /var/backups/openclaw-infra/*").stdout.split(
        "\n"
    )
    assert archives[0].split()[:2] == ["700", "root"], archives
    (archive,) = [line for line in archives[1:] if "openclaw-gateway-wa-" in line]
    assert archive.split()[:2] == ["600", "root"], archive
    listed = host.run(f"tar -tzf {archive.split()[2]}").stdout
    assert ".openclaw-wa/openclaw.json" in listed, listed
    # The gateways still in the settings were not restarted, and a run after that changes nothing.
    assert host.run("systemctl show -p InvocationID --value openclaw-gateway").stdout == main_started
    again = deploy(host, kept)
    assert again.returncode == 0 and changed_operations(again.stdout) == [], again.stdout[-3000:]
