"""OpenClaw gateways as hardened systemd services on a Linux host: Docker isolation on a Linux machine, and the
inside of a Linux VM, are this same deployment (the guide's "Linux: systemd").

Every step is its own idempotent operation; a second run changes nothing, and the service restarts only when
its unit, config, secrets or binaries changed.
"""

from __future__ import annotations

import posixpath

from pyinfra.api.deploy import deploy
from pyinfra.api.hiddenvalue import HiddenValue
from pyinfra.api.operation import OperationMeta
from pyinfra.context import host
from pyinfra.operations import files, systemd
from pyinfra.operations.util import any_changed

from openclaw_infra import firewall_policy, local_admin_agent
from openclaw_infra.deploy_context import current_settings, require_deploy
from openclaw_infra.deploys import gateway_lifecycle, signal_setup
from openclaw_infra.deploys.gateway_lifecycle import PendingUpgrade
from openclaw_infra.deploys.pinned_releases import pinned_node, pinned_openclaw
from openclaw_infra.expected_state import EGRESS_NETWORK, SANDBOX_NETWORK
from openclaw_infra.gateway_paths import GatewayPaths
from openclaw_infra.host_settings import HostSettings
from openclaw_infra.operations import agent_sandbox as agent_sandbox_operations
from openclaw_infra.operations import (
    docker_engine,
    docker_images,
    firewall,
    gateway_config,
    gateway_ports,
    gateway_service,
    log_maintenance,
    openclaw_package,
    preflight,
    secret_files,
    service_account,
    system_packages,
    tailscale,
    verification,
)
from openclaw_infra.operations import reverse_proxy as reverse_proxy_operations
from openclaw_infra.secrets_file import environment_file_content
from openclaw_infra.settings import Gateway, Settings

BASE_PACKAGES = ["ca-certificates", "curl", "xz-utils", "logrotate", "cron", "ufw", "iproute2"]
# With the Docker sandbox: debootstrap makes the sandbox image's base, nft loads the egress rules.
SANDBOX_PACKAGES = ["debootstrap", "nftables"]
VERIFY_OPERATION = verification.VERIFY_OPERATION


def ssh_port_in_use(settings: Settings) -> int:
    """The port SSH must stay open on: the settings' choice, else the one pyinfra is connected on."""
    return settings.firewall.ssh_port or int(host.data.get("ssh_port") or 22)


# The isolation models this deployment serves: the deploy files that are thin entries over it.
LINUX_SYSTEMD_DEPLOYS = ("deploys/docker_isolation.py", "deploys/linux_vm.py")


def host_base(settings: Settings) -> tuple[OperationMeta, OperationMeta, PendingUpgrade | None]:
    """Everything the gateways of a host share: checks, packages, Node, Docker, OpenClaw and the service users.
    Returns the Node and OpenClaw operations, whose changes restart every gateway, and the upgrade under way
    (each gateway's state archived before it). An upgraded OpenClaw is installed, not yet switched in
    (``release_in_use``)."""
    preflight.host_ready(name="Check the host can carry the OpenClaw settings", settings=settings)
    packages = [*BASE_PACKAGES, *(SANDBOX_PACKAGES if settings.docker_sandbox else [])]
    system_packages.debian_packages(name="Base packages", packages=packages)
    node = pinned_node(settings)
    if settings.docker_sandbox:
        agent_sandbox(settings)
    upgrade = gateway_lifecycle.backed_up_before_upgrade(settings)
    # An upgrade installs beside the release in use, and each gateway's config is checked by the new release before
    # it is switched in. A first install (or a reinstall) switches at once: there is nothing to keep running.
    openclaw = pinned_openclaw(settings, switch=upgrade is None)
    for user in settings.users:
        service_account.service_account(
            name=f"Service user {user}", user=user, home=settings.home_of(user), docker_access=settings.docker_sandbox
        )
    if settings.docker_sandbox:
        service_account.docker_group(name="Docker group: only the service users", members=settings.users)
    gateway_ports.foreign_listeners_stopped(
        name="Gateway ports: no other process listening beyond loopback",
        units=[f"{gateway.service_name}.service" for gateway in settings.gateways],
        ports=sorted(firewall_policy.gateway_ports(settings)),
        binds={gateway.port: gateway.bind for gateway in settings.gateways if gateway.bind != "loopback"},
    )
    return node, openclaw, upgrade


