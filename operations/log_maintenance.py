"""Keeping a gateway's disk use bounded: log rotation and transcript pruning."""

from __future__ import annotations

import re
from collections.abc import Generator
from io import StringIO

from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import OperationValueError
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.operations import files

from openclaw_infra.operations.file_ownership import file_is_current
from openclaw_infra.quoting import cron_schedule
from openclaw_infra.rendering import render, render_plist

# Written bare into the files: cron and logrotate skip a file name under their .d dirs with a '.', and a user
# or profile goes unquoted into a cron line and a logrotate `su`.
_FILE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_NAME = re.compile(r"^[a-z_][a-z0-9_-]*$")
_FREQUENCIES = ("daily", "weekly", "monthly")
_SIZE = re.compile(r"^\d+[kMG]?$")
# cron's fields and launchd's StartCalendarInterval keys for them; launchd takes a number or nothing (every).
_CALENDAR_KEYS = (("Minute", 0, 59), ("Hour", 0, 23), ("Day", 1, 31), ("Month", 1, 12), ("Weekday", 0, 7))
LAUNCH_DAEMONS_DIR = "/Library/LaunchDaemons"
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _file_name(value: str, what: str) -> str:
    if not _FILE_NAME.match(value):
        raise OperationValueError(f"{what} {value!r} must be letters, digits, '-' and '_' only")
    return value


def _root_file(path: str, content: str, group: str = "root") -> Generator[StringCommand, None, None]:
    """``content`` at ``path``, root's, 644 (group ``wheel`` on macOS); one fact read when it is already there."""
    if file_is_current(path, content, "root", group, 644):
        host.noop(f"{path} is up to date")
        return
    yield from files.put._inner(src=StringIO(content), dest=path, user="root", group=group, mode="644")


def _name(value: str, what: str) -> str:
    if not _NAME.match(value):
        raise OperationValueError(f"{what} {value!r} is not a safe identifier")
    return value


@operation()
def gateway_logrotate(
    config_name: str,
    logs_dir: str,
    user: str,
    frequency: str,
    keep: int,
    max_size: str,
    compress: bool,
    present: bool = True,
) -> Generator[StringCommand, None, None]:
    """
    ``/etc/logrotate.d/<config_name>`` for the gateway's ``*.log`` files.

    + config_name: file name under /etc/logrotate.d (e.g. the service name)
    + logs_dir, user: where the logs are and who owns them
    + frequency, keep, max_size, compress: logrotate's daily/weekly/monthly, rotate, maxsize, compress
    + present: False removes the file
    """
    path = f"/etc/logrotate.d/{_file_name(config_name, 'config_name')}"
    if not present:
        yield from files.file._inner(path=path, present=False)
        return
    _name(user, "user")
    if frequency not in _FREQUENCIES:
        raise OperationValueError(f"frequency {frequency!r} is not one of {', '.join(_FREQUENCIES)}")
    if not _SIZE.match(max_size):
        raise OperationValueError(f"max_size {max_size!r} is not a logrotate size such as 50M")
    content = render(
        "logrotate/openclaw-gateway.j2", logs_dir=logs_dir, user=user, group=user,
        frequency=frequency, keep=int(keep), max_size=max_size, compress=compress,
    )  # fmt: skip
    yield from _root_file(path, content)


@operation()
def transcript_pruning(
    cron_name: str,
    user: str,
    state_dir: str,
    openclaw_bin: str,
    node_bin_dir: str,
    profile: str | None,
    schedule: str,
    prune_after_days: int,
    present: bool = True,
) -> Generator[StringCommand, None, None]:
    """
    ``/etc/cron.d/<cron_name>``: ``openclaw sessions cleanup --enforce`` on a schedule, as the gateway's user,
    plus the guide's sweep of archived ``*.jsonl`` transcripts older than ``prune_after_days``.

    + cron_name: file name under /etc/cron.d (letters, digits, '-' and '_' only, or cron ignores it)
    + user, state_dir, profile: whose sessions, where, and the gateway's profile if it has one
    + openclaw_bin, node_bin_dir: the installed CLI and the node it runs on
    + schedule: five cron fields
    + prune_after_days: age at which archived transcript files are deleted
    + present: False removes the file
    """
    path = f"/etc/cron.d/{_file_name(cron_name, 'cron_name')}"
    if not present:
        yield from files.file._inner(path=path, present=False)
        return
    _name(user, "user")
    if profile is not None:
        _name(profile, "profile")
    content = render(
        "cron/openclaw-sessions.j2", user=user, state_dir=state_dir, openclaw_bin=openclaw_bin,
        node_bin_dir=node_bin_dir, profile=profile, schedule=cron_schedule(schedule),
        prune_after_days=int(prune_after_days),
    )  # fmt: skip
    yield from _root_file(path, content)


def launchd_calendar(schedule: str) -> dict[str, int]:
    """Five cron fields as launchd's StartCalendarInterval: each field a number or ``*`` (launchd has no ranges,
    lists or steps: such a schedule is refused, naming the field)."""
    fields = cron_schedule(schedule).split()
    calendar = {}
    for field, (key, low, high) in zip(fields, _CALENDAR_KEYS, strict=True):
        if field == "*":
            continue
        if not field.isdigit() or not low <= int(field) <= high:
            raise OperationValueError(
                f"schedule {schedule!r}: launchd takes a number ({low}-{high}) or '*' as the {key.lower()}, "
                f"not {field!r}"
            )
        calendar[key] = int(field)
    return calendar


@operation()
def transcript_pruning_daemon(
    label: str,
    user: str,
    state_dir: str,
    openclaw_bin: str,
    node_bin_dir: str,
    profile: str | None,
    schedule: str,
    prune_after_days: int,
    present: bool = True,
) -> Generator[StringCommand, None, None]:
    """
    macOS: ``/Library/LaunchDaemons/<label>.plist``, the cron file's job as a LaunchDaemon run as the gateway's
    user on ``schedule`` (``StartCalendarInterval``): ``openclaw sessions cleanup --enforce``, then the sweep of
    archived ``*.jsonl`` transcripts older than ``prune_after_days``. Root's, 644 (it holds no secret); loading
    it is ``launchd_service.launchd_job``'s.

    + label: the job's label, e.g. ``ai.openclaw.gateway.sessions``
    + user, state_dir, profile: whose sessions, where, and the gateway's profile if it has one
    + openclaw_bin, node_bin_dir: the installed CLI and the node it runs on
    + schedule: five cron fields, each a number or ``*``
    + prune_after_days: age at which archived transcript files are deleted
    + present: False removes the file
    """
    if not _LABEL.match(label):
        raise OperationValueError(f"label {label!r} is not a launchd label (letters, digits, '.', '-', '_')")
    path = f"{LAUNCH_DAEMONS_DIR}/{label}.plist"
    if not present:
        yield from files.file._inner(path=path, present=False)
        return
    _name(user, "user")
    if profile is not None:
        _name(profile, "profile")
    content = render_plist(
        "launchd/openclaw-sessions.plist.json.j2", label=label, user=user, state_dir=state_dir,
        openclaw_bin=openclaw_bin, node_bin_dir=node_bin_dir, profile=profile,
        prune_after_days=int(prune_after_days), calendar=launchd_calendar(schedule),
    ).decode()  # fmt: skip
    yield from _root_file(path, content, group="wheel")
