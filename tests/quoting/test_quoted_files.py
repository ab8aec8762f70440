"""The cron line, the unit and the logrotate config rendered for homes with spaces, quotes, ';', '$', '%' and
backslashes, then read back by what reads them on a host: /bin/sh (after cron's own pass), systemd-analyze,
logrotate. Files go under a temporary directory named like such a home.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from openclaw_infra.rendering import render
from tests.hardening.test_unit_template import variables as unit_variables
from tests.quoting.readers import cron_d_job, cron_decode

HOMES = ["open claw;touch x", 'it\'s "open" claw', "$HOME `id` %h 100% back\\slash"]
LOGROTATE = shutil.which("logrotate")
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
# Stands in for the openclaw CLI: records where and how it ran.
RECORDER = """#!/bin/sh
printf '%s\\n' "$PWD" "$OPENCLAW_STATE_DIR" "$PATH" "$@" > "$OPENCLAW_STATE_DIR/called"
"""


def _executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.mark.parametrize("name", HOMES)
def test_cron_line_runs_what_it_says(tmp_path: Path, name: str) -> None:
    home = tmp_path / name
    state_dir = home / ".openclaw"
    sessions = state_dir / "agents" / "main" / "sessions"
    sessions.mkdir(parents=True)
    (sessions / "old.jsonl").touch()
    os.utime(sessions / "old.jsonl", (time.time() - 40 * 86400,) * 2)
    (sessions / "new.jsonl").touch()
    openclaw = _executable(home / "open claw" / "bin" / "openclaw", RECORDER)
    node_bin_dir = home / "no de" / "bin"
    text = render(
        "cron/openclaw-sessions.j2", user="openclaw", state_dir=str(state_dir), openclaw_bin=str(openclaw),
        node_bin_dir=str(node_bin_dir), profile="work", schedule="0 4 * * *", prune_after_days=30,
    )  # fmt: skip
    fields, user, command = cron_d_job(text)
    assert (fields, user) == (["0", "4", "*", "*", "*"], "openclaw")
    work = tmp_path / "cwd"
    work.mkdir()
    subprocess.run(["/bin/sh", "-c", cron_decode(command)], cwd=work, env={"PATH": "/usr/bin:/bin"}, check=True)
    assert (state_dir / "called").read_text().splitlines() == [
        str(work), str(state_dir), f"{node_bin_dir}:/usr/bin:/bin",
        "--profile", "work", "sessions", "cleanup", "--enforce", "--all-agents",
    ]  # fmt: skip
    assert sorted(path.name for path in sessions.iterdir()) == ["new.jsonl"]
    assert list(work.iterdir()) == [], "nothing but the command ran"


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed here")
@pytest.mark.parametrize("name", HOMES)
def test_unit_passes_systemd_analyze_verify(tmp_path: Path, name: str) -> None:
    home = tmp_path / name
    state_dir = f"{home}/.openclaw"
    # verify fails unless ExecStart's program exists: one under a prefix with a space, ';', '%' and '$'.
    node = _executable(tmp_path / "n o;d%e$x" / "bin" / "node", f"#!{sys.executable}\n")
    unit = render(
        "systemd/openclaw-gateway.service.j2",
        **unit_variables(
            home=str(home), state_dir=state_dir, logs_dir=f"{state_dir}/logs", node_bin=str(node),
            openclaw_entry=f"{home}/openclaw.mjs", extra_rw_paths=[f"{home}/work"], secrets_env_file=f"{home}/s.env",
        ),
    )  # fmt: skip
    path = tmp_path / "openclaw-gateway.service"
    path.write_text(unit)
    result = subprocess.run(
        [str(SYSTEMD_ANALYZE), "verify", "--man=no", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stdout + result.stderr


@pytest.mark.skipif(LOGROTATE is None, reason="logrotate is not installed here (apt-get install logrotate)")
@pytest.mark.parametrize("name", [*HOMES, 'glob * ? [x] and \\" too'])
def test_logrotate_rotates_the_files_in_that_directory(tmp_path: Path, name: str) -> None:
    logs_dir = tmp_path / name / ".openclaw" / "logs"
    logs_dir.mkdir(parents=True)
    (logs_dir / "gateway.log").write_text("a line\n")
    config = tmp_path / "openclaw-gateway"
    text = render(
        "logrotate/openclaw-gateway.j2", logs_dir=str(logs_dir), user="root", group="root",
        frequency="daily", keep=3, max_size="50M", compress=False,
    )  # fmt: skip
    config.write_text(text)
    config.chmod(0o644)
    # In tmp_path: a word split off a badly quoted name (a bare '*') would otherwise rotate the files of the cwd.
    result = subprocess.run(
        [str(LOGROTATE), "--force", "-v", "-s", str(tmp_path / "state"), str(config)],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"considering log {logs_dir}/gateway.log\n" in result.stderr
    assert sorted(path.name for path in logs_dir.iterdir()) == ["gateway.log", "gateway.log.1"]
