"""The Linux deploy over a non-root SSH login with sudo, the way most VPS and cloud images are reached.

Each host's only SSH login is ``admin`` (root's is refused), with passwordless sudo or sudo that asks for a
password (pyinfra's ``_sudo_password``). The deploy must verify, keep the canary secret out of output, argv and
every file another user could read (the upload staging included), change nothing on a second run, and the drift
checks must read the host through the same login.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox_hosts import SandboxHost
from tests.conftest import SandboxFactory
from tests.helpers import PROJECT_ROOT, VERIFIED, run_pyinfra
from tests.linux.canary import IntruderWatcher, ProcessListWatcher, assert_secret_kept

pytestmark = pytest.mark.sandbox

DEPLOY = "deploys/linux_vm.py"
CANARY = "canary-sudo-5d81a7-do-not-leak"
SECRETS = '{"OPENCLAW_GATEWAY_TOKEN": {"env": "CANARY_GATEWAY_TOKEN"}}'
ENV = {"CANARY_GATEWAY_TOKEN": CANARY, "OPENCLAW_SANDBOX_SECRETS": SECRETS}
DRIFT = str(Path(sys.executable).parent / "openclaw-infra")


@dataclasses.dataclass(frozen=True)
class Deployed:
    host: SandboxHost
    output: str
    process_samples: list[str]
    # Files another user (nobody) managed to read during the deploy that held the canary.
    intruder_copies: list[str]


@pytest.fixture(scope="module", params=["sudo-nopasswd", "sudo-password"])
def deployed(request: pytest.FixtureRequest, sandbox_factory: SandboxFactory) -> Iterator[Deployed]:
    (host,) = sandbox_factory.boot(1, login=request.param)
    try:
        with IntruderWatcher(host) as intruder, ProcessListWatcher(host) as watcher:
            result = run_pyinfra([host], DEPLOY, env=ENV)
        yield Deployed(host, result.stdout + result.stderr, watcher.samples, intruder.copies_holding(CANARY))
    finally:
        sandbox_factory.release(host)


def ssh_as(host: SandboxHost, user: str, command: str) -> subprocess.CompletedProcess[str]:
    args = [word.replace(f"{host.login_user}@", f"{user}@") for word in host.ssh_args()]
    return subprocess.run([*args, command], capture_output=True, text=True, timeout=60, check=False)


def test_only_the_sudo_user_may_log_in(deployed: Deployed) -> None:
    host = deployed.host
    assert ssh_as(host, "root", "true").returncode != 0
    assert ssh_as(host, "admin", "id -un").stdout.strip() == "admin"
    passwordless = ssh_as(host, "admin", "sudo -n true").returncode == 0
    assert passwordless == (host.login == "sudo-nopasswd")


def test_deploy_is_verified_through_sudo(deployed: Deployed) -> None:
    host = deployed.host
    assert VERIFIED in deployed.output
    assert host.run("systemctl is-active openclaw-gateway").stdout.strip() == "active"
    health = json.loads(host.run("curl -sS http://127.0.0.1:18789/health").stdout)
    assert health["ok"] is True
    assert host.run("stat -c '%U:%G %a' /etc/openclaw/secrets.env").stdout.strip() == "root:root 600"


def test_secret_never_leaks_and_nothing_is_left_in_the_login_home(deployed: Deployed) -> None:
    host = deployed.host
    assert deployed.intruder_copies == [], "another user read the secret while the deploy staged it"
    assert_secret_kept(host, CANARY, deployed.output, deployed.process_samples, owners=frozenset({"root", "openclaw"}))
    # The private upload directory of the login user is gone (and no copy anywhere: checked above).
    assert host.run("test -e /home/admin/.openclaw-infra-upload", check=False).returncode == 1


def test_second_run_changes_nothing(deployed: Deployed) -> None:
    host = deployed.host
    before = host.run("systemctl show -p InvocationID --value openclaw-gateway").stdout.strip()
    plan = json.loads(run_pyinfra([host], "--dry", "--json", DEPLOY, env=ENV).stdout)["plan"]
    assert [operation["name"] for operation in plan if operation.get("hosts_with_change")] == []
    rerun = run_pyinfra([host], DEPLOY, env=ENV)
    assert CANARY not in rerun.stdout + rerun.stderr
    assert host.run("systemctl show -p InvocationID --value openclaw-gateway").stdout.strip() == before


def test_drift_checks_read_the_host_through_sudo(deployed: Deployed) -> None:
    host = deployed.host
    env = {**os.environ, **ENV, "OPENCLAW_SANDBOX_HOSTS": host.name}
    clean = subprocess.run(
        [DRIFT, "drift", "inventories/sandbox.py", DEPLOY, "--json"],
        capture_output=True, text=True, cwd=PROJECT_ROOT, env=env, timeout=600, check=False,
    )  # fmt: skip
    assert clean.returncode == 0, clean.stdout + clean.stderr
    host.run("chmod 644 /etc/openclaw/secrets.env")
    try:
        drifted = subprocess.run(
            [DRIFT, "drift", "inventories/sandbox.py", DEPLOY, "--json"],
            capture_output=True, text=True, cwd=PROJECT_ROOT, env=env, timeout=600, check=False,
        )  # fmt: skip
        assert drifted.returncode == 1, drifted.stdout + drifted.stderr
        (entry,) = json.loads(drifted.stdout)["hosts"]
        failing = {check["check"] for check in entry["checks"] if not check["ok"]}
        assert "mode /etc/openclaw/secrets.env" in failing
        assert CANARY not in drifted.stdout + drifted.stderr
    finally:
        run_pyinfra([host], DEPLOY, env=ENV)
