"""
A gateway's state dir (config, credentials, sessions, workspaces) archived by the installed OpenClaw's own
``openclaw backup create``, and put back from such an archive.

The archive is taken while the gateway runs: OpenClaw copies its SQLite databases with SQLite's online backup
API (never the live ``.sqlite``/``-wal`` files), so no stop is needed and the gateway keeps answering. The
archive is written by the gateway's user, who can read its own state (root would leave root-owned files in it),
into a private temporary directory, then handed to root: 600 in a 700 directory of its own per gateway.

A restore stops the gateway, moves the current state dir aside (kept, never deleted), puts the archive's copy in
its place owned by the gateway's user, and starts the gateway again.
"""

from __future__ import annotations

import os
import posixpath
import re
import secrets
from collections.abc import Generator
from datetime import datetime

from pyinfra.api.command import FunctionCommand, PyinfraCommand, StringCommand
from pyinfra.api.exceptions import OperationError, OperationValueError
from pyinfra.api.host import Host
from pyinfra.api.operation import operation
from pyinfra.api.state import State
from pyinfra.context import host
from pyinfra.facts.files import Directory, FindFiles

from openclaw_infra.facts.batch import read_facts
from openclaw_infra.facts.gateway_backups import BackupArchiveManifest
from openclaw_infra.gateway_paths import SYSTEM_PATH
from openclaw_infra.quoting import quoted

SUFFIX = ".tar.gz"
# <service>-<UTC time>-<why>.tar.gz: names sort by time, and say which gateway and what took them.
_NAME = re.compile(r"^(?P<service>[A-Za-z0-9_.-]+)-(?P<time>\d{8}T\d{6}Z)-(?P<reason>[a-z][a-z-]*)\.tar\.gz$")
# What took an archive. Audit bundles (``-audit``) share the directory but are neither restored nor pruned.
REASONS = ("manual", "pre-upgrade", "pre-config")


def archive_name(service: str, reason: str, now: datetime) -> str:
    """The name of a new archive of ``service``'s state, e.g. ``openclaw-gateway-20261205T170102Z-manual.tar.gz``."""
    if reason not in REASONS:
        raise OperationValueError(f"backup reason {reason!r} is not one of {', '.join(REASONS)}")
    name = f"{service}-{now.strftime('%Y%m%dT%H%M%SZ')}-{reason}{SUFFIX}"
    if not _NAME.match(name):
        raise OperationValueError(f"{name!r} is not a backup archive name")
    return name


def archive_service(name: str) -> str | None:
    """The gateway (service name) an archive named by ``archive_name`` belongs to; None for any other name."""
    match = _NAME.match(name)
    return match.group("service") if match and match.group("reason") in REASONS else None


def _openclaw_as_user(user: str, state_dir: str, openclaw_bin: str, node_bin_dir: str) -> StringCommand:
    """``openclaw`` run as the gateway's user on its state dir, from inside it (root's cwd is closed to the user)."""
    return StringCommand(
        "runuser", "-u", quoted(user), "--", "env", quoted(f"--chdir={state_dir}"),
        quoted(f"PATH={node_bin_dir}:{SYSTEM_PATH}"), quoted(f"OPENCLAW_STATE_DIR={state_dir}"),
        quoted(f"OPENCLAW_CONFIG_PATH={posixpath.join(state_dir, 'openclaw.json')}"), quoted(openclaw_bin),
    )  # fmt: skip


def _check_absolute(**paths: str) -> None:
    for what, path in paths.items():
        if not posixpath.isabs(path) or posixpath.normpath(path) != path:
            raise OperationValueError(f"{what} {path!r} must be an absolute, normalised path")


def archive_commands(
    archive: str, state_dir: str, user: str, openclaw_bin: str, node_bin_dir: str, keep: int
) -> list[StringCommand]:
    """The commands that write ``archive`` (root's, 600, in its 700 directory) and keep the newest ``keep``
    archives of its gateway (whatever took them; audit bundles are not counted)."""
    directory, name = posixpath.split(archive)
    service = _NAME.match(name)
    if not service:
        raise OperationValueError(f"{name!r} is not a backup archive name (see archive_name)")
    staged = f'"$staging"/{name}'
    partial = quoted(f"{archive}.partial")
    # The service name's characters are letters, digits, '_', '-' and '.': only '.' needs escaping (as "[.]").
    escaped = service.group("service").replace(".", "[.]")
    pattern = quoted(f"^{escaped}-[0-9]{{8}}T[0-9]{{6}}Z-({'|'.join(REASONS)})[.]tar[.]gz$")
    directories = StringCommand(
        "install -d -m 700 -o root -g root", quoted(posixpath.dirname(directory)), quoted(directory)
    )
    # A directory only the gateway's user (and root) can enter: the archive is never readable by others.
    archived = StringCommand(
        "staging=$(runuser -u", quoted(user), "-- mktemp -d) &&",
        "{", _openclaw_as_user(user, state_dir, openclaw_bin, node_bin_dir),
        "backup create --verify --json --output", staged, '>"$staging"/result.json 2>"$staging"/errors',
        "&& mv -f", staged, partial, "&& chown root:root", partial, "&& chmod 600", partial,
        "&& mv -f", partial, quoted(archive),
        '|| { status=$?; cat "$staging"/errors >&2; rm -rf "$staging"', partial, "; exit $status; }",
        '; } && rm -rf "$staging" && echo', quoted(f"backed up {state_dir} to {archive}"),
    )  # fmt: skip
    pruned = StringCommand(
        "ls -1", quoted(directory), "| grep -E", pattern, "| sort -r | tail -n", f"+{int(keep) + 1}",
        "| while IFS= read -r old; do rm -f --", StringCommand(quoted(directory), '/"$old"', _separator=""),
        "; done",
    )  # fmt: skip
    return [directories, archived, pruned]


