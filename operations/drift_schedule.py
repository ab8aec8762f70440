"""Scheduled drift checks on the control host (the machine that runs pyinfra).

``openclaw-infra drift INVENTORY [DEPLOY …] --json`` changes nothing; a wrapper script (``report_runner``) runs
it, keeps each JSON report and the last N, and exits with its code (0 no drift, 1 drift, 2 a host could not be
checked). One of ``systemd_timer`` (Linux with systemd), ``launchd_daemon`` (macOS) or ``cron_job`` (the rest)
starts the wrapper on the schedule of ``settings.DriftSchedule``.
"""

from __future__ import annotations

import plistlib
import posixpath
import re
from collections.abc import Generator, Iterable, Mapping, Sequence
from io import StringIO

from pyinfra.api.command import FileUploadCommand, PyinfraCommand, StringCommand
from pyinfra.api.exceptions import OperationValueError
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.facts.systemd import SystemdEnabled, SystemdStatus
from pyinfra.operations import crontab, files

from openclaw_infra.facts.launchctl import LaunchctlJob
from openclaw_infra.quoting import cron_schedule, quoted
from openclaw_infra.rendering import render

RUNNER_PATH = "/usr/local/libexec/openclaw-infra/run-drift"
SYSTEMD_DIR = "/etc/systemd/system"
UNIT_NAME = "openclaw-drift"
LAUNCHD_LABEL = "ai.openclaw.drift"
LAUNCH_DAEMONS_DIR = "/Library/LaunchDaemons"
CRON_D_FILE = "/etc/cron.d/openclaw-drift"
CRON_NAME = "openclaw-drift"
# The wrapper's own messages (not the drift command's: those go to each report's .log) under launchd and cron;
# systemd sends them to the journal.
RUNNER_LOG_NAME = "run-drift.log"

# Paths that go unquoted into unit files, plists and cron lines: no spaces, no '%' (cron and systemd expand it).
_PLAIN_PATH = re.compile(r"^/[A-Za-z0-9._+/-]*$")
# Login names of Linux, macOS (_www) and the BSDs.
_USER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}$")
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_INTERVAL_KEYS = {"Minute": 59, "Hour": 23, "Day": 31, "Weekday": 7, "Month": 12}


def _plain_path(value: str, what: str) -> str:
    if not _PLAIN_PATH.match(value) or "/../" in f"{value}/":
        raise OperationValueError(f"{what} {value!r} must be an absolute path of letters, digits and ._+-/ only")
    return value


def _user(value: str) -> str:
    if not _USER.match(value):
        raise OperationValueError(f"{value!r} is not a user name")
    return value


def runner_log_path(report_dir: str) -> str:
    """Where launchd and cron put the wrapper's own messages: beside the reports, never pruned (one line a run)."""
    return posixpath.join(report_dir, RUNNER_LOG_NAME)


def runner_script(command: Sequence[str], working_dir: str, report_dir: str, keep_reports: int) -> str:
    """The wrapper script: runs ``command --json`` in ``working_dir``, keeps the last ``keep_reports`` runs."""
    if len(command) < 1 or not all(command):
        raise OperationValueError("command must be a non-empty list of non-empty arguments")
    if any("\n" in part or "\r" in part or "\0" in part for part in command):
        raise OperationValueError("no command argument may hold a line break or NUL")
    for path, what in ((working_dir, "working_dir"), (report_dir, "report_dir")):
        if not posixpath.isabs(path) or any(c in path for c in "\n\r\0"):
            raise OperationValueError(f"{what} {path!r} must be an absolute path on one line")
    if posixpath.normpath(report_dir) == "/":
        raise OperationValueError("report_dir must not be /")
    if not 1 <= keep_reports <= 10000:
        raise OperationValueError(f"keep_reports must be 1 to 10000, not {keep_reports}")
    return render(
        "drift/run-drift.sh.j2",
        command=[*command, "--json"],
        working_dir=working_dir,
        report_dir=report_dir,
        keep_reports=keep_reports,
    )


def _uploads(commands: Iterable[PyinfraCommand]) -> bool:
    return any(isinstance(command, FileUploadCommand) for command in commands)


