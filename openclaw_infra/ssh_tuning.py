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

from paramiko import Channel, SSHClient
from pyinfra.api.host import Host
from pyinfra.connectors.ssh import SSHConnector

TCP_FAMILIES = (socket.AF_INET, socket.AF_INET6)


def set_tcp_nodelay(host: Host) -> bool:
    """Turn Nagle's algorithm off on a connected SSH host's socket; True when it was set.

    Through a jump host (``ProxyJump``: the connection runs in a channel of the jump's own SSH connection) it is
    set on the jump's TCP socket, which carries every packet. False, and nothing done, for hosts not reached over
    TCP: @local, @docker and other connectors, a host not connected, or SSH through a ProxyCommand (a pipe).
    """
    connector = host.connector
    if not isinstance(connector, SSHConnector) or connector.client is None:
        return False
    return set_client_tcp_nodelay(connector.client)


def set_client_tcp_nodelay(client: SSHClient) -> bool:
    """``set_tcp_nodelay`` for a connected paramiko client of one's own (the VM discovery's)."""
    sock: Any = getattr(client.get_transport(), "sock", None)
    while isinstance(sock, Channel):
        sock = getattr(sock.get_transport(), "sock", None)
    if getattr(sock, "family", None) not in TCP_FAMILIES:
        return False
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return True


def set_tcp_nodelay_on_connected(hosts: Iterable[Host]) -> None:
    """``set_tcp_nodelay`` on every connected host of ``hosts`` (an inventory, a list of hosts)."""
    for host in hosts:
        if host.connected:
            set_tcp_nodelay(host)
