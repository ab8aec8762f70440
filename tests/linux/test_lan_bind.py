"""A gateway bound to the LAN (the guide's "If You Need LAN Access"), proven between real hosts: three sandbox
hosts on one routed network, the gateway on the first with ``gateway_allowed_sources`` naming the second. The
allowed host reaches ``/health`` and is let in by the token; the third host and this machine do not even connect.
The verification and the drift checks accept exactly that exposure, and name a firewall rule an intruder adds to
widen it, which a redeploy takes away."""

from __future__ import annotations

import json
import subprocess

import pytest

from sandbox_hosts import SandboxHost
from sandbox_hosts.hosts import demo_token_path
from tests.conftest import SandboxFactory
from tests.helpers import VERIFIED, changed_operations, run_pyinfra, sandbox_drift, status_with_token

pytestmark = pytest.mark.sandbox

DEPLOY = "deploys/linux_vm.py"
PORT = 18789
FIREWALL_CHECK = "firewall rules for the gateway ports"
# The firewall operation's dry-run plan: it would take the rule away.
FIREWALL_PLAN = "plan: OpenClaw gateway (Linux, systemd) | Firewall (ufw)"


def lan_data(allowed: SandboxHost) -> dict[str, str]:
    data = {
        "openclaw_gateways": [{"bind": "lan"}],
        "openclaw_firewall": {"gateway_allowed_sources": [f"{allowed.address}/32"]},
        "openclaw_docker_sandbox": False,
    }
    return {"OPENCLAW_SANDBOX_DATA": json.dumps(data)}


def drift(gateway: SandboxHost, env: dict[str, str]) -> tuple[int, set[str], str]:
    return sandbox_drift(gateway, DEPLOY, env)


def health_from(client: SandboxHost, gateway: SandboxHost) -> str:
    return client.run(f"curl -s -m 10 http://{gateway.address}:{PORT}/health", check=False).stdout


def test_a_lan_bound_gateway_answers_its_allowed_source_and_no_other(sandbox_factory: SandboxFactory) -> None:
    gateway, client, stranger = sandbox_factory.boot(3, sandbox_images=False)
    try:
        env = lan_data(client)
        first = run_pyinfra([gateway], DEPLOY, env=env)
        assert VERIFIED in first.stdout + first.stderr

        # Where OpenClaw listens with bind lan: every IPv4 address, the gateway's own port only.
        listeners = gateway.run(f"ss -Hltn 'sport = :{PORT}'").stdout.split("\n")
        assert [line.split()[3] for line in listeners if line.strip()] == [f"0.0.0.0:{PORT}"], listeners

        # The allowed source: health, and a request its token lets in (a wrong one is refused).
        token = demo_token_path().read_text().strip()
        assert json.loads(health_from(client, gateway))["ok"] is True
        assert status_with_token(client, PORT, token, gateway.address) not in ("000", "401", "403")
        assert status_with_token(client, PORT, "not-the-token-" + "x" * 32, gateway.address) == "401"
        # Any other source does not connect: another host, and this machine (its end of the host's link).
        assert status_with_token(stranger, PORT, token, gateway.address) == "000"
        from_machine = subprocess.run(
            ["curl", "-s", "-m", "5", f"http://{gateway.address}:{PORT}/health"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert from_machine.returncode != 0 and from_machine.stdout == "", from_machine.stdout

        # That exposure is what the deploy and the drift checks expect: a rerun changes nothing, drift is clean.
        assert changed_operations(run_pyinfra([gateway], "--json", DEPLOY, env=env).stdout) == []
        code, failing, printed = drift(gateway, env)
        assert (code, failing) == (0, set()), printed

        # An intruder widens it: the stranger gets in, and drift names the rule.
        gateway.run(f"ufw allow {PORT}/tcp")
        assert status_with_token(stranger, PORT, token, gateway.address) not in ("000", "401", "403")
        code, failing, printed = drift(gateway, env)
        assert code == 1 and failing == {FIREWALL_CHECK, FIREWALL_PLAN}, printed
        assert f"{PORT}/tcp ALLOW IN from Anywhere" in printed

        # A redeploy takes the rule away; the allowed source still gets in.
        run_pyinfra([gateway], DEPLOY, env=env)
        assert status_with_token(stranger, PORT, token, gateway.address) == "000"
        assert json.loads(health_from(client, gateway))["ok"] is True
        assert drift(gateway, env)[:2] == (0, set())
    finally:
        sandbox_factory.release(gateway, client, stranger)
