"""report_runner and cron_job run by the real pyinfra CLI on @local, into a scratch directory: files, owners,
modes, a second run changing nothing, and the installed script producing a report."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

from tests.helpers import PROJECT_ROOT, PYINFRA

DEPLOY = "tests/drift_schedule/deploy_local.py"
COMMAND = ["/bin/sh", "-c", "echo '{\"hosts\": []}'; exit 1"]


def pyinfra_local(root: Path, schedule: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DRIFT_TEST_ROOT": str(root),
        "DRIFT_TEST_COMMAND": json.dumps(COMMAND),
        "DRIFT_TEST_SCHEDULE": schedule,
    }
    confirm = [] if "--dry" in args else ["-y"]
    result = subprocess.run(
        [PYINFRA, *confirm, "@local", *args, DEPLOY],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"pyinfra exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def changed(root: Path, schedule: str) -> list[str]:
    plan = json.loads(pyinfra_local(root, schedule, "--dry", "--json").stdout)["plan"]
    return [op["name"] for op in plan if op["hosts_with_change"]]


def test_operations_install_and_then_change_nothing(tmp_path: Path) -> None:
    root = tmp_path / "drift"
    pyinfra_local(root, "15 * * * *")

    runner = root / "libexec" / "run-drift"
    assert stat.S_IMODE(runner.stat().st_mode) == 0o755
    assert (runner.stat().st_uid, runner.stat().st_gid) == (0, 0)
    reports = root / "reports"
    assert stat.S_IMODE(reports.stat().st_mode) == 0o700
    cron_file = root / "cron.d" / "openclaw-drift"
    assert stat.S_IMODE(cron_file.stat().st_mode) == 0o644
    assert f"15 * * * * root {runner} >>{reports}/run-drift.log 2>&1\n" in cron_file.read_text()

    assert changed(root, "15 * * * *") == []
    assert changed(root, "0 3 * * *") == ["Drift check: cron"]

    # The installed script, as cron would start it: the fake drift command reports drift (exit 1).
    result = subprocess.run([str(runner)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert json.loads((reports / "latest.json").read_text()) == {"hosts": []}