@operation(is_idempotent=False)
def backup_created(
    archive: str,
    state_dir: str,
    user: str,
    openclaw_bin: str,
    node_bin_dir: str,
    keep: int = 10,
) -> Generator[StringCommand, None, None]:
    """
    Archive the gateway's state dir to ``archive`` with ``openclaw backup create --verify``, while it runs.

    + archive: the new archive, ``<backups dir>/<service>/<archive_name(...)>``; its directory is made root's, 700
    + state_dir: the gateway's ``OPENCLAW_STATE_DIR``
    + user: the gateway's user, who reads its state and runs ``openclaw`` (Linux: ``runuser``)
    + openclaw_bin, node_bin_dir: the installed ``openclaw`` and the directory holding its ``node``
    + keep: the newest this many archives of this gateway are kept, the older ones removed

    Each run takes a new archive (a backup is an action, not a state); a gateway with no state dir yet has
    nothing to back up and the operation does nothing.

    **Example:**

    .. code:: python

        gateway_backup.backup_created(
            name="Back up openclaw-gateway",
            archive="/var/backups/openclaw/openclaw-gateway/openclaw-gateway-20261205T170102Z-manual.tar.gz",
            state_dir="/home/openclaw/.openclaw", user="openclaw",
            openclaw_bin="/opt/openclaw/bin/openclaw", node_bin_dir="/opt/node/bin",
        )
    """
    _check_absolute(archive=archive, state_dir=state_dir, openclaw_bin=openclaw_bin, node_bin_dir=node_bin_dir)
    if keep < 1:
        raise OperationValueError(f"keep {keep} must be at least 1")
    (found,) = read_facts((Directory, {"path": state_dir}))
    if not found:
        host.noop(f"{state_dir} does not exist yet: nothing to back up")
        return
    yield from archive_commands(archive, state_dir, user, openclaw_bin, node_bin_dir, keep)


