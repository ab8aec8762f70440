"""``openclaw-infra drift`` against a deployed sandbox host: each drift named, nothing changed, no secret shown."""

from __future__ import annotations

import collections
import json
import os
import posixpath
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyinfra.api.command import StringCommand
from pyinfra.connectors.ssh import SSHConnector

# Imports pyinfra_cli, which gevent-patches this process: at collection, before any SSH thread runs, as the CLI does.
from openclaw_infra.drift.run import check_inventory
from sandbox_hosts import SandboxHost, mirror_service, network
from tests.conftest import SandboxFactory
from tests.helpers import PROJECT_ROOT, install_project, run_pyinfra

pytestmark = pytest.mark.sandbox

DEPLOY = "deploys/linux_vm.py"
CANARY = "canary-drift-91c4e0-do-not-leak"
CANARY_ENV = {"CANARY_GATEWAY_TOKEN": CANARY}
CANARY_SECRETS = '{"OPENCLAW_GATEWAY_TOKEN": {"env": "CANARY_GATEWAY_TOKEN"}}'
DRIFT = str(Path(sys.executable).parent / "openclaw-infra")
PLAN = "plan: OpenClaw gateway (Linux, systemd) | "


def drift(*hosts: SandboxHost) -> tuple[int, dict[str, object], str]:
    """Run the real command, JSON and table form; returns (exit code, JSON report, all text printed)."""
    env = {
        **os.environ,
        **CANARY_ENV,
        "OPENCLAW_SANDBOX_HOSTS": ",".join(host.name for host in hosts),
        "OPENCLAW_SANDBOX_SECRETS": CANARY_SECRETS,
    }
    as_json = subprocess.run(
        [DRIFT, "drift", "inventories/sandbox.py", DEPLOY, "--json"],
        capture_output=True, text=True, cwd=PROJECT_ROOT, env=env, timeout=600, check=False,
    )  # fmt: skip
    as_table = subprocess.run(
        [DRIFT, "drift", "inventories/sandbox.py", DEPLOY, "--all"],
        capture_output=True, text=True, cwd=PROJECT_ROOT, env=env, timeout=600, check=False,
    )  # fmt: skip
    assert as_json.returncode == as_table.returncode, (as_json.stderr, as_table.stderr)
    printed = as_json.stdout + as_json.stderr + as_table.stdout + as_table.stderr
    return as_json.returncode, json.loads(as_json.stdout), printed


def failing_checks(report: dict[str, object], host: SandboxHost) -> set[str]:
    (entry,) = [entry for entry in report["hosts"] if entry["host"] == host.name]  # type: ignore[attr-defined]
    return {check["check"] for check in entry["checks"] if not check["ok"]}


def redeploy(host: SandboxHost) -> None:
    run_pyinfra([host], DEPLOY, env={**CANARY_ENV, "OPENCLAW_SANDBOX_SECRETS": CANARY_SECRETS})


@pytest.fixture(scope="module")
def deployed_host(sandbox_factory: SandboxFactory) -> Iterator[SandboxHost]:
    (host,) = sandbox_factory.boot(1)
    try:
        redeploy(host)
        yield host
    finally:
        sandbox_factory.release(host)


def test_clean_host_has_no_drift(deployed_host: SandboxHost) -> None:
    code, report, printed = drift(deployed_host)
    assert code == 0, printed
    assert report["summary"] == {"ok": 1, "drift": 0, "unchecked": 0}
    assert CANARY not in printed


