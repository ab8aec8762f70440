"""What a host deployed by ``deploys/docker_containerized.py`` must look like: one definition, read by the deploy's
verification (``verification.container_host_verified``) and by the drift checks, as ``ExpectedState`` is for a
systemd host.

Each gateway's container as ``ContainerSpec`` makes it (running the current image, published on loopback only,
capabilities, mounts, restart policy, command), ``/health`` from the host, what listens, the modes of the state dir,
config and root-only secrets file, the secrets' checksum and stray copies, the pinned releases the image is built
from, the owners under each home and the firewall.
"""

from __future__ import annotations

from typing import Any

from typing_extensions import override

from openclaw_infra.expected_state import (
    OUR_FACTS,
    Check,
    ExpectedState,
    FactRequest,
    mode_checks,
    serving_checks,
    stray_secrets_request,
)
from openclaw_infra.facts.docker_containers import DockerContainerRecord
from openclaw_infra.gateway_paths import GatewayPaths
from openclaw_infra.operations.gateway_container import (
    container_spec,
    differences,
    image_reference,
    view_of,
)
from openclaw_infra.settings import Gateway


class ContainerExpectedState(ExpectedState):
    """``ExpectedState`` with Docker's view of each gateway's container in place of systemd's of its unit."""

    @override
    def _gateway_requests(self, paths: GatewayPaths, port: int) -> list[FactRequest]:
        return [
            FactRequest(f"{OUR_FACTS}.docker_containers.DockerContainer", (("container", paths.container_name),)),
            FactRequest(f"{OUR_FACTS}.docker_containers.DockerImage", (("reference", image_reference(self.settings)),)),
            FactRequest(f"{OUR_FACTS}.accounts.PasswdEntry", (("user", paths.user),)),
            *self._health_and_files_requests(paths, port),
            stray_secrets_request(paths),
        ]

    @override
    def _gateway_checks(
        self, gateway: Gateway, paths: GatewayPaths, found: list[Any], sockets: Any, other_ports: set[int]
    ) -> list[Check]:
        container, image, account, health, state, config_file, secrets_file, secrets_sha, holding = found
        return [
            self._container_check(gateway, paths, container, image, account),
            *serving_checks(gateway, health, sockets, other_ports),
            *mode_checks(paths, state, config_file, secrets_file),
            *self._secrets_file_checks(gateway, paths, secrets_sha, holding),
        ]

    def _container_check(
        self, gateway: Gateway, paths: GatewayPaths, container: Any, image: Any, account: Any
    ) -> Check:
        name = f"container {paths.container_name}"
        wanted = f"running {image_reference(self.settings)} as deployed"
        if account is None:
            return Check(name, wanted, f"no user {paths.user}")
        if container is None:
            return Check(name, wanted, "no such container")
        spec = container_spec(self.settings, gateway, account["uid"], account["gid"])
        found = view_of(DockerContainerRecord(**container))
        differing = differences(spec.view(image["id"] if image else None), found)
        return Check(name, wanted, "; ".join(differing) or wanted)
