"""What the drift schedule writes, read back: the LaunchDaemon plist, the units, the cron line, the scheduler
choice and the settings check of the deploy."""

from __future__ import annotations

import plistlib

import pytest
from pyinfra.api.exceptions import OperationValueError

from openclaw_infra.deploys.drift_schedule import choose_scheduler
from openclaw_infra.host_settings import SettingsError, section_for_host
from openclaw_infra.operations.drift_schedule import RUNNER_PATH, launchd_plist, runner_log_path, runner_script
from openclaw_infra.rendering import render
from openclaw_infra.settings import DriftSchedule


@pytest.mark.parametrize(
    ("schedule", "interval"),
    [(DriftSchedule(), {"Minute": 0}), (DriftSchedule(hour=3, minute=30), {"Hour": 3, "Minute": 30})],
)
def test_plist_reads_back_with_the_schedule(schedule: DriftSchedule, interval: dict[str, int]) -> None:
    log = runner_log_path(schedule.report_dir)
    text = launchd_plist("ai.openclaw.drift", RUNNER_PATH, "_drift", schedule.launchd_interval(), log)
    plist = plistlib.loads(text.encode())
    assert plist == {
        "Label": "ai.openclaw.drift",
        "ProgramArguments": [RUNNER_PATH],
        "StartCalendarInterval": interval,
        "UserName": "_drift",
        "StandardOutPath": "/var/lib/openclaw-infra/drift/run-drift.log",
        "StandardErrorPath": "/var/lib/openclaw-infra/drift/run-drift.log",
        "RunAtLoad": False,
        "ProcessType": "Background",
    }
    assert all(isinstance(value, int) and not isinstance(value, bool) for value in interval.values())


@pytest.mark.parametrize(
    ("interval", "message"),
    [({}, "every minute"), ({"Minute": 60}, "Minute=60"), ({"Second": 5}, "Second=5")],
)
def test_plist_refuses_an_interval_launchd_would_misread(interval: dict[str, int], message: str) -> None:
    with pytest.raises(OperationValueError, match=message):
        launchd_plist("ai.openclaw.drift", RUNNER_PATH, "root", interval, "/var/log/drift.log")


def test_timer_and_service_units() -> None:
    timer = render(
        "drift/openclaw-drift.timer.j2", on_calendar=DriftSchedule(hour=3).on_calendar(), service="x.service"
    )
    lines = timer.splitlines()
    assert {"OnCalendar=*-*-* 03:00:00", "Persistent=true", "Unit=x.service"} <= set(lines)
    assert "\n[Install]\nWantedBy=timers.target\n" in timer
    service = render("drift/openclaw-drift.service.j2", user="drift", runner=RUNNER_PATH)
    assert f"\nType=oneshot\nUser=drift\nExecStart={RUNNER_PATH}\n" in service


def test_script_quotes_every_value() -> None:
    script = runner_script(["openclaw-infra", "drift", "my hosts.py", "$(reboot)"], "/opt/it's", "/var/r d", 5)
    assert script.startswith("#!/bin/sh\n")
    assert "\nopenclaw-infra drift 'my hosts.py' '$(reboot)' --json >" in script
    assert "\nworking_dir='/opt/it'\"'\"'s'\n" in script
    assert "\nreport_dir='/var/r d'\n" in script
    assert "\nkeep_reports=5\n" in script


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"command": []}, "non-empty list"),
        ({"command": ["openclaw-infra", "a\nb"]}, "line break"),
        ({"report_dir": "reports"}, "report_dir 'reports' must be an absolute path"),
        ({"report_dir": "/"}, "must not be /"),
        ({"keep_reports": 0}, "keep_reports must be 1 to 10000"),
    ],
)
def test_script_refuses_bad_values(kwargs: dict[str, object], message: str) -> None:
    values: dict[str, object] = {
        "command": ["openclaw-infra", "drift"],
        "working_dir": "/opt/openclaw-infra",
        "report_dir": "/var/lib/openclaw-infra/drift",
        "keep_reports": 3,
        **kwargs,
    }
    with pytest.raises(OperationValueError, match=message):
        runner_script(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kernel", "systemd_state", "scheduler"),
    [
        ("Darwin", None, "launchd"),
        ("Linux", "running", "systemd"),
        ("Linux", "degraded", "systemd"),
        ("Linux", "offline", "cron.d"),  # a container without systemd as PID 1
        ("Linux", None, "cron.d"),  # no systemctl at all
        ("FreeBSD", None, "crontab"),
    ],
)
def test_scheduler_follows_the_host(kernel: str, systemd_state: str | None, scheduler: str) -> None:
    assert choose_scheduler(kernel, systemd_state) == scheduler


def drift_settings(host_name: str, value: object) -> DriftSchedule:
    return section_for_host(host_name, "drift_schedule", DriftSchedule, value)


def test_deploy_reads_only_the_drift_settings() -> None:
    assert drift_settings("ctl", None) == DriftSchedule()
    assert drift_settings("ctl", {"hour": 4}).on_calendar() == "*-*-* 04:00:00"
    with pytest.raises(SettingsError) as raised:
        drift_settings("ctl", {"hour": 24, "report_dir": "drift", "kep_reports": 3})
    problems = raised.value.problems
    assert any(line.startswith("host 'ctl': openclaw_drift_schedule.hour: ") for line in problems)
    assert any("openclaw_drift_schedule.report_dir: report_dir 'drift' is not an absolute path" in p for p in problems)
    assert any(line.startswith("host 'ctl': openclaw_drift_schedule.kep_reports: ") for line in problems)