SECRETS = "/etc/openclaw/secrets.env"
CONFIG = "/home/openclaw/.openclaw/openclaw.json"
HOME = "/home/openclaw"
UNIT = "openclaw-gateway.service"
DROP_IN = f"/etc/systemd/system/{UNIT}.d/zz.conf"
# A listener that outlives the ssh session that started it.
DETACHED = "(setsid nohup {} </dev/null >/dev/null 2>&1 &)"
DRIFTS = {
    # The rows of issue 9's table: what an intruder or a careless admin changes.
    "a drop-in running the gateway as root without its sandbox, restarted": (
        f"mkdir -p {posixpath.dirname(DROP_IN)}"
        f" && printf '[Service]\\nUser=root\\nNoNewPrivileges=no\\nProtectSystem=no\\n' > {DROP_IN}"
        f" && systemctl daemon-reload && systemctl restart {UNIT} && sleep 15",
        {
            f"effective settings {UNIT}",
            f"drop-ins {UNIT}",
            f"hardening {UNIT}",
            PLAN + "openclaw-gateway: systemd unit",
        },
    ),
    "root-owned files in the state dir, left by a gateway run as root": (
        # Killed rather than restarted: a stop waits for the gateway's drain, which files it cannot write hold up.
        f"chown -R root:root {HOME}/.openclaw/state {HOME}/.openclaw/logs"
        f" && kill -KILL $(systemctl show --property=MainPID --value {UNIT})"
        " && sleep 8",
        {f"owners and modes under {HOME}", PLAN + "Home of openclaw: all openclaw's, closed to others"},
    ),
    "the gateway port opened to everyone (ufw allow 18789/tcp)": (
        "ufw allow 18789/tcp",
        {"firewall rules for the gateway ports", PLAN + "Firewall (ufw)"},
    ),
    "listeners on 0.0.0.0:18790 and 0.0.0.0:18791 (the browser port)": (
        DETACHED.format("nc -lk 18791") + "; " + DETACHED.format("python3 -m http.server 18790 --bind 0.0.0.0")
        + "; sleep 1",
        {"listening :18790-18791 (browser)", PLAN + "Gateway ports: no other process listening beyond loopback"},
    ),
    "a listener on a CDP port": (
        DETACHED.format("nc -lk 18850") + "; sleep 1",
        {"listening :18800-18899 (CDP)", PLAN + "Gateway ports: no other process listening beyond loopback"},
    ),
    "a mode-644 copy of the secrets file in the state dir": (
        f"cp {SECRETS} {HOME}/.openclaw/secrets.env.bak && chmod 644 {HOME}/.openclaw/secrets.env.bak",
        {
            f"copies of {SECRETS} under {HOME}",
            f"owners and modes under {HOME}",
            PLAN + f"openclaw-gateway: no stray copies of its secrets under {HOME}",
            PLAN + "Home of openclaw: all openclaw's, closed to others",
        },
    ),
    # Earlier ones.
    "secrets file mode 644": (
        f"chmod 644 {SECRETS}",
        {f"mode {SECRETS}", PLAN + "openclaw-gateway: secrets file"},
    ),
    "config edited to bind lan": (
        # The gateway reloads its config on change: give it time to move onto the LAN address.
        f'sed -i \'s/"loopback"/"lan"/\' {CONFIG} && sleep 20',
        {"listening :18789", PLAN + "openclaw-gateway: openclaw.json"},
    ),
    "service stopped": (
        "systemctl stop openclaw-gateway",
        {
            "service openclaw-gateway.service",
            "health 127.0.0.1:18789",
            PLAN + "openclaw-gateway: running, enabled at boot",
        },
    ),
    "unit file edited": (
        "sed -i 's/^NoNewPrivileges=yes/NoNewPrivileges=no/' /etc/systemd/system/openclaw-gateway.service",
        {PLAN + "openclaw-gateway: systemd unit"},
    ),
    "an extra member of the docker group (root on the host)": (
        "useradd --create-home intruder && usermod -aG docker intruder",
        {"docker group members", PLAN + "Docker group: only the service users"},
    ),
    "ufw disabled": (
        "ufw disable",
        {"firewall (ufw)", PLAN + "Firewall (ufw)"},
    ),
    "openclaw version changed": (
        'sed -i \'s/"version": "2026.9.6"/"version": "2026.9.5"/\' '
        "/opt/openclaw/lib/node_modules/openclaw/package.json",
        {"openclaw version", PLAN + "OpenClaw 2026.9.6"},
    ),
}


@pytest.mark.parametrize("scenario", list(DRIFTS))
def test_each_drift_is_named_then_redeploy_clears_it(deployed_host: SandboxHost, scenario: str) -> None:
    command, expected = DRIFTS[scenario]
    deployed_host.run(command)
    code, report, printed = drift(deployed_host)
    assert code == 1, printed
    assert expected <= failing_checks(report, deployed_host), printed
    assert CANARY not in printed
    redeploy(deployed_host)
    code, report, printed = drift(deployed_host)
    assert code == 0, printed


def unchecked_beside_a_clean_host(deployed_host: SandboxHost, other: SandboxHost) -> tuple[dict[str, Any], str]:
    """Drift of a clean deployed host and ``other`` in one run, ``other`` unchecked: exit 2 and the clean host still
    fully reported. Returns ``other``'s entry of the report and all text printed."""
    code, report, printed = drift(deployed_host, other)
    assert code == 2, printed
    by_host = {entry["host"]: entry for entry in report["hosts"]}  # type: ignore[attr-defined]
    assert by_host[deployed_host.name]["status"] == "ok"
    assert len(by_host[deployed_host.name]["checks"]) >= 10
    assert by_host[other.name]["status"] == "unchecked" and by_host[other.name]["checks"] == []
    assert "Traceback" not in printed and CANARY not in printed
    return by_host[other.name], printed


