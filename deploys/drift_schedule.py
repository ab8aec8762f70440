"""Scheduled drift checks on the control host: ``openclaw-infra drift`` on the ``openclaw_drift_schedule``
schedule, its JSON reports kept in the report directory (the last ``keep_reports``, ``latest.json`` the newest).

pyinfra @local deploys/drift_schedule.py --sudo --data 'openclaw_drift_schedule={"hour": 3}'

The scheduler is the host's own: a systemd timer on Linux with systemd, a LaunchDaemon on macOS, cron elsewhere
(an /etc/cron.d file on Linux, the user's crontab on the BSDs).
"""

from __future__ import annotations

from typing import Literal

from pyinfra.api.deploy import deploy
from pyinfra.context import host
from pyinfra.facts.server import Kernel

from openclaw_infra.deploy_context import executed_by_pyinfra
from openclaw_infra.facts.system_state import SystemdSystemState
from openclaw_infra.host_settings import section_for_host
from openclaw_infra.operations import drift_schedule as ops
from openclaw_infra.settings import DriftSchedule, data_key

Scheduler = Literal["systemd", "launchd", "cron.d", "crontab"]
DATA_KEY = data_key("drift_schedule")
# systemd runs timers in these states (`degraded`: some other unit failed).
SYSTEMD_UP = ("running", "degraded")


def choose_scheduler(kernel: str | None, systemd_state: str | None) -> Scheduler:
    """launchd on macOS, a systemd timer where systemd runs, else cron (/etc/cron.d on Linux)."""
    if kernel == "Darwin":
        return "launchd"
    if kernel == "Linux":
        return "systemd" if systemd_state in SYSTEMD_UP else "cron.d"
    return "crontab"


@deploy("OpenClaw drift checks on a schedule")
def drift_schedule() -> None:
    # Validated alone: a control host need not carry a gateway's settings (the default gateway's token, say).
    drift = section_for_host(host.name, "drift_schedule", DriftSchedule, host.data.get(DATA_KEY))
    kernel = host.get_fact(Kernel)
    scheduler = choose_scheduler(kernel, host.get_fact(SystemdSystemState) if kernel == "Linux" else None)
    log_path = ops.runner_log_path(drift.report_dir)

    ops.report_runner(
        name="Drift check: wrapper script and report directory",
        command=drift.command,
        working_dir=drift.working_dir,
        user=drift.user,
        report_dir=drift.report_dir,
        keep_reports=drift.keep_reports,
        root_group="root" if kernel == "Linux" else "wheel",
    )
    if scheduler == "systemd":
        ops.systemd_timer(name="Drift check: systemd timer", user=drift.user, on_calendar=drift.on_calendar())
    elif scheduler == "launchd":
        ops.launchd_daemon(
            name="Drift check: LaunchDaemon",
            user=drift.user,
            start_calendar_interval=drift.launchd_interval(),
            log_path=log_path,
        )
    else:
        ops.cron_job(
            name="Drift check: cron",
            user=drift.user,
            schedule=drift.cron_fields(),
            log_path=log_path,
            cron_file=ops.CRON_D_FILE if scheduler == "cron.d" else None,
        )


if executed_by_pyinfra(globals()):
    drift_schedule()
