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


def pinned_openclaw(settings: Settings, platform: str = "linux") -> OperationMeta:
    """OpenClaw at ``settings.openclaw``'s pin, run by that Node (its changes restart every gateway)."""
    return openclaw_package.openclaw(
        name=f"OpenClaw {settings.openclaw.version}",
        version=settings.openclaw.version,
        prefix=settings.openclaw.prefix,
        node_prefix=settings.node.prefix,
        platform=platform,
    )