@operation()
def report_runner(
    command: list[str],
    working_dir: str,
    user: str,
    report_dir: str,
    keep_reports: int,
    runner: str = RUNNER_PATH,
    root_group: str = "root",
) -> Generator[PyinfraCommand, None, None]:
    """
    The wrapper script at ``runner`` (root, 0755) and the report directory (``user``, 0700).

    + command: the drift command line, e.g. ``["openclaw-infra", "drift", "inventories/hosts.py"]``; the script
      appends ``--json`` and keeps its stdout as the report, its stderr as the report's ``.log``
    + working_dir: where the command runs
    + user: who runs it (owns the report directory)
    + report_dir: ``drift-<UTC stamp>.json`` / ``.log`` of each run, and ``latest.json`` linking the newest
    + keep_reports: how many runs to keep
    + runner: where the script goes
    + root_group: root's group: ``root`` on Linux, ``wheel`` on macOS and the BSDs
    """
    _plain_path(runner, "runner")
    _user(user)
    script = runner_script(command, working_dir, report_dir, keep_reports)
    commands: list[PyinfraCommand] = [
        *files.put._inner(src=StringIO(script), dest=runner, user="root", group=root_group, mode="755"),
        *files.directory._inner(path=report_dir, user=user, mode="700"),
    ]
    if not commands:
        host.noop(f"{runner} is up to date and {report_dir} is ready")
    yield from commands


@operation()
def systemd_timer(
    user: str,
    on_calendar: str,
    runner: str = RUNNER_PATH,
    unit_name: str = UNIT_NAME,
) -> Generator[PyinfraCommand, None, None]:
    """
    ``<unit_name>.service`` (oneshot, as ``user``, runs ``runner``) and ``<unit_name>.timer`` (``on_calendar``,
    Persistent) under /etc/systemd/system; daemon-reload only when a unit's content changed; the timer enabled
    and active, restarted when its schedule changed so the next run is computed from the new one.

    + user: who runs the check
    + on_calendar: systemd.time(7) calendar event (``DriftSchedule.on_calendar()``)
    + runner: the wrapper script (``report_runner``)
    + unit_name: name of both units, without suffix
    """
    _user(user)
    _plain_path(runner, "runner")
    if not on_calendar.strip() or any(c in on_calendar for c in "\n\r%"):
        raise OperationValueError(f"{on_calendar!r} is not a calendar event")
    if not _LABEL.match(unit_name):
        raise OperationValueError(f"{unit_name!r} is not a unit name")
    service, timer = f"{unit_name}.service", f"{unit_name}.timer"

    active = host.get_fact(SystemdStatus, services=[timer]).get(timer, False)
    enabled = host.get_fact(SystemdEnabled, services=[timer]).get(timer, False)
    service_commands = list(
        files.put._inner(
            src=StringIO(render("drift/openclaw-drift.service.j2", user=user, runner=runner)),
            dest=posixpath.join(SYSTEMD_DIR, service), user="root", group="root", mode="644",
        )
    )  # fmt: skip
    timer_commands = list(
        files.put._inner(
            src=StringIO(render("drift/openclaw-drift.timer.j2", on_calendar=on_calendar, service=service)),
            dest=posixpath.join(SYSTEMD_DIR, timer), user="root", group="root", mode="644",
        )
    )  # fmt: skip
    yield from service_commands
    yield from timer_commands
    if _uploads(service_commands) or _uploads(timer_commands):
        yield StringCommand("systemctl", "daemon-reload")
    if not active:
        yield StringCommand("systemctl", "start", quoted(timer))
    elif _uploads(timer_commands):
        yield StringCommand("systemctl", "restart", quoted(timer))
    if not enabled:
        yield StringCommand("systemctl", "enable", quoted(timer))
    if not (service_commands or timer_commands) and active and enabled:
        host.noop(f"{timer} is up to date, enabled and active")