def test_unreachable_host_does_not_hide_the_other(deployed_host: SandboxHost, sandbox_factory: SandboxFactory) -> None:
    (stopped,) = sandbox_factory.boot(1)
    veth = network.veth_name(stopped.name)
    subprocess.run(["ip", "link", "set", veth, "down"], check=True)
    try:
        entry, printed = unchecked_beside_a_clean_host(deployed_host, stopped)
    finally:
        sandbox_factory.release(stopped)
    assert entry["error"]
    assert f"{stopped.name}  could not be checked" in printed


def test_a_host_whose_fact_fails_is_unchecked_and_the_other_is_checked(
    deployed_host: SandboxHost, sandbox_factory: SandboxFactory
) -> None:
    (broken,) = sandbox_factory.boot(1)
    try:
        # ss answers only the expected state's ListeningPorts, never the plan: the failure is in the fact checks.
        broken.run("printf '#!/bin/sh\\necho ss: broken for this test >&2\\nexit 1\\n' > /usr/local/bin/ss")
        broken.run("chmod +x /usr/local/bin/ss")
        entry, _ = unchecked_beside_a_clean_host(deployed_host, broken)
    finally:
        sandbox_factory.release(broken)
    assert entry["error"] == "could not load fact: openclaw_infra.facts.ports.ListeningPorts: ss: broken for this test"


PROFILES_INVENTORY = """\
# Sandbox hosts whose plans name the same operations differently: a gateway profile of its own on each.
from openclaw_infra.inventory import checked_hosts
from sandbox_hosts import get_host, mirror_service

hosts = checked_hosts([
    (name, {
        **get_host(name).pyinfra_data(),
        "openclaw_isolation": "linux-vm",
        "openclaw_node": {"tarball_base_url": mirror_service.BASE_URL},
        "openclaw_secrets": {"OPENCLAW_GATEWAY_TOKEN": {"env": "CANARY_GATEWAY_TOKEN"}},
        "openclaw_gateways": [{"profile": profile}],
    })
    for name, profile in %r
])
"""


