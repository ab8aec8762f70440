"""deploys/drift_schedule.py on a real sandbox host (Debian 12, systemd): the timer path end to end, with a fake
drift command (the real one is tested by the drift command's own tests).

Installs as user ``nobody``, triggers the service by hand, and reads back the report, the failed state a drift
exit code leaves, the timer in ``systemctl list-timers``, a rerun changing nothing and a schedule change.
"""

from __future__ import annotations

import json

import pytest

from sandbox_hosts import SandboxHost
from tests.helpers import run_pyinfra

pytestmark = pytest.mark.sandbox

DEPLOY = "deploys/drift_schedule.py"
REPORT_DIR = "/var/lib/openclaw-infra/drift"
# Prints a report and says "drift found"; the --json the wrapper appends lands in $0 of `sh -c`.
FAKE_COMMAND = ["/bin/sh", "-c", 'echo \'{"hosts": [], "drift": true}\'; echo checked >&2; exit 1']


def settings(**overrides: object) -> list[str]:
    drift = {"command": FAKE_COMMAND, "working_dir": "/", "user": "nobody", "keep_reports": 2, **overrides}
    return ["--data", f"openclaw_drift_schedule={json.dumps(drift)}"]


def changed_operations(host: SandboxHost, *args: str) -> list[str]:
    plan = json.loads(run_pyinfra([host], *args, DEPLOY, "--dry", "--json").stdout)["plan"]
    return [op["name"] for op in plan if op["hosts_with_change"]]


def test_timer_installs_runs_and_reports(sandbox_host: SandboxHost) -> None:
    host = sandbox_host
    run_pyinfra([host], *settings(), DEPLOY)

    timers = host.run("systemctl list-timers --all --no-pager openclaw-drift.timer").stdout
    assert "openclaw-drift.timer" in timers and "openclaw-drift.service" in timers, timers
    assert host.run("systemctl is-enabled openclaw-drift.timer").stdout.strip() == "enabled"
    assert host.run("systemctl is-active openclaw-drift.timer").stdout.strip() == "active"
    assert host.run("stat -c '%U %a' /usr/local/libexec/openclaw-infra/run-drift").stdout.split() == ["root", "755"]
    assert host.run(f"stat -c '%U %a' {REPORT_DIR}").stdout.split() == ["nobody", "700"]

    for _ in range(3):
        started = host.run("systemctl start openclaw-drift.service", check=False)
        assert started.returncode != 0  # exit 1 (drift) fails the unit, as it should
        assert host.run("systemctl is-failed openclaw-drift.service", check=False).stdout.strip() == "failed"
        assert "openclaw-drift.service" in host.run("systemctl --failed --no-legend --plain").stdout
        host.run("sleep 1")  # one run per second at most: report names are second stamps

    latest = host.run(f"cat {REPORT_DIR}/latest.json").stdout
    assert json.loads(latest) == {"hosts": [], "drift": True}
    listing = host.run(f"stat -c '%U %a %n' {REPORT_DIR}/drift-*").stdout.splitlines()
    assert len(listing) == 4, listing  # keep_reports=2: two reports and their logs
    assert all(line.startswith("nobody 600 ") for line in listing), listing
    journal = host.run("journalctl -u openclaw-drift.service --no-pager -o cat").stdout
    assert "the drift check exited 1" in journal, journal

    assert changed_operations(host, *settings()) == []
    run_pyinfra([host], *settings(hour=3, minute=30), DEPLOY)
    calendar = host.run("systemctl show -p TimersCalendar --value openclaw-drift.timer").stdout
    assert "OnCalendar=*-*-* 03:30:00" in calendar, calendar
    assert host.run("systemctl is-active openclaw-drift.timer").stdout.strip() == "active"
    assert changed_operations(host, *settings(hour=3, minute=30)) == []
