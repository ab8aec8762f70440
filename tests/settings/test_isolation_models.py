"""Each isolation model runs its own deploy or is refused before any operation, naming the deploy that implements it."""

from __future__ import annotations

import os
import subprocess

import pytest

from openclaw_infra.host_settings import settings_for_host
from openclaw_infra.isolation import DEPLOY_OF, refusal
from tests.helpers import PROJECT_ROOT, PYINFRA

TOKEN = {"OPENCLAW_GATEWAY_TOKEN": {"env": "TEST_OPENCLAW_TOKEN"}}
DEPLOY_FILES = sorted({deploy for deploy in DEPLOY_OF.values() if deploy})


@pytest.fixture(autouse=True)
def _token_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_OPENCLAW_TOKEN", "tok-abc-123")


def test_every_deploy_file_in_the_table_exists() -> None:
    assert DEPLOY_FILES == [
        "deploys/docker_containerized.py",
        "deploys/docker_isolation.py",
        "deploys/linux_vm.py",
        "deploys/macos_host.py",
    ]
    for deploy in DEPLOY_FILES:
        assert (PROJECT_ROOT / deploy).is_file()


@pytest.mark.parametrize(("model", "implementer"), sorted(DEPLOY_OF.items()))
@pytest.mark.parametrize("deploy_file", DEPLOY_FILES)
def test_a_deploy_runs_only_its_own_model(model: tuple[str, str], implementer: str | None, deploy_file: str) -> None:
    isolation, os_family = model
    # A containerized gateway has no per-agent sandboxes: the settings refuse the default of true.
    sandbox = {"openclaw_docker_sandbox": False} if isolation == "docker-containerized" else {}
    settings = settings_for_host(
        "h", {"openclaw_secrets": TOKEN, "openclaw_isolation": isolation, "openclaw_os_family": os_family, **sandbox}
    ).settings
    reason = refusal(settings, (deploy_file,))
    if implementer == deploy_file:
        assert reason is None
    elif implementer is None:
        assert reason is not None and "no deploy of this project implements it yet" in reason
    else:
        assert reason is not None and f"Fix: run {implementer}" in reason


@pytest.mark.parametrize(
    ("isolation", "os_family", "fix"),
    [("linux-vm", "macos", "set openclaw_os_family to 'linux'"), ("macos-vm", "linux", "to 'macos'")],
)
def test_a_model_and_os_family_that_contradict_each_other_are_refused(isolation: str, os_family: str, fix: str) -> None:
    settings = settings_for_host(
        "h", {"openclaw_secrets": TOKEN, "openclaw_isolation": isolation, "openclaw_os_family": os_family}
    ).settings
    for deploy_file in DEPLOY_FILES:
        assert fix in (refusal(settings, (deploy_file,)) or "")


def pyinfra_local(deploy: str, *data: str) -> subprocess.CompletedProcess[str]:
    """The real CLI against @local: if the refusal came after any operation, this machine would be changed."""
    words = [word for pair in data for word in ("--data", pair)]
    return subprocess.run(
        [PYINFRA, "-y", "@local", *words, "--data", f"openclaw_secrets={TOKEN}".replace("'", '"'), deploy],
        cwd=PROJECT_ROOT, env=os.environ, capture_output=True, text=True, timeout=120, check=False,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("deploy", "data", "expected"),
    [
        (
            "deploys/linux_vm.py",
            ["openclaw_isolation=docker-isolation"],
            "'docker-isolation' with openclaw_os_family 'linux' is not what deploys/linux_vm.py deploys. "
            "Fix: run deploys/docker_isolation.py",
        ),
        (
            "deploys/docker_isolation.py",
            ["openclaw_isolation=macos-vm", "openclaw_os_family=macos"],
            "'macos-vm' with openclaw_os_family 'macos' is not what deploys/docker_isolation.py deploys. "
            "Fix: run deploys/macos_host.py",
        ),
        (
            "deploys/docker_isolation.py",
            ["openclaw_os_family=macos"],
            "'docker-isolation' with openclaw_os_family 'macos' is not what deploys/docker_isolation.py deploys. "
            "Fix: run deploys/macos_host.py",
        ),
        (
            "deploys/macos_host.py",
            ["openclaw_isolation=linux-vm"],
            "'linux-vm' with openclaw_os_family 'linux' is not what deploys/macos_host.py deploys. "
            "Fix: run deploys/linux_vm.py",
        ),
        (
            "deploys/linux_vm.py",
            ["openclaw_isolation=docker-containerized", "openclaw_docker_sandbox=false"],
            "Fix: run deploys/docker_containerized.py",
        ),
        (
            "deploys/docker_containerized.py",
            ["openclaw_isolation=docker-containerized", "openclaw_docker_sandbox=false", "openclaw_os_family=macos"],
            "implements it yet",
        ),
        (
            "deploys/docker_containerized.py",
            ["openclaw_isolation=docker-containerized"],
            "set openclaw_docker_sandbox to false",
        ),
    ],
)
def test_the_cli_refuses_before_any_operation(deploy: str, data: list[str], expected: str) -> None:
    result = pyinfra_local(deploy, *data)
    printed = result.stdout + result.stderr
    assert result.returncode != 0, printed
    assert "nothing was changed on any host" in printed and expected in printed, printed
    assert "host '@local'" in printed
    assert "Starting operation" not in printed and "Traceback" not in printed, printed
