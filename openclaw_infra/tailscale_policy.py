"""The tailnet policy file the guide's "Tailscale ACLs" section describes, generated from ``openclaw_tailscale``.

The gateway's host carries one tag. Only ``clients`` reach it, on SSH, on Tailscale Serve's HTTPS port and on the
port of any gateway bound to the tailnet; nothing grants the tag itself access anywhere, so an agent that takes
the host cannot reach the rest of the tailnet. Tailscale SSH into it is "check" (re-authenticated per session).
"""

from __future__ import annotations

from openclaw_infra.rendering import render
from openclaw_infra.settings import Settings, Tailscale

TEMPLATE = "tailscale/policy.hujson.j2"
# Tailscale SSH is reached on port 22 of the node, and a grant must admit it like any other port.
TAILSCALE_SSH_PORT = 22


def reachable_ports(settings: Settings, tailscale: Tailscale) -> list[int]:
    """The TCP ports ``clients`` may reach the host on: Tailscale SSH, Serve's HTTPS port, tailnet-bound gateways."""
    ports = {TAILSCALE_SSH_PORT}
    if tailscale.serve_https_port is not None:
        ports.add(tailscale.serve_https_port)
    ports.update(gateway.port for gateway in settings.gateways if gateway.bind == "tailnet")
    return sorted(ports)


def policy_text(settings: Settings) -> str:
    """The policy file (HuJSON) for the host of ``settings``; its ``tailscale`` settings must be set."""
    tailscale = settings.tailscale
    if tailscale is None:
        raise ValueError("openclaw_tailscale is not set: there is no tailnet policy to write")
    return render(
        TEMPLATE,
        tag=tailscale.tag,
        tag_owners=tailscale.tag_owners,
        clients=tailscale.clients,
        ip=[f"tcp:{port}" for port in reachable_ports(settings, tailscale)],
        ssh_users=tailscale.ssh_users,
    )
