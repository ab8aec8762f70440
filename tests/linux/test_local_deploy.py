"""`pyinfra @local` on the gateway machine itself, the way an operator runs it on a home server or a Mac Mini:
the package installed there, run by the admin user with `--sudo` (root's SSH login refused, as on most images).

The secret comes from a file of the operator's (0600, their own): it must reach the gateway and nowhere else,
never argv, never a file another user can read at any moment; a second run changes and restarts nothing.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest

from sandbox_hosts import SandboxHost, mirror_service
from tests.conftest import SandboxFactory
from tests.helpers import VERIFIED, install_project
from tests.linux.canary import IntruderWatcher, ProcessListWatcher, assert_secret_kept

pytestmark = pytest.mark.sandbox

CANARY = "canary-local-7a2f4e-do-not-leak"
ON_HOST = "/opt/openclaw-infra"
TOKEN_FILE = "/home/admin/.openclaw-token"
DATA = {
    "openclaw_isolation": "linux-vm",
    "openclaw_node": {"tarball_base_url": mirror_service.BASE_URL},
    "openclaw_secrets": {"OPENCLAW_GATEWAY_TOKEN": {"file": TOKEN_FILE}},
}


def as_admin(host: SandboxHost, *pyinfra_args: str) -> subprocess.CompletedProcess[str]:
    """`pyinfra @local --sudo …` run by the admin user in a login shell on the host, from the project dir."""
    data = [word for key, value in DATA.items() for word in ("--data", f"{key}={json.dumps(value)}")]
    command = shlex.join([f"{ON_HOST}/.venv/bin/pyinfra", "@local", "--sudo", *data, *pyinfra_args])
    return subprocess.run(
        [*host.ssh_args(), f"cd {ON_HOST} && {command}"],
        capture_output=True, text=True, timeout=1200, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_local_deploy_by_a_sudo_user(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    (host,) = sandbox_factory.boot(1, login="sudo-nopasswd")
    try:
        install_project(host, tmp_path, ON_HOST)
        host.run(f"umask 077 && printf %s {shlex.quote(CANARY)} > {TOKEN_FILE} && chown admin:admin {TOKEN_FILE}")

        with IntruderWatcher(host) as intruder, ProcessListWatcher(host) as watcher:
            first = as_admin(host, "-y", "deploys/linux_vm.py")
        printed = first.stdout + first.stderr
        assert first.returncode == 0, printed[-5000:]
        assert VERIFIED in printed
        assert host.run("systemctl is-active openclaw-gateway").stdout.strip() == "active"
        assert intruder.copies_holding(CANARY) == []
        assert_secret_kept(host, CANARY, printed, watcher.samples, owners=frozenset({"root", "openclaw", "admin"}))
        assert host.run("test -e /home/admin/.openclaw-infra-upload", check=False).returncode == 1

        before = host.run("systemctl show -p InvocationID --value openclaw-gateway").stdout.strip()
        plan = as_admin(host, "--dry", "--json", "deploys/linux_vm.py")
        assert plan.returncode == 0, plan.stderr[-3000:]
        assert [op["name"] for op in json.loads(plan.stdout)["plan"] if op.get("hosts_with_change")] == []
        again = as_admin(host, "-y", "deploys/linux_vm.py")
        assert again.returncode == 0 and CANARY not in again.stdout + again.stderr
        assert host.run("systemctl show -p InvocationID --value openclaw-gateway").stdout.strip() == before
    finally:
        sandbox_factory.release(host)