def _download(state: State, host: Host, remote: str, local: str) -> None:
    """Copy ``remote`` (readable by the login user) to ``local``, created 600 in its 700 directory before a byte
    is written."""
    directory = os.path.dirname(local)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)
    descriptor = os.open(f"{local}.partial", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as target:
        # Without sudo: pyinfra's sudo download copies the file to a world-readable temporary one.
        if not host.get_file(remote, target, _sudo=False):
            raise OperationError(f"download of {remote} failed")
    os.replace(f"{local}.partial", local)


@operation(is_idempotent=False)
def backup_fetched(
    archive: str, local_path: str, staging_dir: str | None = None
) -> Generator[PyinfraCommand, None, None]:
    """
    Copy the host's ``archive`` to ``local_path`` on the control machine (600, its directory 700).

    The archive is root's: a copy owned by the login user (600, in a fresh 700 directory under ``/tmp``) is
    downloaded without sudo, then removed. pyinfra's own download under sudo would stage a world-readable copy.

    + archive: the archive on the host
    + local_path: where the copy goes on the control machine
    + staging_dir: the login user's copy's directory on the host, made by this operation (refused if it exists);
      default a new random name under ``/tmp``
    """
    _check_absolute(archive=archive)
    if not os.path.isabs(local_path):
        raise OperationValueError(f"local_path {local_path!r} must be absolute")
    staging = staging_dir or f"/tmp/openclaw-infra-fetch-{secrets.token_hex(8)}"
    _check_absolute(staging_dir=staging)
    staged = posixpath.join(staging, posixpath.basename(archive))
    login = '"${SUDO_USER:-$(id -un)}"'
    yield StringCommand(
        "mkdir -m 700", quoted(staging), "&& install -m 600 -o", login, quoted(archive), quoted(staged),
        "&& chown", login, quoted(staging),
    )  # fmt: skip
    yield FunctionCommand(_download, (staged, local_path), {})
    yield StringCommand("rm -rf", quoted(staging))


@operation(is_idempotent=False)
def backup_restored(
    archive: str,
    state_dir: str,
    user: str,
    group: str,
    unit_name: str,
    openclaw_bin: str,
    node_bin_dir: str,
    kept_as: str,
    log_files: list[str] | None = None,
) -> Generator[StringCommand, None, None]:
    """
    Put the archive's copy of the gateway's state dir back in place: stop the gateway, move the current state dir
    aside to ``kept_as`` (kept, never deleted), move the restored one in (owned by ``user``:``group``, 700), start
    the gateway.

    Refused before anything changes when the archive is missing, is not an OpenClaw backup, or was taken from
    another state dir (another gateway, profile or user). The archive is checked and unpacked by the installed
    OpenClaw's ``openclaw backup restore`` into a root-only directory beside the archive.

    + archive: the archive, in this gateway's backups directory
    + state_dir: the gateway's ``OPENCLAW_STATE_DIR``
    + user, group: who owns the restored files
    + unit_name: the gateway's systemd unit
    + openclaw_bin, node_bin_dir: the installed ``openclaw`` and the directory holding its ``node``
    + kept_as: where the state dir it replaces goes, e.g. ``<state_dir>.pre-restore-<time>``; must not exist
    + log_files: the files under ``state_dir`` the service appends its output to. An archive holds no logs
      (OpenClaw skips them): the current ones are carried over, so the history survives and systemd does not
      create them root's when the unit starts
    """
    _check_absolute(archive=archive, state_dir=state_dir, openclaw_bin=openclaw_bin, node_bin_dir=node_bin_dir)
    logs = [posixpath.relpath(path, state_dir) for path in log_files or []]
    if any(log.startswith("..") for log in logs):
        raise OperationValueError(f"log_files {log_files} must lie under {state_dir}")
    (manifest,) = read_facts((BackupArchiveManifest, {"path": archive}))
    if manifest is None:
        directory = posixpath.dirname(archive)
        (names,) = read_facts((FindFiles, {"path": directory, "quote_path": True}))
        kept = sorted(posixpath.basename(name) for name in names or [] if name.endswith(SUFFIX))
        raise OperationError(f"no backup archive {archive}; the backups in {directory}: {', '.join(kept) or 'none'}")
    if manifest.state_dir != state_dir:
        raise OperationError(
            f"{archive} was taken from {manifest.state_dir}, not from this gateway's {state_dir}: restore a backup "
            "of this gateway (another gateway's or profile's state would replace its own)"
        )
    _check_absolute(kept_as=kept_as)
    if posixpath.dirname(kept_as) != posixpath.dirname(state_dir) or kept_as == state_dir:
        raise OperationValueError(f"kept_as {kept_as!r} must be a new name beside {state_dir}")
    moved_aside = kept_as
    directory = posixpath.dirname(archive)
    staging = posixpath.join(directory, ".restore")
    restored = posixpath.join(staging, manifest.archive_root, "payload/posix" + state_dir)
    yield StringCommand("rm -rf", quoted(staging), "&& install -d -m 700", quoted(directory))
    yield StringCommand(
        "env", quoted(f"PATH={node_bin_dir}:{SYSTEM_PATH}"), "HOME=/root", quoted(openclaw_bin),
        "backup restore --json", quoted(archive), "--target", quoted(staging), ">/dev/null",
        "&& test -d", quoted(restored),
        # As the deploy leaves a home: all the user's, nothing for others (chmod -R never follows a symlink).
        "&& chown -R", quoted(f"{user}:{group}"), quoted(restored), "&& chmod -R o-rwx", quoted(restored),
        "&& chmod 700", quoted(restored),
        "|| { rm -rf", quoted(staging), "; echo", quoted(f"{archive} could not be unpacked; nothing changed"),
        ">&2; exit 1; }",
    )  # fmt: skip
    yield StringCommand("systemctl stop", quoted(unit_name))
    # -T: never into a directory (or a link to one) someone put at the destination.
    yield StringCommand(
        "{ [ ! -e", quoted(state_dir), "] || mv -T", quoted(state_dir), quoted(moved_aside), "; }",
        "&& mv -T", quoted(restored), quoted(state_dir), "&& rm -rf", quoted(staging),
        "&& echo", quoted(f"restored {state_dir} from {archive}; the state it replaced is kept in {moved_aside}"),
    )  # fmt: skip
    for log in logs:
        current, carried = posixpath.join(moved_aside, log), posixpath.join(state_dir, log)
        yield StringCommand(
            "install -d -m 700 -o", quoted(user), "-g", quoted(group), quoted(posixpath.dirname(carried)),
            "&& if [ -f", quoted(current), "] && [ ! -L", quoted(current), "]; then cp -p", quoted(current),
            quoted(carried), "; else install -m 600 -o", quoted(user), "-g", quoted(group), "/dev/null",
            quoted(carried), "; fi",
        )  # fmt: skip
    yield StringCommand("systemctl start", quoted(unit_name))
