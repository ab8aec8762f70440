"""Listens on the sockets the live ports test expects, then waits; run on a sandbox host as '/tmp/my listener'.

argv: READY_FILE BASE_PORT. Ports BASE+0 … BASE+5 are: TCP 0.0.0.0, TCP [::] IPv6-only, TCP [::] dual-stack,
TCP 127.0.0.1, TCP [::1], UDP 127.0.0.1.
"""

import socket
import sys
import time

ready_file, base = sys.argv[1], int(sys.argv[2])


def tcp(family: int, address: str, port: int, v6only: bool | None = None) -> socket.socket:
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if v6only is not None:
        listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
    listener.bind((address, port))
    listener.listen()
    return listener


held = [
    tcp(socket.AF_INET, "0.0.0.0", base),  # noqa: S104 - the wildcard is what the test is about
    tcp(socket.AF_INET6, "::", base + 1, v6only=True),
    tcp(socket.AF_INET6, "::", base + 2, v6only=False),
    tcp(socket.AF_INET, "127.0.0.1", base + 3),
    tcp(socket.AF_INET6, "::1", base + 4),
]
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("127.0.0.1", base + 5))
held.append(udp)

with open(ready_file, "w") as ready:
    ready.write("listening\n")
while True:
    time.sleep(3600)
