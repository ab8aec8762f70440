"""OpenClaw gateways as hardened systemd services on a Linux host: Docker isolation on a Linux machine, and the
inside of a Linux VM, are this same deployment (the guide's "Linux: systemd").

Every step is its own idempotent operation; a second run changes nothing, and the service restarts only when
its unit, config, secrets or binaries changed.
"""

from __future__ import annotations

import posixpath
from io import StringIO

from pyinfra.api.deploy import deploy
from pyinfra.api.hiddenvalue import HiddenValue
from pyinfra.context import host
from pyinfra.operations import apt, files, systemd
from pyinfra.operations.util import any_changed

from openclaw_infra.deploy_context import current_settings, require_deploy
from openclaw_infra.gateway_paths import GatewayPaths
from openclaw_infra.operations import (
    docker_engine,
    firewall,
    gateway_config,
    log_maintenance,
    node_runtime,
    openclaw_package,
    preflight,
    secret_files,
    service_account,
    verification,
)
from openclaw_infra.rendering import render
from openclaw_infra.settings import Gateway, Settings

SANDBOX_NETWORK = "openclaw-sandbox"
EGRESS_NETWORK = "openclaw-egress"
BASE_PACKAGES = ["ca-certificates", "curl", "xz-utils", "logrotate", "cron", "ufw", "iproute2"]


def unit_content(settings: Settings, gateway: Gateway, paths: GatewayPaths) -> str:
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
        docker_socket="/run/docker.sock",
        extra_rw_paths=[],
    )


def ssh_port_in_use(settings: Settings) -> int:
    """The port SSH must stay open on: the settings' choice, else the one pyinfra is connected on."""
    return settings.firewall.ssh_port or int(host.data.get("ssh_port") or 22)


# The isolation models this deployment serves: the deploy files that are thin entries over it.
LINUX_SYSTEMD_DEPLOYS = ("deploys/docker_isolation.py", "deploys/linux_vm.py")


@deploy("OpenClaw gateway (Linux, systemd)")
def linux_gateway() -> None:
    # Imported into an operator's own deploy, it still refuses hosts of another model (a Mac, a container).
    require_deploy(*LINUX_SYSTEMD_DEPLOYS)
    host_settings = current_settings()
    settings = host_settings.settings

    preflight.host_ready(name="Check the host can carry the OpenClaw settings", settings=settings)
    apt.packages(name="Base packages", packages=BASE_PACKAGES, update=True, cache_time=3600)

    node = node_runtime.node(
        name=f"Node {settings.node.version}",
        version=settings.node.version,
        install_method=settings.node.install_method,
        prefix=settings.node.prefix,
        tarball_base_url=settings.node.tarball_base_url,
    )
    if settings.docker_sandbox:
        docker_engine.docker_engine(name="Docker engine")
        docker_engine.docker_networks(
            name="Docker networks for sandboxed agents", internal=[SANDBOX_NETWORK], external=[EGRESS_NETWORK]
        )
    openclaw = openclaw_package.openclaw(
        name=f"OpenClaw {settings.openclaw.version}",
        version=settings.openclaw.version,
        prefix=settings.openclaw.prefix,
        node_prefix=settings.node.prefix,
    )
    for user in settings.users:
        service_account.service_account(
            name=f"Service user {user}", user=user, home=settings.home_of(user), docker_access=settings.docker_sandbox
        )

    for gateway in settings.gateways:
        paths = GatewayPaths(settings, gateway)
        service = gateway.service_name
        service_account.gateway_directories(
            name=f"{service}: state and logs dirs", user=paths.user, state_dir=paths.state_dir, logs_dir=paths.logs_dir
        )
        config = gateway_config.gateway_config(
            name=f"{service}: openclaw.json",
            path=paths.config,
            content=gateway_config.gateway_config_content(
                bind=gateway.bind,
                port=gateway.port,
                auth_mode=gateway.auth_mode,
                pruning_enabled=settings.transcript_pruning.enabled,
                prune_after_days=settings.transcript_pruning.prune_after_days,
                max_entries=settings.transcript_pruning.max_entries,
                extra_config=gateway.extra_config,
            ),
            user=paths.user,
            group=paths.user,
            openclaw_bin=paths.openclaw_bin,
            node_bin_dir=paths.node_bin_dir,
            state_dir=paths.state_dir,
        )
        secret_values = host_settings.secrets_of(gateway)
        secrets = secret_files.secret_file(
            name=f"{service}: secrets file",
            path=paths.secrets,
            content=HiddenValue(secret_files.environment_file_content(secret_values)),  # type: ignore[no-untyped-call]
        )
        if settings.cli_secrets_copy:
            secret_files.secret_file(
                name=f"{service}: secrets copy for the CLI",
                path=paths.cli_secrets,
                content=HiddenValue(secret_files.environment_file_content(secret_values)),  # type: ignore[no-untyped-call]
                user=paths.user,
                group=paths.user,
            )
        else:
            files.file(name=f"{service}: no secrets copy for the CLI", path=paths.cli_secrets, present=False)
        unit = files.put(
            name=f"{service}: systemd unit",
            src=StringIO(unit_content(settings, gateway, paths)),
            dest=paths.unit,
            user="root",
            group="root",
            mode="644",
        )
        systemd.daemon_reload(name=f"{service}: reload systemd", _if=unit.did_change)
        systemd.service(
            name=f"{service}: restart on change",
            service=paths.unit_name,
            running=True,
            restarted=True,
            _if=any_changed(node, openclaw, config, secrets, unit),
        )
        systemd.service(
            name=f"{service}: running, enabled at boot", service=paths.unit_name, running=True, enabled=True
        )
        log_maintenance.gateway_logrotate(
            name=f"{service}: log rotation",
            config_name=service,
            logs_dir=paths.logs_dir,
            user=paths.user,
            frequency=settings.log_rotation.frequency,
            keep=settings.log_rotation.keep,
            max_size=settings.log_rotation.max_size,
            compress=settings.log_rotation.compress,
            present=settings.log_rotation.enabled,
        )
        log_maintenance.transcript_pruning(
            name=f"{service}: transcript pruning",
            cron_name=service.replace(".", "-"),
            user=paths.user,
            state_dir=paths.state_dir,
            openclaw_bin=paths.openclaw_bin,
            node_bin_dir=paths.node_bin_dir,
            profile=gateway.profile,
            schedule=settings.transcript_pruning.schedule,
            prune_after_days=settings.transcript_pruning.prune_after_days,
            present=settings.transcript_pruning.enabled,
        )

    if settings.firewall.enabled:
        firewall.ufw_firewall(
            name="Firewall (ufw)",
            ssh_port=ssh_port_in_use(settings),
            gateway_ports=[gateway.port for gateway in settings.gateways],
            gateway_sources=[str(source) for source in settings.firewall.gateway_allowed_sources],
        )

    for gateway in settings.gateways:
        paths = GatewayPaths(settings, gateway)
        verification.gateway_verified(
            name=f"{gateway.service_name}: verify",
            service=gateway.service_name,
            port=gateway.port,
            expected_modes=paths.expected_modes(),
        )
