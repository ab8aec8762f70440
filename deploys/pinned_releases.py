"""The pinned Node and OpenClaw every gateway host gets, Linux or macOS: one place for both deploys."""

from __future__ import annotations

from pyinfra.api.operation import OperationMeta

from openclaw_infra.operations import node_runtime, openclaw_package
from openclaw_infra.settings import Settings


def pinned_node(settings: Settings, platform: str = "linux") -> OperationMeta:
    """Node at ``settings.node``'s pin (its changes restart every gateway)."""
    return node_runtime.node(
        name=f"Node {settings.node.version}",
        version=settings.node.version,
        install_method=settings.node.install_method,
        prefix=settings.node.prefix,
        tarball_base_url=settings.node.tarball_base_url,
        platform=platform,
    )


def pinned_openclaw(settings: Settings, platform: str = "linux", switch: bool = True) -> OperationMeta:
    """OpenClaw at ``settings.openclaw``'s pin, run by that Node (its changes restart every gateway); with
    ``switch=False`` installed beside the release in use only (``openclaw_package.release_switched`` then)."""
    return openclaw_package.openclaw(
        name=f"OpenClaw {settings.openclaw.version}",
        version=settings.openclaw.version,
        prefix=settings.openclaw.prefix,
        node_prefix=settings.node.prefix,
        platform=platform,
        registry=settings.openclaw.npm_registry,
        switch=switch,
    )
