"""The gateway as a systemd system service: its hardened unit, rendered from templates/systemd/."""

from __future__ import annotations

import posixpath
from collections.abc import Generator
from io import StringIO

from pyinfra import logger
from pyinfra.api.command import PyinfraCommand, StringCommand
from pyinfra.api.exceptions import OperationError, OperationValueError
from pyinfra.api.operation import operation
from pyinfra.context import host, state
from pyinfra.facts.files import FindFiles, FindInFile
from pyinfra.operations import files

from openclaw_infra import signal_channel
from openclaw_infra.facts.systemd_unit import SystemdUnitState
from openclaw_infra.gateway_paths import SECRETS_DIR, SYSTEMD_DIR, GatewayPaths
from openclaw_infra.operations.file_ownership import file_is_current
from openclaw_infra.quoting import quoted, systemd_word_value
from openclaw_infra.rendering import render
from openclaw_infra.settings import Gateway, Settings

DOCKER_SOCKET = "/run/docker.sock"
# What systemd-analyze security gives the unit this deploy writes: 1.3 measured on systemd 252 (Debian 12).
# A drop-in or an edit that gives back any of the hardening pushes it above.
MAX_EXPOSURE = 1.5
# Properties ``systemctl show`` prints as the unit file sets them (word order aside): who the gateway runs as and
# its sandbox. A drop-in that changes any of them changes what runs, whatever the unit file says.
CHECKED_PROPERTIES = (
    "User", "Group", "SupplementaryGroups", "NoNewPrivileges", "CapabilityBoundingSet", "AmbientCapabilities",
    "UMask", "LimitCORE", "ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateUsers", "PrivateDevices",
    "PrivateIPC", "PrivateMounts", "ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs",
    "ProtectControlGroups", "ProtectClock", "ProtectHostname", "ProtectProc", "RestrictNamespaces",
    "LockPersonality", "RestrictRealtime", "RemoveIPC", "RestrictAddressFamilies", "SystemCallArchitectures",
)  # fmt: skip
# Read with them: the drop-ins systemd loaded (any directory, shared ones included), and whether the unit failed.
DROP_IN_PATHS = "DropInPaths"
ACTIVE_STATE = "ActiveState"


def unit_content(settings: Settings, gateway: Gateway, paths: GatewayPaths) -> str:
    """The unit file of ``gateway``: its user, state dir, secrets file, port, and the hardening of the template."""
    return render(
        "systemd/openclaw-gateway.service.j2",
        description=f"OpenClaw Gateway ({gateway.profile})" if gateway.profile else "OpenClaw Gateway",
        user=paths.user,
        group=paths.user,
        home=paths.home,
        state_dir=paths.state_dir,
        logs_dir=paths.logs_dir,
        node_bin=posixpath.join(paths.node_bin_dir, "node"),
        openclaw_entry=paths.openclaw_entry,
        port=gateway.port,
        profile=gateway.profile,
        service_name=gateway.service_name,
        secrets_env_file=paths.secrets,
        docker_sandbox=settings.docker_sandbox,
        docker_socket=DOCKER_SOCKET,
        extra_rw_paths=[],
        java_home=signal_channel.java_home_of(settings, gateway),
    )


def effective_value(value: str) -> str:
    """A property as compared: word order does not count (systemd prints address families sorted)."""
    return " ".join(sorted(value.split()))


def expected_properties(content: str) -> dict[str, str]:
    """The ``CHECKED_PROPERTIES`` the unit file ``content`` sets in ``[Service]`` ("" where it sets none): what
    ``systemctl show`` must print for them when nothing overrides the file."""
    section, found = "", dict.fromkeys(CHECKED_PROPERTIES, "")
    for line in content.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            section = stripped
        elif section == "[Service]" and "=" in stripped and not stripped.startswith(("#", ";")):
            key, _, value = stripped.partition("=")
            if key in found:
                found[key] = effective_value(value)
    return found


def unit_properties_query() -> str:
    """The ``properties`` argument of the ``SystemdUnitState`` fact both the deploy and its checks read."""
    return ",".join((*CHECKED_PROPERTIES, DROP_IN_PATHS, ACTIVE_STATE))


def is_own_drop_in(path: str, unit_name: str) -> bool:
    """A drop-in of this unit alone (``…/<unit>.d/x.conf``), not one shared with other units (``service.d``)."""
    return posixpath.basename(posixpath.dirname(path)) == f"{unit_name}.d"


