"""The lifecycle deploys' inputs: the backups settings, the one-off requests (--data), archive names, and where a
rotated secret is stored on the control machine. Refused with the field and the fix; written private."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pyinfra.api.hiddenvalue import HiddenValue

from openclaw_infra.host_settings import SettingsError, settings_for_host
from openclaw_infra.operations import gateway_backup, secret_sources
from openclaw_infra.secret_sources import new_gateway_secret, read_secret, write_private_file
from openclaw_infra.settings import SecretSource
from tests.helpers import PROJECT_ROOT

TOKEN = {"OPENCLAW_GATEWAY_TOKEN": {"env": "TEST_OPENCLAW_TOKEN"}}


@pytest.fixture(autouse=True)
def _token_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_OPENCLAW_TOKEN", "tok-abc-123")


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        settings_for_host("gw1", {"openclaw_secrets": TOKEN, **data})
    return caught.value.problems


@pytest.mark.parametrize(
    ("directory", "why"),
    [
        ("/var/backups", "a directory the system shares"),
        ("/srv", "a directory the system shares"),
        ("/etc/openclaw-backups", "in /etc, which the operating system owns"),
        ("/home/openclaw/backups", "is, or is nested with, the home of user 'openclaw' (/home/openclaw)"),
        ("/opt/openclaw/backups", "is, or is nested with, openclaw_openclaw.prefix (/opt/openclaw)"),
    ],
)
def test_a_backups_directory_that_would_harm_the_host_is_refused(directory: str, why: str) -> None:
    (problem,) = problems({"openclaw_backups": {"directory": directory}})
    assert problem.startswith("host 'gw1': openclaw_backups.directory:"), problem
    assert why in problem and "Fix: use a directory of its own for them" in problem, problem


def test_backups_keep_at_least_one() -> None:
    (problem,) = problems({"openclaw_backups": {"keep": 0}})
    assert "openclaw_backups.keep" in problem


def test_a_lifecycle_request_is_not_a_typo_but_a_misspelt_one_is() -> None:
    settings_for_host(
        "gw1", {"openclaw_secrets": TOKEN, "openclaw_restore_backup": "x", "openclaw_rotate_gateways": "y"}
    )
    (problem,) = problems({"openclaw_restore_backups": "x"})
    assert "openclaw_restore_backups is not a setting" in problem


def test_archive_names_say_their_gateway_and_refuse_others() -> None:
    name = gateway_backup.archive_name(
        "openclaw-gateway-wa", "pre-upgrade", datetime(2026, 12, 5, 17, 1, 2, tzinfo=UTC)
    )
    assert name == "openclaw-gateway-wa-20261205T170102Z-pre-upgrade.tar.gz"
    assert gateway_backup.archive_service(name) == "openclaw-gateway-wa"
    audit = "openclaw-gateway-20261205T170102Z-audit.tar.gz"  # an audit bundle is not a backup to restore
    for other in ("latest.tar.gz", "../openclaw-gateway-20261205T170102Z-manual.tar.gz", name + ".partial", audit):
        assert gateway_backup.archive_service(other) is None, other
    with pytest.raises(ValueError, match="not one of"):
        gateway_backup.archive_name("openclaw-gateway", "nightly", datetime.now(UTC))


def test_a_new_secret_is_random_and_long() -> None:
    values = {new_gateway_secret().unmask() for _ in range(20)}
    assert len(values) == 20 and all(len(value) >= 43 for value in values)


def test_a_rotated_file_source_is_rewritten_private_and_read_back(tmp_path: Path) -> None:
    source = tmp_path / "sources" / "token"
    source.parent.mkdir(mode=0o755)
    source.write_text("old-token\n")
    source.chmod(0o644)  # an operator's loose mode is not kept
    write_private_file(source, HiddenValue("new-token"))  # type: ignore[no-untyped-call]
    assert stat.S_IMODE(source.stat().st_mode) == 0o600
    assert read_secret(SecretSource(file=str(source))).unmask() == "new-token"
    assert sorted(os.listdir(source.parent)) == ["token"]  # nothing staged left beside it


def test_a_file_source_rewritten_through_a_symlink_replaces_the_link_not_its_target(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("not a secret of ours\n")
    link = tmp_path / "token"
    link.symlink_to(target)
    write_private_file(link, HiddenValue("new-token"))  # type: ignore[no-untyped-call]
    assert target.read_text() == "not a secret of ours\n"
    assert not link.is_symlink() and link.read_text() == "new-token\n"


def _commands(source: SecretSource, delivery: str) -> list[Any]:
    value = HiddenValue("s3cr3t-new")  # type: ignore[no-untyped-call]
    return list(
        secret_sources.rotated_secret_stored._inner(
            secret_name="OPENCLAW_GATEWAY_TOKEN", source=source, value=value, delivery_path=delivery
        )
    )


def test_rotation_rewrites_a_file_source_and_delivers_the_others(tmp_path: Path) -> None:
    (rewrite,) = _commands(SecretSource(file="~/.secrets/token"), str(tmp_path / "d"))
    assert rewrite.function is write_private_file
    assert rewrite.args[0] == Path(os.path.expanduser("~/.secrets/token"))
    assert str(rewrite.args[1]) == "*MASKED*"  # whatever prints the command shows no secret
    (delivered,) = _commands(SecretSource(env="GW_TOKEN"), str(tmp_path / "d" / "gw1" / "openclaw-gateway.T"))
    delivery, value, message = delivered.args
    assert delivery.endswith("gw1/openclaw-gateway.T") and str(value) == "*MASKED*"
    assert "put it into environment variable GW_TOKEN, then delete that file" in message
    assert "s3cr3t-new" not in repr(delivered.args) + message


def test_a_secret_in_the_clear_is_refused() -> None:
    with pytest.raises(ValueError, match="HiddenValue"):
        list(secret_sources.rotated_secret_stored._inner(
            secret_name="T", source=SecretSource(env="T"), value="clear", delivery_path="/tmp/x"))  # fmt: skip


def _pyinfra_plan(deploy: str, data: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``pyinfra @local DEPLOY`` planned with ``data`` (the gateway settings need no host to be refused)."""
    arguments = [arg for key, value in data.items() for arg in ("--data", f"{key}={value}")]
    return subprocess.run(
        [str(Path(sys.executable).parent / "pyinfra"), "-y", "@local", deploy,
         "--data", f"openclaw_secrets={json.dumps(TOKEN)}", *arguments],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120, check=False,
        env={**os.environ, "TEST_OPENCLAW_TOKEN": "tok-abc-123"},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("deploy", "data", "refusal"),
    [
        ("deploys/restore.py", {}, "openclaw_restore_backup None is not a backup archive's file name. Fix: pass"),
        ("deploys/restore.py", {"openclaw_restore_backup": "latest.tar.gz"}, "'latest.tar.gz' is not a backup"),
        ("deploys/restore.py", {"openclaw_restore_backup": "openclaw-gateway-wa-20261205T170102Z-manual.tar.gz"},
         "is an archive of 'openclaw-gateway-wa', which is not a gateway of this host (openclaw-gateway)"),
        ("deploys/rotate_secrets.py", {"openclaw_rotate_gateways": "openclaw-gateway,nope"},
         "openclaw_rotate_gateways 'openclaw-gateway,nope' names no gateway of this host (nope)"),
        ("deploys/backup.py", {"openclaw_isolation": "docker-containerized", "openclaw_docker_sandbox": "false"},
         "deploys/backup.py handles gateways that are systemd services"),
    ],
)  # fmt: skip
def test_a_bad_request_is_refused_before_any_host_is_touched(deploy: str, data: dict[str, str], refusal: str) -> None:
    result = _pyinfra_plan(deploy, data)
    assert result.returncode != 0
    assert "nothing was changed on any host" in result.stderr + result.stdout
    assert refusal in result.stderr + result.stdout, result.stderr[-2000:]
    assert "Traceback" not in result.stderr + result.stdout
