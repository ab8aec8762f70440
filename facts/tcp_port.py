"""Whether a TCP port answers at an address, asked from the host: a VM's sshd seen from its VM host."""

from __future__ import annotations

import ipaddress
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactBase
from typing_extensions import override

from openclaw_infra.quoting import quoted

from .parsing import required_lines, unreadable

ANSWERS = "answers"
SILENT = "silent"


class TcpPortAnswers(FactBase[bool]):
    """
    Returns whether a TCP connection to ``address:port`` is accepted from the host, within a few seconds.

    + address: an IPv4 or IPv6 address (never a name: nothing is resolved)
    + port: the TCP port

    Runs ``bash -c 'exec 3<>/dev/tcp/$0/$1' ADDRESS PORT`` (Linux and macOS alike), bounded by ``timeout`` where
    it exists, and prints whether it connected. A VM that has its DHCP lease answers on port 22 only once
    cloud-init has created its users and sshd has started.

    .. code:: python

        True
    """

    @override
    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "bash"

    @override
    def command(self, address: str, port: int = 22) -> StringCommand:
        ipaddress.ip_address(address)  # ValueError for anything else: it goes into a shell word
        if not 0 < int(port) < 65536:
            raise ValueError(f"not a TCP port: {port!r}")
        connect = "exec 3<>/dev/tcp/$0/$1"
        return StringCommand(
            'bounded=""; if command -v timeout >/dev/null 2>&1; then bounded="timeout 5"; fi;',
            "if $bounded bash -c",
            quoted(connect),
            quoted(address),
            quoted(str(int(port))),
            f"2>/dev/null; then echo {ANSWERS}; else echo {SILENT}; fi",
        )

    @override
    def process(self, output: list[str]) -> bool:
        (line, *rest) = required_lines("bash /dev/tcp", output)
        if rest or line not in (ANSWERS, SILENT):
            raise unreadable("bash /dev/tcp", line, f"expected {ANSWERS!r} or {SILENT!r}")
        return line == ANSWERS
