"""The lifecycle steps the gateway deploys share: backups of a gateway's state, taken on their own or before an
upgrade or a config change replaces what is there, and the upgrade's health check with its rollback."""

from __future__ import annotations

import dataclasses
import os
import posixpath
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

from pyinfra.api.deploy import deploy
from pyinfra.api.operation import OperationMeta
from pyinfra.context import ctx_state, host
from pyinfra.facts.files import Link

from openclaw_infra.deploy_context import current_settings, inventory_settings
from openclaw_infra.facts.batch import read_facts
from openclaw_infra.facts.installed_versions import OpenClawVersion
from openclaw_infra.gateway_paths import LOG_FILE_NAMES, GatewayPaths
from openclaw_infra.host_settings import SettingsError
from openclaw_infra.operations import gateway_backup, gateway_config, openclaw_upgrade, verification
from openclaw_infra.operations.openclaw_upgrade import UpgradedGateway
from openclaw_infra.settings import Gateway, Settings, data_key

# The models whose gateways are systemd services of the host (docker-isolation on Linux, inside a Linux VM): the
# lifecycle deploys stop, start and check gateways through their units.
SYSTEMD_MODELS = {("docker-isolation", "linux"), ("linux-vm", "linux")}
RESTORE_KEY = data_key("restore_backup")  # one of settings.LIFECYCLE_REQUESTS


def backed_up(settings: Settings, gateway: Gateway, reason: str, now: datetime) -> tuple[OperationMeta, str]:
    """One gateway's state archived now (nothing when it has no state dir yet). Returns the operation and the
    archive's path."""
    paths = GatewayPaths(settings, gateway)
    archive = posixpath.join(paths.backups_dir, gateway_backup.archive_name(gateway.service_name, reason, now))
    archived = gateway_backup.backup_created(
        name=f"{gateway.service_name}: backup of its state ({reason})",
        archive=archive,
        state_dir=paths.state_dir,
        user=paths.user,
        openclaw_bin=paths.openclaw_bin,
        node_bin_dir=paths.node_bin_dir,
        keep=settings.backups.keep,
    )
    return archived, archive


@dataclasses.dataclass(frozen=True)
class PendingUpgrade:
    """An installed OpenClaw the pinned one is about to replace, and each gateway's archive taken before."""

    installed: str
    previous_release: str | None
    archives: dict[str, str]


def backed_up_before_upgrade(settings: Settings) -> PendingUpgrade | None:
    """When the pin replaces an installed OpenClaw, every gateway's state archived first (before the switch)."""
    prefix = settings.openclaw.prefix
    installed, link = read_facts((OpenClawVersion, {"prefix": prefix}), (Link, {"path": prefix}))
    if installed is None or installed == settings.openclaw.version:
        return None
    previous = None
    if link:
        target = PurePosixPath(link["link_target"])
        previous = str(target if target.is_absolute() else PurePosixPath(prefix).parent / target)
    now = datetime.now(UTC)
    archives: dict[str, str] = {}
    for gateway in settings.gateways:
        _, archives[gateway.service_name] = backed_up(settings, gateway, "pre-upgrade", now)
    return PendingUpgrade(installed=installed, previous_release=previous, archives=archives)


def backed_up_before_config_change(settings: Settings, gateway: Gateway, content: str) -> None:
    """The gateway's state archived before a different openclaw.json replaces the one it runs on."""
    if gateway_config.replaces_existing(GatewayPaths(settings, gateway).config, content):
        backed_up(settings, gateway, "pre-config", datetime.now(UTC))


def upgrade_checked(settings: Settings, upgrade: PendingUpgrade | None, openclaw: OperationMeta) -> None:
    """After the restarts: every gateway healthy on the new release, or everything switched back."""
    if upgrade is None:
        return
    gateways = [
        UpgradedGateway(
            paths=GatewayPaths(settings, gateway),
            port=gateway.port,
            pre_upgrade_archive=upgrade.archives.get(gateway.service_name),
        )
        for gateway in settings.gateways
    ]
    openclaw_upgrade.upgrade_healthy_or_rolled_back(
        name=f"OpenClaw {upgrade.installed} -> {settings.openclaw.version}: gateways healthy, or rolled back",
        version=settings.openclaw.version,
        prefix=settings.openclaw.prefix,
        previous_release=upgrade.previous_release,
        gateways=gateways,
        _if=openclaw.did_change,
    )


