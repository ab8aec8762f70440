"""The guide's "Emergency procedures" for gateways that are systemd services: contain them, reset their
sessions, and gather what an audit reads."""

from __future__ import annotations

import os
import posixpath
from datetime import UTC, datetime

from pyinfra.api.deploy import deploy
from pyinfra.context import host
from pyinfra.operations import systemd

from openclaw_infra import firewall_policy
from openclaw_infra.deploy_context import current_settings
from openclaw_infra.deploys.gateway_lifecycle import require_systemd_gateways
from openclaw_infra.gateway_cli import GatewayCli
from openclaw_infra.gateway_paths import GatewayPaths
from openclaw_infra.operations import firewall, gateway_backup, gateway_sessions, verification
from openclaw_infra.settings import Gateway, Settings


@deploy("OpenClaw gateway containment")
def gateway_contained() -> None:
    """The guide's "Contain": every gateway of the host stopped and kept from starting at boot, its ports closed
    in the firewall to every source, and that verified. Nothing under the state dirs or secrets is touched; the
    gateway deploy brings everything back."""
    require_systemd_gateways("deploys/contain.py")
    settings = current_settings().settings
    units = [GatewayPaths(settings, gateway).unit_name for gateway in settings.gateways]
    for gateway, unit in zip(settings.gateways, units, strict=True):
        systemd.service(
            name=f"{gateway.service_name}: stopped, not started at boot", service=unit, running=False, enabled=False
        )
    if settings.firewall.enabled:
        firewall.gateway_ports_closed(
            name="Firewall: the gateway ports closed to every source",
            ports=[gateway.port for gateway in settings.gateways],
        )
    verification.contained_verified(
        name="Verify the gateways are contained", units=units, ports=sorted(firewall_policy.gateway_ports(settings))
    )


def gateway_cli(settings: Settings, gateway: Gateway) -> GatewayCli:
    """The gateway as its CLI must see it, from the settings."""
    paths = GatewayPaths(settings, gateway)
    return GatewayCli(
        user=paths.user,
        home=paths.home,
        state_dir=paths.state_dir,
        secrets_file=paths.secrets,
        openclaw_bin=paths.openclaw_bin,
        node_bin_dir=paths.node_bin_dir,
        port=gateway.port,
        profile=gateway.profile,
    )


@deploy("OpenClaw session reset")
def sessions_reset() -> None:
    """Every session of every gateway of the host deleted through the gateway (transcripts archived)."""
    require_systemd_gateways("deploys/reset_sessions.py")
    settings = current_settings().settings
    for gateway in settings.gateways:
        gateway_sessions.sessions_reset(
            name=f"{gateway.service_name}: every session reset", gateway=gateway_cli(settings, gateway)
        )


@deploy("OpenClaw audit bundle")
def audit_bundles() -> None:
    """Each gateway's audit bundle gathered on the host (root's, 600) and copied to ``audit_dir`` on the control
    machine (``<audit_dir>/<host>/``, 600 in 700)."""
    require_systemd_gateways("deploys/audit.py")
    settings = current_settings().settings
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for gateway in settings.gateways:
        paths = GatewayPaths(settings, gateway)
        archive = posixpath.join(paths.backups_dir, f"{gateway.service_name}-{stamp}-audit{gateway_backup.SUFFIX}")
        gateway_sessions.audit_bundle_collected(
            name=f"{gateway.service_name}: audit bundle gathered",
            archive=archive,
            unit_name=paths.unit_name,
            gateway=gateway_cli(settings, gateway),
        )
        local = os.path.join(os.path.abspath(os.path.expanduser(settings.audit_dir)), host.name)
        gateway_backup.backup_fetched(
            name=f"{gateway.service_name}: audit bundle copied to {local}",
            archive=archive,
            local_path=os.path.join(local, posixpath.basename(archive)),
        )
