"""The tailnet policy file the guide's "Tailscale ACLs" section describes, generated from ``openclaw_tailscale``.

The gateway's host carries one tag. Only ``clients`` reach it, on SSH, on Tailscale Serve's HTTPS port and on the
port of any gateway bound to the tailnet; nothing grants the tag itself access anywhere, so an agent that takes
the host cannot reach the rest of the tailnet. Tailscale SSH into it is "check" (re-authenticated per session).
"""

from __future__ import annotations

from collections.abc import Mapping

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


def inventory_policy(settings_by_host: Mapping[str, Settings], host_name: str | None = None) -> str:
    """The one policy the hosts with ``openclaw_tailscale`` need (or that of ``host_name``); ``ValueError`` when
    there is none, or when they need different ones (say which host's to print)."""
    wanted = {name: settings for name, settings in settings_by_host.items() if settings.tailscale is not None}
    if host_name is not None:
        if host_name not in wanted:
            raise ValueError(f"host {host_name!r} is not in the inventory or has no openclaw_tailscale")
        return policy_text(wanted[host_name])
    if not wanted:
        raise ValueError("no host of the inventory has openclaw_tailscale: there is no tailnet policy to write")
    texts = {name: policy_text(settings) for name, settings in wanted.items()}
    if len(set(texts.values())) > 1:
        raise ValueError(
            f"hosts {', '.join(sorted(texts))} need different policies (their openclaw_tailscale or tailnet-bound "
            "gateways differ): give them the same settings, or print one host's with --host NAME"
        )
    return next(iter(texts.values()))
