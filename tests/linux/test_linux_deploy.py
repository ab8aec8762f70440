"""deploys/linux_vm.py end to end on a real sandbox host, with the real OpenClaw gateway.

One host is deployed once for the module (the OpenClaw install is the slow part); the tests then run in order
against it: verification, idempotency, firewall, secrets, a port change.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import shlex
import time
from collections.abc import Iterator

import pytest
from testinfra.host import Host

from openclaw_infra.operations.service_account import NOLOGIN
from sandbox_hosts import SandboxHost
from tests.conftest import SandboxFactory
from tests.helpers import VERIFIED, fact_json, run_pyinfra
from tests.linux.canary import ProcessListWatcher, assert_secret_kept
from tests.testinfra_hosts import as_testinfra_host, write_ssh_config

pytestmark = pytest.mark.sandbox

DEPLOY = "deploys/linux_vm.py"
CANARY = "canary-7f3e9c1d-do-not-leak-4b2a"
SERVICE = "openclaw-gateway"
PORT = 18789
LOGS = "/home/openclaw/.openclaw/logs"
CANARY_ENV = {"CANARY_GATEWAY_TOKEN": CANARY}
CANARY_DATA = ["--data", 'openclaw_secrets={"OPENCLAW_GATEWAY_TOKEN": {"env": "CANARY_GATEWAY_TOKEN"}}']


def invocation_id(host: SandboxHost) -> str:
    return host.run(f"systemctl show -p InvocationID --value {SERVICE}").stdout.strip()


def deploy(host: SandboxHost, *args: str, env: dict[str, str] | None = None) -> str:
    result = run_pyinfra([host], *CANARY_DATA, *args, DEPLOY, env={**CANARY_ENV, **(env or {})})
    return result.stdout + result.stderr


@dataclasses.dataclass(frozen=True)
class Deployed:
    host: SandboxHost
    # pyinfra's stdout and stderr of the first deploy, and the host's process list sampled while it ran
    output: str
    process_samples: list[str]


@pytest.fixture(scope="module")
def deployed(sandbox_factory: SandboxFactory) -> Iterator[Deployed]:
    (host,) = sandbox_factory.boot(1)
    try:
        with ProcessListWatcher(host) as watcher:
            output = deploy(host, "--json")
        yield Deployed(host, output, watcher.samples)
    finally:
        sandbox_factory.release(host)


@pytest.fixture(scope="module")
def testinfra_host(deployed: Deployed, tmp_path_factory: pytest.TempPathFactory) -> Host:
    """The deployed host as testinfra reaches it (paramiko over its SSH login), for assertions on its files,
    service, sockets and users."""
    ssh_config = write_ssh_config([deployed.host], tmp_path_factory.mktemp("ssh") / "config")
    return as_testinfra_host(deployed.host, ssh_config)


def listening_on(testinfra_host: Host, port: int) -> list[str]:
    """Every TCP/UDP socket listening on ``port``, as testinfra names them (``tcp://127.0.0.1:18789``)."""
    sockets = testinfra_host.socket.get_listening_sockets()
    return [socket for socket in sockets if not socket.startswith("unix:") and socket.rsplit(":", 1)[1] == str(port)]


def is_loopback(socket: str) -> bool:
    address = socket.split("://", 1)[1].rsplit(":", 1)[0].split("%", 1)[0]
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:  # "*": every address
        return False


def test_fresh_deploy_is_verified(deployed: Deployed, testinfra_host: Host) -> None:
    host, output = deployed.host, deployed.output
    assert VERIFIED in output
    service = testinfra_host.service(SERVICE)
    assert service.is_running and service.is_enabled
    health = json.loads(host.run(f"curl -sS http://127.0.0.1:{PORT}/health").stdout)
    assert health["ok"] is True
    # Read with testinfra's own ss parsing, not the ListeningPorts fact the deploy's verification itself uses.
    listeners = listening_on(testinfra_host, PORT)
    assert listeners and all(is_loopback(socket) for socket in listeners), listeners
    owners_and_modes = {
        "/home/openclaw": ("openclaw", "openclaw", 0o700),
        "/home/openclaw/.openclaw": ("openclaw", "openclaw", 0o700),
        "/home/openclaw/.openclaw/openclaw.json": ("openclaw", "openclaw", 0o600),
        "/etc/openclaw": ("root", "root", 0o700),
        "/etc/openclaw/secrets.env": ("root", "root", 0o600),
    }
    found = {path: testinfra_host.file(path) for path in owners_and_modes}
    assert {path: (file.user, file.group, file.mode) for path, file in found.items()} == owners_and_modes
    account = testinfra_host.user("openclaw")
    assert (account.home, account.shell) == ("/home/openclaw", NOLOGIN)
    assert account.password.startswith(("!", "*")), "the service user must have no usable password"
    assert "docker" in account.groups  # the Docker sandbox is on by default
    assert host.run("/opt/node/bin/node --version").stdout.strip() == "v24.21.0"
    assert (
        "2026.9.6"
        in host.run("/opt/openclaw/bin/openclaw --version 2>&1 || true").stdout
        + host.run("PATH=/opt/node/bin:$PATH /opt/openclaw/bin/openclaw --version").stdout
    )


def test_security_audit_has_no_critical_finding(deployed: Deployed) -> None:
    host = deployed.host
    # As the service runs it: its user, its state dir and its secrets in the environment (sourced by the shell,
    # so the token is never an argument), from a directory the user may enter.
    audit = host.run(
        "cd / && set -a && . /etc/openclaw/secrets.env && set +a && "
        "runuser -u openclaw -- env PATH=/opt/node/bin:/usr/bin:/bin HOME=/home/openclaw "
        "OPENCLAW_STATE_DIR=/home/openclaw/.openclaw /opt/openclaw/bin/openclaw security audit --json",
        timeout=120,
    ).stdout
    report = json.loads(audit[audit.index("{") :])
    critical = [finding for finding in report["findings"] if finding.get("severity") == "critical"]
    assert report["summary"]["critical"] == 0 and critical == [], report


def planned_changes(host: SandboxHost, *args: str) -> list[str]:
    plan = json.loads(run_pyinfra([host], *CANARY_DATA, *args, "--dry", "--json", DEPLOY, env=CANARY_ENV).stdout)
    return [op["name"] for op in plan["plan"] if op.get("hosts_with_change")]


def test_second_run_changes_nothing(deployed: Deployed, testinfra_host: Host) -> None:
    host = deployed.host
    before = invocation_id(host)
    assert planned_changes(host) == []
    # The plan can see drift: a changed mode on one managed file is named, and only that operation.
    host.run("chmod 600 /etc/logrotate.d/openclaw-gateway")
    assert planned_changes(host) == ["OpenClaw gateway (Linux, systemd) | openclaw-gateway: log rotation"]
    # A real run repairs it without restarting the gateway, and the next plan is clean again.
    deploy(host)
    assert testinfra_host.file("/etc/logrotate.d/openclaw-gateway").mode == 0o644
    assert invocation_id(host) == before
    assert planned_changes(host) == []


def test_new_ssh_connection_after_firewall(deployed: Deployed) -> None:
    host = deployed.host
    status = fact_json(host, "ufw.UfwStatus")
    assert status["active"] and status["default_incoming"] == "deny" and status["default_outgoing"] == "allow"
    # every host.run is a new SSH connection
    assert host.run("echo new-connection").stdout.strip() == "new-connection"


def test_canary_secret_never_leaks(deployed: Deployed) -> None:
    assert_secret_kept(
        deployed.host, CANARY, deployed.output, deployed.process_samples, owners=frozenset({"root", "openclaw"})
    )


def test_port_change_restarts_once_and_health_follows(deployed: Deployed, testinfra_host: Host) -> None:
    host = deployed.host
    host.run("journalctl --rotate >/dev/null 2>&1; true")
    since = host.run("date '+%Y-%m-%d %H:%M:%S'").stdout.strip()
    time.sleep(1)
    new_port = ["--data", 'openclaw_gateways=[{"port": 18889}]']
    deploy(host, *new_port)
    starts = host.run(f"journalctl -u {SERVICE} --since '{since}' -o cat | grep -c '^Started ' || true").stdout
    assert starts.strip() == "1", starts
    assert json.loads(host.run("curl -sS http://127.0.0.1:18889/health").stdout)["ok"] is True
    assert listening_on(testinfra_host, PORT) == []
    # and back, so the module's host ends as it began
    before = invocation_id(host)
    deploy(host)
    assert invocation_id(host) != before
    assert os.environ.get("CANARY_GATEWAY_TOKEN") is None  # the canary only ever lived in the child's env


def test_log_rotation_rotates_as_the_service_user(deployed: Deployed, testinfra_host: Host) -> None:
    deployed.host.run("logrotate --force /etc/logrotate.d/openclaw-gateway")
    rotated = [name for name in testinfra_host.file(LOGS).listdir() if name.startswith("gateway.log.1")]
    assert rotated
    for name in ["gateway.log", *rotated]:
        log = testinfra_host.file(f"{LOGS}/{name}")
        assert (name, log.user, log.mode) == (name, "openclaw", 0o600)


def test_transcript_pruning_job_runs(deployed: Deployed, testinfra_host: Host) -> None:
    host = deployed.host
    cron_line = next(
        line
        for line in testinfra_host.file("/etc/cron.d/openclaw-gateway").content_string.splitlines()
        if line and not line.startswith(("#", "SHELL=", "PATH="))
    )
    fields = cron_line.split(None, 6)
    assert fields[:5] == ["0", "4", "*", "*", "*"] and fields[5] == "openclaw"
    # What cron would run, as cron would run it: that user, the file's PATH, /bin/sh; an old archived
    # transcript must go, a fresh one stay.
    host.run(
        "install -d -o openclaw -g openclaw -m 700 /home/openclaw/.openclaw/agents /home/openclaw/.openclaw/agents/main"
        " /home/openclaw/.openclaw/agents/main/sessions && cd /tmp && umask 077 && "
        "runuser -u openclaw -- touch -d '40 days ago' /home/openclaw/.openclaw/agents/main/sessions/old.jsonl && "
        "runuser -u openclaw -- touch /home/openclaw/.openclaw/agents/main/sessions/new.jsonl"
    )
    command = fields[6].replace(">/dev/null 2>&1", "")
    result = host.run(
        f"cd / && runuser -u openclaw -- env PATH=/opt/node/bin:/usr/bin:/bin sh -c {shlex.quote(command)}"
    )
    assert result.returncode == 0
    assert testinfra_host.file("/home/openclaw/.openclaw/agents/main/sessions").listdir() == ["new.jsonl"]
