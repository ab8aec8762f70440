"""The local admin agent (the guide's "Optional: Local Admin Agent") on a real gateway: the deploy writes it into the
config, the real OpenClaw starts with it and lists it beside main (main the default, the admin agent bound to no
channel), its directories are the gateway user's alone, and its gateway's port is admitted by no firewall rule
although the firewall admits other sources: a rule an intruder adds for it is drift, and a redeploy removes it.

The same host's OpenClaw also judges the configs the deploy renders for Signal (which cannot be installed or linked
here): ``openclaw config validate`` of 2026.9.6 accepts them, beside the admin agent, and refuses the guide's own
layout of the channel."""

from __future__ import annotations

import json
from typing import Any

import pytest

from openclaw_infra.operations.gateway_config import content_for
from openclaw_infra.settings import Settings
from sandbox_hosts import SandboxHost
from tests.conftest import SandboxFactory
from tests.helpers import VERIFIED, changed_operations, run_pyinfra, sandbox_drift

pytestmark = pytest.mark.sandbox

DEPLOY = "deploys/linux_vm.py"
STATE = "/home/openclaw/.openclaw"
ALLOWED = "192.0.2.0/24"
FIREWALL_CHECK = "firewall rules for the local admin agent's gateway ports 18789-18899"
FIREWALL_PLAN = "plan: OpenClaw gateway (Linux, systemd) | Firewall (ufw)"


def admin_data() -> dict[str, str]:
    data = {
        "openclaw_local_admin_agent": {"shared_workspace": False},
        "openclaw_firewall": {"gateway_allowed_sources": [ALLOWED]},
        "openclaw_docker_sandbox": False,
    }
    return {"OPENCLAW_SANDBOX_DATA": json.dumps(data)}


def openclaw_as_gateway_user(
    gateway: SandboxHost, *words: str, config: str = f"{STATE}/openclaw.json", check: bool = True
) -> str:
    """The installed OpenClaw's CLI as the gateway's user on ``config`` (these commands read it, no gateway call:
    the token is only a placeholder)."""
    return gateway.run(
        f"cd {STATE} && runuser -u openclaw -- env HOME=/home/openclaw OPENCLAW_STATE_DIR={STATE} "
        f"OPENCLAW_CONFIG_PATH={config} OPENCLAW_GATEWAY_TOKEN=placeholder "
        f"PATH=/opt/node/bin:/usr/bin:/bin /opt/openclaw/bin/openclaw {' '.join(words)}",
        check=check,
    ).stdout


def validation_issues(gateway: SandboxHost, config: dict[str, Any]) -> list[dict[str, Any]]:
    """What the host's OpenClaw says of ``config`` (written beside the real one, no secret in it): its issues, none
    when it is valid."""
    path = "/tmp/openclaw-validate.json"
    gateway.run(f"cat > {path} <<'EOF'\n{json.dumps(config)}\nEOF\nchmod 644 {path}")
    answer = json.loads(openclaw_as_gateway_user(gateway, "config validate --json", config=path, check=False))
    issues: list[dict[str, Any]] = [] if answer["valid"] else answer["issues"]
    return issues


def signal_configs() -> list[dict[str, Any]]:
    """The carrying gateway's openclaw.json for Signal, with and without an owner, the admin agent beside it."""
    configs = []
    for owner in ({"owner": "+46700000001"}, {}):
        model = Settings.model_validate(
            {
                "secrets": {"OPENCLAW_GATEWAY_TOKEN": {"env": "UNUSED"}},
                "docker_sandbox": False,
                "signal": {"account": "+46701234567", "allow_from": ["+46700000002"], **owner},
                "local_admin_agent": {},
            }
        )
        configs.append(json.loads(content_for(model, model.gateways[0])))
    return configs


def test_the_admin_agent_is_listed_beside_main_and_its_port_stays_local(sandbox_factory: SandboxFactory) -> None:
    (gateway,) = sandbox_factory.boot(1, sandbox_images=False)
    try:
        env = admin_data()
        first = run_pyinfra([gateway], DEPLOY, env=env)
        assert VERIFIED in first.stdout + first.stderr

        agents = {agent["id"]: agent for agent in json.loads(openclaw_as_gateway_user(gateway, "agents list --json"))}
        assert sorted(agents) == ["local-admin", "main"]
        # main keeps the workspace it had as the sole agent, and stays the default; the admin agent has its own.
        assert (agents["main"]["workspace"], agents["main"]["isDefault"]) == (f"{STATE}/workspace", True)
        admin = agents["local-admin"]
        assert (admin["isDefault"], admin["bindings"]) == (False, 0)
        assert admin["workspace"] == f"{STATE}/workspaces/local-admin"
        bindings = json.loads(openclaw_as_gateway_user(gateway, "agents bindings --json"))
        assert [binding for binding in bindings if binding.get("agentId") == "local-admin"] == []
        modes = gateway.run(f"stat -c '%U:%G %a' {admin['agentDir']} {admin['workspace']}").stdout.split("\n")
        assert [line for line in modes if line] == ["openclaw:openclaw 700"] * 2

        # The firewall is up with sources allowed, yet no rule admits this gateway's port (without the agent the
        # deploy would admit 192.0.2.0/24 to it).
        rules = gateway.run("ufw status").stdout
        assert "Status: active" in rules and "18789" not in rules, rules
        assert changed_operations(run_pyinfra([gateway], "--json", DEPLOY, env=env).stdout) == []
        assert sandbox_drift(gateway, DEPLOY, env)[:2] == (0, set())

        # An intruder admits an allowed source to the port: drift names it, a redeploy removes it.
        gateway.run("ufw allow from 192.0.2.9 to any port 18789 proto tcp")
        code, failing, printed = sandbox_drift(gateway, DEPLOY, env)
        assert code == 1 and failing == {FIREWALL_CHECK, FIREWALL_PLAN}, printed
        run_pyinfra([gateway], DEPLOY, env=env)
        assert "18789" not in gateway.run("ufw status").stdout
        assert sandbox_drift(gateway, DEPLOY, env)[:2] == (0, set())

        # Signal's channel as the deploy writes it passes 2026.9.6's own check; the guide's flat cliPath does not
        # (2026.9.6 moved it under transport), so the check is the schema's.
        with_owner, without_owner = signal_configs()
        assert with_owner["bindings"] == [{"agentId": "main", "match": {"accountId": "*", "channel": "signal"}}]
        assert validation_issues(gateway, with_owner) == []
        assert validation_issues(gateway, without_owner) == []
        with_owner["channels"]["signal"]["cliPath"] = "/opt/signal-cli/current/bin/signal-cli"
        issues = validation_issues(gateway, with_owner)
        assert [issue["path"] for issue in issues] == ["channels.signal"] and "cliPath" in issues[0]["message"]
    finally:
        sandbox_factory.release(gateway)