def require_systemd_gateways(deploy_file: str) -> None:
    """Refuse the whole run, before any operation, when a host's gateways are not systemd services."""
    inventory = ctx_state.get().inventory  # type: ignore[no-untyped-call]
    problems = []
    for inventory_host in inventory:
        settings = current_settings_of(inventory_host.name)
        if (settings.isolation, settings.os_family) not in SYSTEMD_MODELS:
            problems.append(
                f"host {inventory_host.name!r}: {deploy_file} handles gateways that are systemd services "
                f"({data_key('isolation')} docker-isolation or linux-vm on linux); this host is "
                f"{settings.isolation!r} on {settings.os_family!r}, which it does not handle yet."
            )
    if problems:
        raise SettingsError(problems)


def current_settings_of(host_name: str) -> Settings:
    return inventory_settings(ctx_state.get())[host_name].settings  # type: ignore[no-untyped-call]


@deploy("OpenClaw gateway backups")
def gateway_backups() -> None:
    """Every gateway of the host archived now; with ``backups.fetch_to``, each archive also copied to the control
    machine (``<fetch_to>/<host>/``)."""
    require_systemd_gateways("deploys/backup.py")
    settings = current_settings().settings
    now = datetime.now(UTC)
    fetch_to = settings.backups.fetch_to
    for gateway in settings.gateways:
        archived, archive = backed_up(settings, gateway, "manual", now)
        if fetch_to:
            local = os.path.join(os.path.abspath(os.path.expanduser(fetch_to)), host.name)
            gateway_backup.backup_fetched(
                name=f"{gateway.service_name}: archive copied to {local}",
                archive=archive,
                local_path=os.path.join(local, posixpath.basename(archive)),
                _if=archived.did_change,
            )


def _restore_problem(host_name: str, data: Any, settings: Settings) -> str | None:
    name = data.get(RESTORE_KEY)
    fix = f"pass the archive's file name, e.g. --data {RESTORE_KEY}=openclaw-gateway-20261205T170102Z-manual.tar.gz"
    if not isinstance(name, str) or not gateway_backup.archive_service(name):
        return f"host {host_name!r}: {RESTORE_KEY} {name!r} is not a backup archive's file name. Fix: {fix}."
    services = [gateway.service_name for gateway in settings.gateways]
    if gateway_backup.archive_service(name) not in services:
        return (
            f"host {host_name!r}: {RESTORE_KEY} {name!r} is an archive of {gateway_backup.archive_service(name)!r}, "
            f"which is not a gateway of this host ({', '.join(services)}). Fix: name an archive of one of them."
        )
    return None


@deploy("OpenClaw gateway restore")
def gateway_restore() -> None:
    """One gateway's state put back from a named archive of its own (``--data openclaw_restore_backup=<file>``),
    then the host verified as the deploy verifies it."""
    require_systemd_gateways("deploys/restore.py")
    inventory = ctx_state.get().inventory  # type: ignore[no-untyped-call]
    problems = [
        problem
        for inventory_host in inventory
        if (
            problem := _restore_problem(
                inventory_host.name, inventory_host.data, current_settings_of(inventory_host.name)
            )
        )
    ]
    if problems:
        raise SettingsError(problems)
    host_settings = current_settings()
    settings = host_settings.settings
    name = host.data.get(RESTORE_KEY)
    gateway = next(
        gateway for gateway in settings.gateways if gateway.service_name == gateway_backup.archive_service(name)
    )
    paths = GatewayPaths(settings, gateway)
    gateway_backup.backup_restored(
        name=f"{gateway.service_name}: state restored from {name}",
        archive=posixpath.join(paths.backups_dir, name),
        state_dir=paths.state_dir,
        user=paths.user,
        group=paths.group,
        unit_name=paths.unit_name,
        openclaw_bin=paths.openclaw_bin,
        node_bin_dir=paths.node_bin_dir,
        kept_as=f"{paths.state_dir}.pre-restore-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}",
        log_files=[posixpath.join(paths.logs_dir, log) for log in LOG_FILE_NAMES],
    )
    verification.host_verified(name=verification.VERIFY_OPERATION, host_settings=host_settings)
