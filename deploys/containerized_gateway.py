"""The guide's Docker containerized gateway on a Linux host: each gateway in a container of its own, built from
the pinned Node and OpenClaw, published on the host's loopback only, restarted by Docker on failure and at boot.

The host keeps the pinned Node and OpenClaw the image is built from: they also check each config with
``openclaw config validate`` before it replaces the running one, and run the transcript pruning. The gateway's
state dir, config and root-only secrets file are the systemd deployment's (``linux_gateway.gateway_files``); the
container mounts the state dir, and its entrypoint reads the secrets file as root before it drops to the
gateway's user. Docker's json-file driver rotates the gateway's output (settings.log_rotation's size and count).
"""

from __future__ import annotations

from pyinfra.api.deploy import deploy
from pyinfra.api.operation import OperationMeta

from openclaw_infra import firewall_policy
from openclaw_infra.deploy_context import current_settings, require_deploy
from openclaw_infra.deploys.linux_gateway import (
    BASE_PACKAGES,
    gateway_files,
    host_firewall,
    private_homes,
    transcript_pruning,
)
from openclaw_infra.deploys.pinned_releases import pinned_node, pinned_openclaw
from openclaw_infra.gateway_paths import GatewayPaths
from openclaw_infra.operations import (
    docker_engine,
    docker_images,
    gateway_container,
    gateway_ports,
    preflight,
    service_account,
    system_packages,
    verification,
)
from openclaw_infra.settings import Settings

CONTAINERIZED_DEPLOY = "deploys/docker_containerized.py"
VERIFY_CONTAINERS = "Verify the gateways' containers and the host against their expected state"


def gateway_image(settings: Settings) -> OperationMeta:
    """The image every gateway's container runs: the user's, pulled by digest, or built here for the pins."""
    reference = gateway_container.image_reference(settings)
    if settings.container.image:
        return docker_images.registry_image(name=f"Gateway image {reference}", reference=reference)
    docker_images.debian_base_image(
        name=f"Base image {docker_images.BASE_IMAGE}",
        reference=docker_images.BASE_IMAGE,
        packages=docker_images.BASE_PACKAGES,
        mirror=settings.debian_mirror,
    )
    return docker_images.gateway_image(
        name=f"Gateway image {reference}",
        reference=reference,
        node_prefix=settings.node.prefix,
        node_version=settings.node.version,
        openclaw_prefix=settings.openclaw.prefix,
        openclaw_version=settings.openclaw.version,
    )


@deploy("OpenClaw gateway (Docker containerized)")
def containerized_gateway() -> None:
    require_deploy(CONTAINERIZED_DEPLOY)
    host_settings = current_settings()
    settings = host_settings.settings
    preflight.host_ready(name="Check the host can carry the OpenClaw settings", settings=settings)
    packages = [*BASE_PACKAGES, *([] if settings.container.image else ["debootstrap"])]
    system_packages.debian_packages(name="Base packages", packages=packages)
    pinned_node(settings)
    pinned_openclaw(settings)
    docker_engine.docker_engine(name="Docker engine")
    for user in settings.users:
        # No docker group: the gateway runs in a container, not beside the Docker socket.
        service_account.service_account(
            name=f"Service user {user}", user=user, home=settings.home_of(user), docker_access=False
        )
    gateway_ports.foreign_listeners_stopped(
        name="Gateway ports: no other process listening beyond loopback",
        units=["docker.service"],
        ports=sorted(firewall_policy.gateway_ports(settings)),
    )
    gateway_image(settings)
    for gateway in settings.gateways:
        changed_files = gateway_files(host_settings, gateway)
        name = GatewayPaths(settings, gateway).container_name
        container = gateway_container.gateway_container(name=f"{name}: container", settings=settings, gateway=gateway)
        gateway_container.container_restarted(
            name=f"{name}: restart on change",
            container=name,
            _if=gateway_container.restart_unless_replaced(changed_files, container),
        )
    private_homes(settings)
    for gateway in settings.gateways:
        transcript_pruning(settings, gateway)
    host_firewall(settings)
    verification.container_host_verified(name=VERIFY_CONTAINERS, host_settings=host_settings)
