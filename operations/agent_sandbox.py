"""The agents' Docker sandbox of a docker-isolation host (the guide's "Docker Sandboxing"): what its networks may
reach. Containers on ``openclaw-sandbox`` reach nothing, containers on ``openclaw-egress`` only the allowlist, and
neither reaches a service of the host: an nftables table of our own (``templates/nftables``), which Docker never
rewrites, loaded at boot before Docker by ``openclaw-egress.service``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Generator, Mapping, Sequence
from typing import Any

from pyinfra.api.command import PyinfraCommand, StringCommand
from pyinfra.api.exceptions import OperationError
from pyinfra.api.operation import operation
from pyinfra.context import host, state
from pyinfra.facts.files import FileContents, Sha256File

from openclaw_infra.facts.batch import read_facts
from openclaw_infra.facts.docker_networks import DockerNetworks
from openclaw_infra.facts.nftables import NftTableDigest
from openclaw_infra.operations.private_upload import private_upload
from openclaw_infra.quoting import quoted
from openclaw_infra.rendering import render
from openclaw_infra.settings import EgressDestination

NFT_FAMILY = "inet"
NFT_TABLE = "openclaw_egress"
RULES_FILE = "/etc/openclaw/egress.nft"
# The digest of the table as the kernel listed it right after the deploy loaded it: what drift compares against.
LOADED_DIGEST_FILE = "/var/lib/openclaw-infra/egress.loaded.sha256"
UNIT_NAME = "openclaw-egress.service"
UNIT_PATH = f"/etc/systemd/system/{UNIT_NAME}"


def allowlist_entries(destinations: Sequence[EgressDestination]) -> list[dict[str, Any]]:
    """The settings' allowlist as the ruleset template and the operation take it (plain JSON)."""
    return [
        {
            "family": "ip" if destination.network.version == 4 else "ip6",
            "network": str(destination.network),
            "protocol": destination.protocol,
            "ports": sorted(set(destination.ports)),
        }
        for destination in destinations
    ]


def bridge_of(networks: Mapping[str, Any], name: str) -> str:
    network = networks.get(name)
    if network is None:
        raise OperationError(f"docker network {name} does not exist; its networks operation must run first")
    return f"br-{network.id[:12]}"


def ruleset_content(sandbox_bridge: str, egress_bridge: str, allowlist: list[dict[str, Any]]) -> str:
    return render(
        "nftables/openclaw-egress.nft.j2",
        sandbox_bridge=sandbox_bridge,
        egress_bridge=egress_bridge,
        allowlist=allowlist,
    )


def unit_content() -> str:
    return render("systemd/openclaw-egress.service.j2")


@operation()
def egress_ruleset(
    sandbox_network: str, egress_network: str, allowlist: list[dict[str, Any]]
) -> Generator[PyinfraCommand, None, None]:
    """
    The sandbox networks' egress rules in ``/etc/openclaw/egress.nft``, loaded as table ``inet openclaw_egress``.

    Written when its content differs; loaded (atomically, replacing the table) when it was written, when the table
    is missing, or when the table the kernel holds differs from what was loaded last (a rule deleted or changed by
    hand): the digest of ``nft list table`` right after loading is kept in ``/var/lib/openclaw-infra``.

    + sandbox_network: the internal network, e.g. ``openclaw-sandbox``: reaches nothing
    + egress_network: e.g. ``openclaw-egress``: reaches only ``allowlist``
    + allowlist: ``[{"family": "ip", "network": "203.0.113.0/24", "protocol": "tcp", "ports": [443]}]``
      (``ports`` empty: every port)
    """
    networks, file_sha, loaded, recorded = read_facts(
        (DockerNetworks, {}),
        (Sha256File, {"path": RULES_FILE}),
        (NftTableDigest, {"family": NFT_FAMILY, "table": NFT_TABLE}),
        (FileContents, {"path": LOADED_DIGEST_FILE}),
    )
    if not state.is_executing and not {sandbox_network, egress_network} <= set(networks):
        # Planned on a host whose networks this deploy has yet to create: their bridges, so the rules, are unknown.
        yield StringCommand("nft", "-f", quoted(RULES_FILE))
        return
    content = ruleset_content(bridge_of(networks, sandbox_network), bridge_of(networks, egress_network), allowlist)
    written = file_sha == hashlib.sha256(content.encode()).hexdigest()
    if written and loaded is not None and loaded == recorded_digest(recorded):
        host.noop(f"table {NFT_FAMILY} {NFT_TABLE} is loaded from {RULES_FILE} as deployed")
        return
    if not written:
        yield StringCommand("mkdir", "-p", "-m", "700", "/etc/openclaw")
        yield from private_upload(content, RULES_FILE)
    yield StringCommand("nft", "-f", quoted(RULES_FILE))
    yield StringCommand(
        "mkdir", "-p", "-m", "700", "/var/lib/openclaw-infra", "&&", "umask", "077", "&&",
        "nft", "list", "table", NFT_FAMILY, NFT_TABLE, "|", "sha256sum", "|", "cut", "-d", "' '", "-f", "1",
        ">", quoted(LOADED_DIGEST_FILE),
    )  # fmt: skip


def recorded_digest(lines: Any) -> str | None:
    """The table digest kept in ``LOADED_DIGEST_FILE`` (``files.FileContents``' lines), or None."""
    return str(lines[0]).strip() if lines else None