def release_in_use(settings: Settings) -> OperationMeta:
    """The pinned OpenClaw switched in (``/opt/openclaw`` pointed at it); the one it replaces kept beside it."""
    return openclaw_package.release_switched(
        name=f"OpenClaw {settings.openclaw.version}: the release in use",
        version=settings.openclaw.version,
        prefix=settings.openclaw.prefix,
    )


def sandbox_images(debian_mirror: str) -> OperationMeta:
    """The agents' sandbox image, on a Debian base debootstrap makes from ``debian_mirror``."""
    docker_images.debian_base_image(
        name=f"Base image {docker_images.SANDBOX_BASE_IMAGE}",
        reference=docker_images.SANDBOX_BASE_IMAGE,
        packages=docker_images.SANDBOX_BASE_PACKAGES,
        mirror=debian_mirror,
    )
    return docker_images.sandbox_image(
        name=f"Sandbox image {docker_images.SANDBOX_IMAGE}",
        reference=docker_images.SANDBOX_IMAGE,
        base_image=docker_images.SANDBOX_BASE_IMAGE,
    )


def agent_sandbox(settings: Settings) -> None:
    """Docker, the agents' sandbox networks and image, and what those networks may reach (the guide's "Docker
    Sandboxing"); openclaw.json's ``agents.defaults.sandbox`` names the image and network."""
    docker_engine.docker_engine(name="Docker engine")
    docker_engine.docker_networks(
        name="Docker networks for sandboxed agents", internal=[SANDBOX_NETWORK], external=[EGRESS_NETWORK]
    )
    sandbox_images(settings.debian_mirror)
    agent_sandbox_operations.egress_ruleset(
        name="Sandbox egress: openclaw-sandbox reaches nothing, openclaw-egress only its allowlist",
        sandbox_network=SANDBOX_NETWORK,
        egress_network=EGRESS_NETWORK,
        allowlist=agent_sandbox_operations.allowlist_entries(settings.sandbox.egress_allowlist),
    )
    # After the rules file exists: the unit loads it at every boot, before Docker starts a container.
    gateway_service.systemd_unit(
        name="Sandbox egress: systemd unit loading the rules at boot",
        path=agent_sandbox_operations.UNIT_PATH,
        content=agent_sandbox_operations.unit_content(),
    )
    systemd.service(
        name="Sandbox egress: unit active, enabled at boot",
        service=agent_sandbox_operations.UNIT_NAME,
        running=True,
        enabled=True,
    )


def gateway_files(
    host_settings: HostSettings, gateway: Gateway, upgrading: bool = False, validating_release: str | None = None
) -> list[OperationMeta]:
    """One gateway's directories, config and secrets (its state archived first when a changed config replaces
    its own, unless an upgrade just archived it); the config checked by the release at ``validating_release``
    (default: the one in use). Returns the operations whose changes restart it."""
    settings = host_settings.settings
    paths = GatewayPaths(settings, gateway)
    service = gateway.service_name
    service_account.gateway_directories(
        name=f"{service}: state and logs dirs", user=paths.user, state_dir=paths.state_dir, logs_dir=paths.logs_dir
    )
    config_content = gateway_config.content_for(settings, gateway)
    if not upgrading:
        gateway_lifecycle.backed_up_before_config_change(settings, gateway, config_content)
    config = gateway_config.gateway_config(
        name=f"{service}: openclaw.json",
        path=paths.config,
        content=config_content,
        user=paths.user,
        group=paths.user,
        openclaw_bin=posixpath.join(validating_release, "bin/openclaw") if validating_release else paths.openclaw_bin,
        node_bin_dir=paths.node_bin_dir,
        state_dir=paths.state_dir,
    )
    admin_agent = local_admin_agent.paths_of(settings, gateway)
    for directory in admin_agent.made if admin_agent else ():
        files.directory(
            name=f"{service}: local admin agent's {directory}",
            path=directory,
            user=paths.user,
            group=paths.user,
            mode="700",
        )
    content = HiddenValue(environment_file_content(host_settings.secrets_of(gateway)))  # type: ignore[no-untyped-call]
    secrets = secret_files.secret_file(name=f"{service}: secrets file", path=paths.secrets, content=content)
    secret_files.stray_copies_quarantined(
        name=f"{service}: no stray copies of its secrets under {paths.home}",
        secrets_file=paths.secrets,
        directory=paths.home,
        allowed=[paths.cli_secrets] if settings.cli_secrets_copy else [],
    )
    if settings.cli_secrets_copy:
        secret_files.secret_file(
            name=f"{service}: secrets copy for the CLI",
            path=paths.cli_secrets,
            content=content,
            user=paths.user,
            group=paths.user,
        )
    else:
        files.file(name=f"{service}: no secrets copy for the CLI", path=paths.cli_secrets, present=False)
    return [config, secrets]