def test_each_host_is_named_its_own_operations(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    """Planned in one run, the same deploy line is one pyinfra operation for both hosts, holding both hosts' names;
    each host's drift names its own (pyinfra's --json alone prints one of them for both)."""
    plain, work = sandbox_factory.boot(2)
    inventory = tmp_path / "profiles.py"
    inventory.write_text(PROFILES_INVENTORY % [(plain.name, None), (work.name, "work")])
    try:
        result = subprocess.run(
            [DRIFT, "drift", str(inventory), DEPLOY, "--json"],
            capture_output=True, text=True, cwd=PROJECT_ROOT, env={**os.environ, **CANARY_ENV}, timeout=600,
            check=False,
        )  # fmt: skip
    finally:
        sandbox_factory.release(plain, work)
    assert result.returncode == 1, result.stdout + result.stderr
    plans = {
        entry["host"]: [check["check"] for check in entry["checks"] if check["check"].startswith("plan: ")]
        for entry in json.loads(result.stdout)["hosts"]
    }
    # Nothing is deployed: every gateway operation would change both hosts.
    assert PLAN + "openclaw-gateway: openclaw.json" in plans[plain.name]
    assert PLAN + "openclaw-gateway-work: openclaw.json" in plans[work.name]
    assert [check for check in plans[plain.name] if "openclaw-gateway-work" in check] == []
    assert [check for check in plans[work.name] if "openclaw-gateway:" in check] == []


def test_a_drift_run_sends_each_remote_command_once(
    deployed_host: SandboxHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One run for the plan and the expected state: what the plan already asked (modes, versions, ufw, the docker
    group) is not asked again; pyinfra 3 alone would (it keeps no fact cache)."""
    sent: list[tuple[str, str]] = []
    run_shell_command = SSHConnector.run_shell_command

    def counted(connector: SSHConnector, command: StringCommand, *args: Any, **kwargs: Any) -> Any:
        sent.append((connector.host.name, command.get_raw_value() if isinstance(command, StringCommand) else command))
        return run_shell_command(connector, command, *args, **kwargs)

    monkeypatch.setattr(SSHConnector, "run_shell_command", counted)
    monkeypatch.setenv("OPENCLAW_SANDBOX_HOSTS", deployed_host.name)
    monkeypatch.setenv("OPENCLAW_SANDBOX_SECRETS", CANARY_SECRETS)
    for name, value in CANARY_ENV.items():
        monkeypatch.setenv(name, value)
    (result,) = check_inventory(str(PROJECT_ROOT / "inventories/sandbox.py"), [DEPLOY], PROJECT_ROOT)
    assert result.status == "ok", result
    repeated = [command for command, count in collections.Counter(sent).items() if count > 1]
    assert not repeated
    # The expected state's facts the plan did not read: the gateway's health and what listens.
    assert any("curl" in command for _, command in sent) and any("ss -H" in command for _, command in sent)


ON_HOST = "/opt/openclaw-infra"
LOCAL_INVENTORY = """\
# The gateway host checking itself: the drift schedule's own inventory on a sandbox host.
local = [("@local", {
    "openclaw_isolation": "linux-vm",
    "openclaw_node": {"tarball_base_url": %r},
    "openclaw_secrets": {"OPENCLAW_GATEWAY_TOKEN": {"file": "/root/gateway-token"}},
})]
"""


def test_scheduled_real_drift_check_leaves_reports(deployed_host: SandboxHost, tmp_path: Path) -> None:
    """The systemd timer running the real ``openclaw-infra drift`` on a control host (here the gateway host itself,
    over pyinfra's @local): a clean report, then a drifted one that fails the unit."""
    host = deployed_host
    install_project(host, tmp_path, ON_HOST)
    # The same token the deploy installed, readable by root only; the inventory names the file.
    host.run(f"umask 077 && printf %s {shlex.quote(CANARY)} > /root/gateway-token")
    host.run(f"mkdir -p {ON_HOST}/inventories")
    host.run(f"cat > {ON_HOST}/inventories/local.py <<'EOF'\n{LOCAL_INVENTORY % mirror_service.BASE_URL}EOF")
    schedule = {
        "command": [f"{ON_HOST}/.venv/bin/openclaw-infra", "drift", "inventories/local.py", "deploys/linux_vm.py"],
        "working_dir": ON_HOST,
        "keep_reports": 5,
    }
    run_pyinfra([host], "--data", f"openclaw_drift_schedule={json.dumps(schedule)}", "deploys/drift_schedule.py")
    assert host.run("systemctl is-active openclaw-drift.timer").stdout.strip() == "active"

    fired = host.run("systemctl start openclaw-drift.service", check=False, timeout=600)
    evidence = host.run(
        "tail -n 20 /var/lib/openclaw-infra/drift/*.log; cat /var/lib/openclaw-infra/drift/latest.json", check=False
    )
    assert fired.returncode == 0, evidence.stdout + evidence.stderr  # exit 0: no drift, the unit succeeds
    clean = json.loads(host.run("cat /var/lib/openclaw-infra/drift/latest.json").stdout)
    assert clean["exit_code"] == 0 and clean["hosts"][0]["host"] == "@local", clean
    assert len(clean["hosts"][0]["checks"]) >= 10

    host.run("sleep 1 && chmod 644 /etc/openclaw/secrets.env")
    fired = host.run("systemctl start openclaw-drift.service", check=False, timeout=600)
    assert fired.returncode != 0 and "openclaw-drift.service" in host.run("systemctl --failed --plain").stdout
    drifted = json.loads(host.run("cat /var/lib/openclaw-infra/drift/latest.json").stdout)
    assert drifted["exit_code"] == 1
    failing = {check["check"] for check in drifted["hosts"][0]["checks"] if not check["ok"]}
    assert "mode /etc/openclaw/secrets.env" in failing
    reports = host.run("ls /var/lib/openclaw-infra/drift").stdout.split()
    assert len([name for name in reports if name.startswith("drift-") and name.endswith(".json")]) == 2
    assert CANARY not in host.run("cat /var/lib/openclaw-infra/drift/drift-*").stdout
    host.run("chmod 600 /etc/openclaw/secrets.env")


def test_a_rule_admitting_more_than_the_gateway_ports_is_named_and_refused(deployed_host: SandboxHost) -> None:
    """Removing ``ufw allow from <address>`` (every port) could cut its owner off: drift names it, the deploy
    refuses, naming it, and changes nothing; once the operator narrows it, all is well."""
    deployed_host.run("ufw allow from 192.0.2.9")
    try:
        code, report, printed = drift(deployed_host)
        assert code == 1, printed
        failing = failing_checks(report, deployed_host)
        assert {"firewall rules for the gateway ports", "plan: the deploy refuses this host"} <= failing, printed
        refused = run_pyinfra(
            [deployed_host], DEPLOY, env={**CANARY_ENV, "OPENCLAW_SANDBOX_SECRETS": CANARY_SECRETS}, check=False
        )
        assert refused.returncode != 0
        assert "Anywhere ALLOW IN from 192.0.2.9" in refused.stdout + refused.stderr
        assert "192.0.2.9" in deployed_host.run("ufw status").stdout
    finally:
        deployed_host.run("ufw delete allow from 192.0.2.9")
    code, report, printed = drift(deployed_host)
    assert code == 0, printed
