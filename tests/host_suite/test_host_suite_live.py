"""The shipped host suite, run as an operator runs it (real pytest, ``--pyargs``, testinfra over real SSH), against
sandbox hosts deployed with deploys/linux_vm.py: a root login over OpenSSH, and a sudo login over paramiko with
``--sudo``. It passes on the deployed hosts and names the check that fails once something is broken."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path

import pytest

from openclaw_infra.host_suite.host_checks import NOT_ROOT
from sandbox_hosts import SandboxHost
from sandbox_hosts.hosts import demo_token_path
from tests.conftest import SandboxFactory
from tests.helpers import PROJECT_ROOT, run_pyinfra
from tests.testinfra_hosts import write_ssh_config

pytestmark = pytest.mark.sandbox

DEPLOY = "deploys/linux_vm.py"
SECRETS = "/etc/openclaw/secrets.env"
# Checks every deployed host of the sandbox inventory has (its settings: one gateway, firewall, Docker sandbox).
ALWAYS_CHECKED = {
    "node version",
    "openclaw version",
    "firewall (ufw)",
    "docker group members",
    "service openclaw-gateway.service",
    "health 127.0.0.1:18789",
    "listening :18789",
    f"mode {SECRETS}",
    f"checksum {SECRETS}",
}


@dataclasses.dataclass(frozen=True)
class Deployed:
    root_login: SandboxHost
    sudo_login: SandboxHost
    ssh_config: Path


@dataclasses.dataclass(frozen=True)
class SuiteRun:
    exit_code: int
    output: str
    # check name -> the failure pytest reported for it (None: passed), for the one host the suite ran against
    checks: dict[str, str | None]


@pytest.fixture(scope="module")
def deployed(sandbox_factory: SandboxFactory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    (root_login,) = sandbox_factory.boot(1)
    (sudo_login,) = sandbox_factory.boot(1, login="sudo-nopasswd")
    try:
        run_pyinfra([root_login, sudo_login], DEPLOY)
        ssh_config = write_ssh_config([root_login, sudo_login], tmp_path_factory.mktemp("ssh") / "config")
        yield Deployed(root_login, sudo_login, ssh_config)
    finally:
        sandbox_factory.release(root_login, sudo_login)


def run_suite(host: SandboxHost, hosts_option: str, ssh_config: Path, tmp_path: Path, *options: str) -> SuiteRun:
    """``pytest --pyargs openclaw_infra.host_suite`` against ``host`` with the inventory it was deployed from."""
    report = tmp_path / f"suite-{len(list(tmp_path.iterdir()))}.xml"
    result = subprocess.run(
        [
            sys.executable, "-m", "pytest", "--pyargs", "openclaw_infra.host_suite", "-p", "no:cacheprovider",
            f"--hosts={hosts_option}", f"--ssh-config={ssh_config}", "--openclaw-inventory=inventories/sandbox.py",
            f"--junitxml={report}", *options,
        ],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600, check=False,
        env={**os.environ, "OPENCLAW_SANDBOX_HOSTS": host.name},
    )  # fmt: skip
    checks: dict[str, str | None] = {}
    for case in ElementTree.parse(report).iter("testcase"):  # noqa: S314 - the report pytest just wrote
        # "test_expected_state[<inventory host>: <check>]"
        test_id = case.attrib["name"].partition("[")[2].removesuffix("]")
        name, _, check = test_id.partition(": ")
        assert name == host.name, test_id
        failure = case.find("failure")
        # JUnit's message of a pytest.fail is "Failed: <reason>".
        checks[check] = None if failure is None else failure.attrib["message"].removeprefix("Failed: ")
    return SuiteRun(result.returncode, result.stdout + result.stderr, checks)


def assert_secret_never_printed(run: SuiteRun) -> None:
    token = demo_token_path().read_text().strip()
    assert token and token not in run.output


def test_suite_passes_on_deployed_hosts(deployed: Deployed, tmp_path: Path) -> None:
    root_run = run_suite(deployed.root_login, f"ssh://{deployed.root_login.address}", deployed.ssh_config, tmp_path)
    sudo_run = run_suite(
        deployed.sudo_login, f"paramiko://{deployed.sudo_login.address}", deployed.ssh_config, tmp_path, "--sudo"
    )
    for run in (root_run, sudo_run):
        assert run.exit_code == 0, run.output
        assert set(run.checks) >= ALWAYS_CHECKED, run.checks
        assert [check for check, failure in run.checks.items() if failure] == []
        assert_secret_never_printed(run)


def test_without_sudo_a_sudo_login_is_refused_not_misread(deployed: Deployed, tmp_path: Path) -> None:
    # As admin, root-only files would read as "missing" and ufw (in sbin) as "not installed".
    run = run_suite(deployed.sudo_login, f"paramiko://{deployed.sudo_login.address}", deployed.ssh_config, tmp_path)
    assert run.exit_code == 1, run.output
    assert run.checks == {"could not be checked": f"{deployed.sudo_login.name} could not be checked: {NOT_ROOT}"}


def test_suite_names_the_check_that_broke(deployed: Deployed, tmp_path: Path) -> None:
    root_login, sudo_login = deployed.root_login, deployed.sudo_login
    root_login.run(f"chmod 644 {SECRETS}")
    sudo_login.run("systemctl stop openclaw-gateway")

    root_run = run_suite(root_login, f"ssh://{root_login.address}", deployed.ssh_config, tmp_path)
    assert root_run.exit_code == 1, root_run.output
    assert root_run.checks[f"mode {SECRETS}"] == (
        f"{root_login.name}: mode {SECRETS}: expected root:root 600, found root:root 644"
    )
    assert root_run.checks["service openclaw-gateway.service"] is None
    failed_item = f"FAILED openclaw_infra/host_suite/test_expected_state.py::test_expected_state[{root_login.name}: "
    assert f"{failed_item}mode {SECRETS}]" in root_run.output

    sudo_run = run_suite(sudo_login, f"paramiko://{sudo_login.address}", deployed.ssh_config, tmp_path, "--sudo")
    assert sudo_run.exit_code == 1, sudo_run.output
    assert sudo_run.checks["service openclaw-gateway.service"] == (
        f"{sudo_login.name}: service openclaw-gateway.service: expected active, found not active"
    )
    assert sudo_run.checks["health 127.0.0.1:18789"] is not None
    assert sudo_run.checks[f"mode {SECRETS}"] is None and sudo_run.checks["node version"] is None
    for run in (root_run, sudo_run):
        assert_secret_never_printed(run)