def systemd_service(settings: Settings, gateway: Gateway, restart_when: list[OperationMeta]) -> None:
    """The gateway's unit, restarted when it or anything in ``restart_when`` changed."""
    paths = GatewayPaths(settings, gateway)
    service = gateway.service_name
    unit = gateway_service.systemd_unit(
        name=f"{service}: systemd unit", path=paths.unit, content=gateway_service.unit_content(settings, gateway, paths)
    )
    systemd.service(
        name=f"{service}: restart on change",
        service=paths.unit_name,
        running=True,
        restarted=True,
        _if=any_changed(*restart_when, unit),
    )


def service_running(settings: Settings, gateway: Gateway) -> None:
    paths = GatewayPaths(settings, gateway)
    systemd.service(
        name=f"{gateway.service_name}: running, enabled at boot", service=paths.unit_name, running=True, enabled=True
    )


def gateway_maintenance(settings: Settings, gateway: Gateway) -> None:
    """Log rotation and transcript pruning for one gateway."""
    paths = GatewayPaths(settings, gateway)
    service = gateway.service_name
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
    transcript_pruning(settings, gateway)


def transcript_pruning(settings: Settings, gateway: Gateway) -> None:
    """The cron sweep of one gateway's transcripts, run by the host's OpenClaw as the gateway's user."""
    paths = GatewayPaths(settings, gateway)
    service = gateway.service_name
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


def private_homes(settings: Settings) -> None:
    """Every service user's home given back to it and closed to others. After the restarts, before the starts: a
    gateway that ran as root (a drop-in's ``User=root``) writes root-owned files until it is stopped, systemd
    retries the restarted one every few seconds, and a stopped or failed one is started only once its files are
    its own."""
    for user in settings.users:
        home = settings.home_of(user)
        service_account.home_private(name=f"Home of {user}: all {user}'s, closed to others", user=user, home=home)


def host_firewall(settings: Settings) -> None:
    # The local admin agent's gateway: the guide firewalls its port to localhost.
    closed = firewall_policy.localhost_only_ports(settings)
    if settings.firewall.enabled:
        firewall.ufw_firewall(
            name="Firewall (ufw)",
            ssh_port=ssh_port_in_use(settings),
            gateway_ports=[
                *(gateway.port for gateway in settings.gateways if gateway.port not in closed),
                *(https_port for _, https_port in settings.proxied_gateways()),
            ],
            gateway_sources=[str(source) for source in settings.firewall.gateway_allowed_sources],
            reserved_ports=sorted(firewall_policy.firewalled_ports(settings)),
            closed_ports=sorted(closed),
        )


def tailnet(host_settings: HostSettings) -> None:
    """With ``openclaw_tailscale``: the host tagged on its tailnet, and its first gateway served there over HTTPS."""
    settings = host_settings.settings
    if settings.tailscale is None:
        return
    tag = settings.tailscale.tag
    tailscale.node_tagged(
        name=f"Tailscale: this node on its tailnet, tagged {tag}",
        tag=tag,
        ssh=bool(settings.tailscale.ssh_users),
        auth_key=host_settings.tailscale_auth_key,
    )
    if settings.tailscale.serve_https_port is not None:
        gateway = settings.gateways[0]
        tailscale.gateway_served(
            name=f"Tailscale Serve: https port {settings.tailscale.serve_https_port} to {gateway.service_name}",
            https_port=settings.tailscale.serve_https_port,
            gateway_port=gateway.port,
        )


