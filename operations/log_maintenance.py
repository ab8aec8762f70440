"""Keeping a gateway's disk use bounded: log rotation and transcript pruning."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Generator
from io import StringIO

from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import OperationValueError
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.operations import files

from openclaw_infra.gateway_paths import LOG_FILE_NAMES
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


# newsyslog (macOS) reads a config line with fgets(line, BUFSIZ): BUFSIZ is 1024, so 1022 characters and the
# newline; a longer line is cut in two and the rest read as a malformed line, which stops newsyslog altogether.
_NEWSYSLOG_LINE_MAX = 1022
_NEWSYSLOG_MODE = re.compile(r"^[0246]{3}$")
NEWSYSLOG_DIR = "/etc/newsyslog.d"


def _newsyslog_path(path: str, what: str) -> str:
    # newsyslog splits its lines on whitespace and ends them at an unescaped '#'; it has no quoting. Control
    # characters are refused with them (a newline would start a line of its own).
    if not posixpath.isabs(path) or posixpath.normpath(path) != path:
        raise OperationValueError(f"{what} {path!r} is not an absolute, normalised path")
    if any(character.isspace() or character == "#" or not character.isprintable() for character in path):
        raise OperationValueError(
            f"{what} {path!r} holds whitespace, '#' or a control character, which newsyslog cannot read in a "
            "file name: move the logs to a path without them"
        )
    return path


@operation()
def gateway_newsyslog(
    config_name: str,
    logs_dir: str,
    user: str,
    group: str = "staff",
    keep: int = 7,
    max_size_kib: int = 1024,
    mode: str = "600",
    compress: bool = True,
    present: bool = True,
) -> Generator[StringCommand, None, None]:
    """
    macOS: ``/etc/newsyslog.d/<config_name>.conf`` (root:wheel 644), one line per gateway log file
    (``gateway.log``, ``gateway.err.log``): rotated once it reaches ``max_size_kib``, ``keep`` archives, new
    files ``user:group`` ``mode``. newsyslog runs every hour at :30 (``com.apple.newsyslog``).

    The gateway's stdout and stderr are files launchd opened when it started the job; the gateway holds them
    and has nothing that reopens them (flag ``N``: no process to signal). After a rotation it goes on writing
    to the archive (``gateway.log.0``) until launchd next starts it (a deploy's restart, a crash, a reboot).
    With ``compress``, newsyslog bzip2s that archive at once and removes it: what the gateway writes until its
    next start goes to a removed file, lost, its space held until then. Without it, those lines stay in
    ``gateway.log.0``, which grows until that start.

    The user and group must exist before newsyslog next runs: an unknown one stops it for every log on the
    host, the system's included.

    + config_name: file name under /etc/newsyslog.d, without ``.conf``, e.g. the launchd label
    + logs_dir: where the logs are (absolute; no whitespace or '#': newsyslog has no quoting)
    + user, group: owner of the new log files and archives (``staff`` is every local user's group: hence 600)
    + keep: archives kept
    + max_size_kib: size in KiB at which a log is rotated
    + mode: octal mode of the new log files and archives, read/write bits only (the guide's 640 lets ``staff``
      read them; the gateway's log files are 600)
    + compress: bzip2 the archives (``J``)
    + present: False removes the file
    """
    # newsyslog reads /etc/newsyslog.d/*.conf: a '.' inside is fine (the launchd label), a leading
    # one is not (glob(3) skips such names).
    if not _LABEL.match(config_name):
        raise OperationValueError(
            f"config_name {config_name!r} must be letters, digits, '.', '-' and '_', starting with a letter or digit"
        )
    path = f"{NEWSYSLOG_DIR}/{config_name}.conf"
    if not present:
        yield from files.file._inner(path=path, present=False)
        return
    _newsyslog_path(logs_dir, "logs_dir")
    _name(user, "user")
    _name(group, "group")
    if not _NEWSYSLOG_MODE.match(mode):
        raise OperationValueError(f"mode {mode!r} is not three octal digits of read/write bits such as 600")
    for value, what, low in ((keep, "keep", 0), (max_size_kib, "max_size_kib", 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise OperationValueError(f"{what} {value!r} is not a whole number of at least {low}")
    content = render(
        "newsyslog/openclaw-gateway.conf.j2", user=user, group=group, mode=mode, keep=keep,
        max_size_kib=max_size_kib, compress=compress,
        log_files=[posixpath.join(logs_dir, log_file) for log_file in LOG_FILE_NAMES],
    )  # fmt: skip
    if any(len(line.encode()) > _NEWSYSLOG_LINE_MAX for line in content.splitlines()):
        raise OperationValueError(
            f"logs_dir {logs_dir!r} is too long: newsyslog reads lines of at most {_NEWSYSLOG_LINE_MAX} characters"
        )
    yield from _root_file(path, content, group="wheel")