def launchd_plist(label: str, runner: str, user: str, start_calendar_interval: Mapping[str, int], log_path: str) -> str:
    """The LaunchDaemon's plist (XML): ``runner`` as ``user`` at ``start_calendar_interval``."""
    if not _LABEL.match(label):
        raise OperationValueError(f"{label!r} is not a launchd label")
    _plain_path(runner, "runner")
    _user(user)
    if not posixpath.isabs(log_path) or "\n" in log_path:
        raise OperationValueError(f"log path {log_path!r} must be absolute")
    if not start_calendar_interval:
        raise OperationValueError("start_calendar_interval is empty: the job would run every minute")
    for key, value in start_calendar_interval.items():
        if key not in _INTERVAL_KEYS or not 0 <= value <= _INTERVAL_KEYS[key]:
            raise OperationValueError(f"StartCalendarInterval {key}={value!r} is not valid")
    content = {
        "Label": label,
        "ProgramArguments": [runner],
        "StartCalendarInterval": dict(start_calendar_interval),
        "UserName": user,
        "StandardOutPath": log_path,
        "StandardErrorPath": log_path,
        "RunAtLoad": False,
        "ProcessType": "Background",
    }
    return plistlib.dumps(content, fmt=plistlib.FMT_XML, sort_keys=True).decode()


@operation()
def launchd_daemon(
    user: str,
    start_calendar_interval: dict[str, int],
    log_path: str,
    runner: str = RUNNER_PATH,
    label: str = LAUNCHD_LABEL,
) -> Generator[PyinfraCommand, None, None]:
    """
    ``/Library/LaunchDaemons/<label>.plist`` (root:wheel 644) starting ``runner`` as ``user`` at
    ``start_calendar_interval``; bootstrapped into the system domain when not loaded, booted out and
    bootstrapped again when the plist changed.

    + user: who runs the check (``UserName``)
    + start_calendar_interval: launchd.plist(5) keys, e.g. ``{"Minute": 0}`` (``DriftSchedule.launchd_interval()``)
    + log_path: the wrapper's own stdout/stderr (``runner_log_path(report_dir)``)
    + runner: the wrapper script (``report_runner``)
    + label: the job's label
    """
    content = launchd_plist(label, runner, user, start_calendar_interval, log_path)
    path = posixpath.join(LAUNCH_DAEMONS_DIR, f"{label}.plist")
    loaded = host.get_fact(LaunchctlJob, label=label, domain="system")
    plist_commands = list(files.put._inner(src=StringIO(content), dest=path, user="root", group="wheel", mode="644"))
    yield from plist_commands
    if loaded is None:
        yield StringCommand("launchctl", "bootstrap", "system", quoted(path))
    elif _uploads(plist_commands):
        yield StringCommand("launchctl", "bootout", quoted(f"system/{label}"))
        yield StringCommand("launchctl", "bootstrap", "system", quoted(path))
    elif not plist_commands:
        host.noop(f"{label} is up to date and loaded")


def _cron_fields(schedule: str) -> list[str]:
    return cron_schedule(schedule).split()


@operation()
def cron_job(
    user: str,
    schedule: str,
    log_path: str,
    runner: str = RUNNER_PATH,
    cron_file: str | None = CRON_D_FILE,
) -> Generator[PyinfraCommand, None, None]:
    """
    A cron entry running ``runner`` as ``user`` on ``schedule``, its own output appended to ``log_path``: the
    file ``cron_file`` (an /etc/cron.d file, root 644), or with ``cron_file=None`` an entry named
    ``openclaw-drift`` in ``user``'s crontab (systems without /etc/cron.d).

    + user: who runs the check
    + schedule: five cron fields (``DriftSchedule.cron_fields()``)
    + log_path: the wrapper's own messages (``runner_log_path(report_dir)``)
    + runner: the wrapper script (``report_runner``)
    + cron_file: the /etc/cron.d file, or None for the user's crontab
    """
    _user(user)
    _plain_path(runner, "runner")
    _plain_path(log_path, "log path")
    minute, hour, day_of_month, month, day_of_week = _cron_fields(schedule)
    line = f"{runner} >>{log_path} 2>&1"
    if cron_file is None:
        yield from crontab.crontab._inner(
            command=line, user=user, cron_name=CRON_NAME, minute=minute, hour=hour,
            day_of_month=day_of_month, month=month, day_of_week=day_of_week,
        )  # fmt: skip
        return
    _plain_path(cron_file, "cron_file")
    if "." in posixpath.basename(cron_file):
        raise OperationValueError(f"cron ignores {cron_file!r}: its name must not hold a '.'")
    content = render(
        "drift/openclaw-drift.cron.j2", schedule=" ".join((minute, hour, day_of_month, month, day_of_week)),
        user=user, runner=runner, log=log_path,
    )  # fmt: skip
    yield from files.put._inner(src=StringIO(content), dest=cron_file, user="root", group="root", mode="644")
