"""Where a gateway listens beyond loopback for each ``bind``: one definition for the deploy's guard of the gateway
ports, its verification and the drift checks.

OpenClaw 2026.9.6 (``resolveGatewayBindHost``) listens with ``lan`` on 0.0.0.0 (IPv4 only, seen live) and with
``tailnet`` on the host's Tailscale IPv4 when it has one, else on loopback. Only on the gateway's own port: its
browser and CDP ports stay on loopback whatever the bind.
"""

from __future__ import annotations

from ipaddress import ip_address, ip_network

TAILNET_IPV4 = ip_network("100.64.0.0/10")
# bind -> how the verification names where it may listen besides loopback
BIND_LISTENERS = {"lan": "0.0.0.0", "tailnet": f"a tailnet address ({TAILNET_IPV4})"}  # noqa: S104 - expected, not a bind


def listens_as_bound(address: str, bind: str) -> bool:
    """Whether a listener on ``address`` (as ``ss`` prints it) is where a gateway bound as ``bind`` listens."""
    if bind == "lan":
        return address == "0.0.0.0"  # noqa: S104 - what is read, not a bind
    if bind == "tailnet":
        try:
            return ip_address(address) in TAILNET_IPV4
        except ValueError:
            return False
    return False