def reverse_proxy(host_settings: HostSettings) -> None:
    """With ``openclaw_reverse_proxy``: nginx terminating TLS in front of the gateways it names, its certificate
    from the host's own CA or the operator's, reloaded only when its file or certificate changed."""
    settings = host_settings.settings
    proxy = settings.reverse_proxy
    if proxy is None:
        return
    system_packages.debian_packages(name="Reverse proxy packages", packages=reverse_proxy_operations.PACKAGES)
    names = proxy.certificate_names
    certificate: list[OperationMeta]
    if proxy.tls == "local-ca":
        new_ca = reverse_proxy_operations.ca_is_missing()
        reverse_proxy_operations.local_ca(
            name=f"Reverse proxy: this host's CA, published at {reverse_proxy_operations.PUBLISHED_CA}",
            common_name=f"OpenClaw proxy CA {proxy.server_name}",
        )
        certificate = [
            reverse_proxy_operations.server_certificate(
                name=f"Reverse proxy: certificate for {', '.join(names)}", names=names, reissue=new_ca
            )
        ]
    else:
        assert host_settings.proxy_certificate is not None and host_settings.proxy_certificate_key is not None
        certificate = [
            secret_files.secret_file(
                name="Reverse proxy: its certificate",
                path=reverse_proxy_operations.CERTIFICATE,
                content=HiddenValue(host_settings.proxy_certificate),  # type: ignore[no-untyped-call]
            ),
            secret_files.secret_file(
                name="Reverse proxy: its certificate's key",
                path=reverse_proxy_operations.CERTIFICATE_KEY,
                content=host_settings.proxy_certificate_key,
            ),
        ]
    config = reverse_proxy_operations.nginx_config(
        name=f"Reverse proxy: {reverse_proxy_operations.NGINX_CONFIG}",
        content=reverse_proxy_operations.content_for(settings),
    )
    service = reverse_proxy_operations.NGINX_SERVICE
    systemd.service(name="Reverse proxy: nginx running, enabled at boot", service=service, running=True, enabled=True)
    systemd.service(
        name="Reverse proxy: nginx reloaded on change",
        service=service,
        reloaded=True,
        _if=any_changed(config, *certificate),
    )


def signal_channel(host_settings: HostSettings) -> None:
    """With ``openclaw_signal``: whether signal-cli is linked to the bot's account, said (linking needs the
    operator's phone: ``deploys/signal_link.py``). Its software and ``channels.signal`` come with the gateway."""
    signal_setup.signal_link_state(host_settings.settings)


@deploy("OpenClaw gateway (Linux, systemd)")
def linux_gateway() -> None:
    # Imported into an operator's own deploy, it still refuses hosts of another model (a Mac, a container).
    require_deploy(*LINUX_SYSTEMD_DEPLOYS)
    host_settings = current_settings()
    settings = host_settings.settings
    node, openclaw, upgrade = host_base(settings)
    # Before any gateway (re)starts on them: the pinned Java and signal-cli of the gateway carrying Signal.
    signal_setup.signal_software(settings)
    # First: a retired gateway may hold a port or a name a gateway of the settings is about to take.
    gateway_service.retired_gateways_removed(
        name="Gateways no longer in the settings: stopped and removed, their state kept",
        kept_units=[GatewayPaths(settings, gateway).unit_name for gateway in settings.gateways],
    )
    release = openclaw_package.release_dir(settings.openclaw.prefix, settings.openclaw.version) if upgrade else None
    changed_files = {
        gateway.service_name: gateway_files(host_settings, gateway, upgrade is not None, validating_release=release)
        for gateway in settings.gateways
    }
    # Only once every config passed the new release's check: a release that rejects one never runs.
    switched = release_in_use(settings)
    for gateway in settings.gateways:
        systemd_service(settings, gateway, [node, openclaw, switched, *changed_files[gateway.service_name]])
    private_homes(settings)
    for gateway in settings.gateways:
        service_running(settings, gateway)
        gateway_maintenance(settings, gateway)
    gateway_lifecycle.upgrade_checked(settings, upgrade, switched)
    host_firewall(settings)
    tailnet(host_settings)
    signal_channel(host_settings)
    reverse_proxy(host_settings)
    verification.host_verified(name=VERIFY_OPERATION, host_settings=host_settings)