@operation()
def systemd_unit(path: str, content: str) -> Generator[PyinfraCommand, None, None]:
    """
    Install a system unit file (root:root 644) with no drop-ins, and reload systemd when, and only when, either
    changed.

    The unit is the deploy's: a drop-in of it (``<unit>.d/*.conf`` anywhere systemd looks, loaded or not yet) can
    run the gateway as root or without its sandbox, so it is removed. A drop-in shared with other units
    (``service.d/``) is refused, naming it, since removing it changes those too. A unit systemd gave up on
    (``failed``: say files a root-run gateway left made it crash until its start limit) is reset, so starting it
    again is possible once that is put right.
    Restarting the service is the caller's: it also depends on config, secrets and binaries (``_if=any_changed``).

    + path: ``/etc/systemd/system/<name>.service``
    + content: the whole unit, e.g. from ``unit_content``
    """
    if not (posixpath.isabs(path) and path.endswith(".service")):
        raise OperationValueError(f"{path!r} is not the absolute path of a .service unit")
    unit_name = posixpath.basename(path)
    unit = host.get_fact(SystemdUnitState, unit=unit_name, properties=unit_properties_query())
    loaded = unit.properties.get(DROP_IN_PATHS, "").split()
    shared = [drop_in for drop_in in loaded if not is_own_drop_in(drop_in, unit_name)]
    if shared:
        raise OperationError(
            f"{unit_name} is changed by drop-ins it shares with other units: {', '.join(shared)}. Fix: move what "
            f"they set for other units into those units' own drop-ins (a <unit>.d directory), then deploy again."
        )
    drop_ins = sorted({*loaded, *unit.drop_in_files})
    unchanged = file_is_current(path, content, "root", "root", 644)
    failed = unit.properties.get(ACTIVE_STATE) == "failed"
    if unchanged and not drop_ins and not failed:
        host.noop(f"{path} is up to date, with no drop-in")
        return
    put = files.put._inner(src=StringIO(content), dest=path, user="root", group="root", mode="644")
    upload = [] if unchanged else list(put)
    yield from upload
    if drop_ins:
        yield StringCommand("rm", "-f", "--", *(quoted(drop_in) for drop_in in drop_ins))
    if upload or drop_ins:
        yield StringCommand("systemctl", "daemon-reload")
    if failed:
        yield StringCommand("systemctl", "reset-failed", "--", quoted(unit_name))


# Where a retired gateway's state dir is archived before its files go: root's alone, kept.
RETIRED_BACKUP_DIR = "/var/backups/openclaw-infra"
UNIT_PREFIX = "openclaw-gateway"
_STATE_DIR_LINE = "^Environment=.*OPENCLAW_STATE_DIR="


def _state_dir_in(lines: list[str] | None) -> str | None:
    """The state dir an ``Environment=OPENCLAW_STATE_DIR=…`` line of a unit this deploy wrote names."""
    for line in lines or []:
        value = systemd_word_value(line.partition("=")[2].strip())
        if value.startswith("OPENCLAW_STATE_DIR="):
            return value.partition("=")[2]
    return None


def _retired_files(unit_name: str) -> list[str]:
    """What the deploy wrote for the gateway of ``unit_name`` besides its unit: secrets, cron job, log rotation."""
    profile = unit_name.removesuffix(".service").removeprefix(UNIT_PREFIX).removeprefix("-") or None
    gateway = Gateway(profile=profile)
    return [
        posixpath.join(SECRETS_DIR, gateway.secrets_file_name),
        f"/etc/cron.d/{gateway.service_name}",
        f"/etc/logrotate.d/{gateway.service_name}",
    ]


@operation()
def retired_gateways_removed(
    kept_units: list[str], backup_dir: str = RETIRED_BACKUP_DIR
) -> Generator[PyinfraCommand, None, None]:
    """
    Gateways this deploy made that the settings no longer name: each unit ``openclaw-gateway*.service`` in
    /etc/systemd/system not in ``kept_units`` and written by this deploy (it names its state dir) stopped and
    disabled, its state dir archived (``tar``, root-only, 0600 in a 0700 ``backup_dir``) and kept, then its unit,
    secrets file, cron job and log rotation removed. The archive is made after the stop (a consistent sessions
    database) and before anything is removed; a failed archive removes nothing. What was kept and where it was
    archived is said in the output. A unit of that name the deploy did not write is left alone.

    + kept_units: the unit names of the gateways the settings name, e.g. ``["openclaw-gateway.service"]``
    + backup_dir: where the archives go
    """
    if not posixpath.isabs(backup_dir):
        raise OperationValueError(f"backup_dir {backup_dir!r} must be absolute")
    found = host.get_fact(FindFiles, path=SYSTEMD_DIR, maxdepth=1, fname=f"{UNIT_PREFIX}*.service") or []
    candidates = sorted(path for path in found if posixpath.basename(path) not in kept_units)
    # Only a unit this deploy wrote (it names the gateway's state dir) is retired; another of that name is someone
    # else's, and is left alone.
    retired = {
        path: state_dir
        for path in candidates
        if (state_dir := _state_dir_in(host.get_fact(FindInFile, path=path, pattern=_STATE_DIR_LINE)))
    }
    others = [path for path in candidates if path not in retired]
    if not retired:
        left = f"; left alone, not written by this deploy: {', '.join(others)}" if others else ""
        host.noop(f"no gateway unit other than {', '.join(kept_units) or 'none'}{left}")
        return
    for unit_path, state_dir in retired.items():
        unit_name = posixpath.basename(unit_path)
        yield StringCommand("systemctl", "disable", "--now", "--", quoted(unit_name))
        archive = posixpath.join(backup_dir, unit_name.removesuffix(".service"))
        yield StringCommand(
            "umask 077 && install -d -m 700", quoted(backup_dir), "&&",
            StringCommand("archive=", quoted(archive), '"-$(date -u +%Y%m%dT%H%M%SZ).tar.gz"', _separator=""),
            "&& tar -C", quoted(posixpath.dirname(state_dir)), "-czf", '"$archive"', "--",
            quoted(posixpath.basename(state_dir)),
            "&& echo", quoted(f"{unit_name} retired: its state dir {state_dir} is kept, archived in"), '"$archive"',
        )  # fmt: skip
        if state.is_executing:
            logger.warning(
                f"{host.name}: {unit_name} is no longer in the settings: stopped and removed; its state dir "
                f"{state_dir} is kept, and archived in {backup_dir}"
            )
        yield StringCommand("rm", "-f", "--", quoted(unit_path), *(quoted(path) for path in _retired_files(unit_name)))
    yield StringCommand("systemctl", "daemon-reload")
