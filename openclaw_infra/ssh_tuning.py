"""TCP_NODELAY on pyinfra's SSH connections.

pyinfra's SSH connector (paramiko) leaves Nagle's algorithm on. Each remote command is a few small SSH packets
sent back to back, so a packet written while the previous one is still unacknowledged waits for the server's
delayed ACK: about 40 ms on every command, fact probes included (measured: ~47 ms a command without, ~2.6 ms
with). OpenSSH's own client sets TCP_NODELAY on interactive sessions for the same reason.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from typing import Any

from pyinfra.api.host import Host
from pyinfra.connectors.ssh import SSHConnector

TCP_FAMILIES = (socket.AF_INET, socket.AF_INET6)


def set_tcp_nodelay(host: Host) -> bool:
    """Turn Nagle's algorithm off on a connected SSH host's socket; True when it was set.

    False, and nothing done, for hosts not reached over a TCP socket of their own: @local, @docker and other
    connectors, a host not connected, or SSH through a ProxyCommand or jump host (a pipe or an SSH channel).
    """
    connector = host.connector
    if not isinstance(connector, SSHConnector) or connector.client is None:
        return False
    transport = connector.client.get_transport()
    sock: Any = getattr(transport, "sock", None)
    if getattr(sock, "family", None) not in TCP_FAMILIES:
        return False
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return True


def set_tcp_nodelay_on_connected(hosts: Iterable[Host]) -> None:
    """``set_tcp_nodelay`` on every connected host of ``hosts`` (an inventory, a list of hosts)."""
    for host in hosts:
        if host.connected:
            set_tcp_nodelay(host)
