"""Listening sockets: ``ss`` on Linux, ``lsof`` on macOS."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from pyinfra.api.facts import FactBase
from typing_extensions import override

from .parsing import required_lines, unreadable
from .records import JsonRecord


class Protocol(StrEnum):
    TCP = "tcp"
    UDP = "udp"


class AddressFamily(StrEnum):
    IPV4 = "ipv4"
    IPV6 = "ipv6"


LOOPBACK_INTERFACES = ("lo", "lo0")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclasses.dataclass(frozen=True)
class ListeningSocket(JsonRecord):
    """One listening socket and one process holding it (a socket shared by N processes gives N records).

    ``address`` is normalised: the wildcard is ``0.0.0.0`` or ``::`` whatever the tool printed ('*', '[::]');
    ``raw_address`` keeps the tool's text. ss prints a dual-stack IPv6 wildcard as '*'; lsof's '*' takes the
    family of its socket. ``interface`` is the device a socket is bound to: the '%lo' scope ss prints, or
    the interface index macOS keeps inside a link-local address (``lo0`` for lsof's '[fe80:1::1]').
    ``pid`` and ``process`` are ``None`` when the caller may not see the owner (ss as non-root, kernel sockets).
    """

    protocol: Protocol
    family: AddressFamily
    address: str
    port: int
    pid: int | None
    process: str | None
    raw_address: str
    interface: str | None = None
    wildcard: bool = dataclasses.field(init=False)
    loopback: bool = dataclasses.field(init=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ListeningSocket:
        """Rebuild a record from its JSON form (``pyinfra … fact … --json``); derived fields are recomputed."""
        return cls(
            protocol=Protocol(data["protocol"]),
            family=AddressFamily(data["family"]),
            address=data["address"],
            port=data["port"],
            pid=data["pid"],
            process=data["process"],
            raw_address=data["raw_address"],
            interface=data.get("interface"),
        )

    def __post_init__(self) -> None:
        ip = ipaddress.ip_address(self.address)
        mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
        object.__setattr__(self, "wildcard", ip.is_unspecified)
        object.__setattr__(
            self,
            "loopback",
            ip.is_loopback or bool(mapped and mapped.is_loopback) or self.interface in LOOPBACK_INTERFACES,
        )


class ListeningPorts(FactBase[list[ListeningSocket]]):
    """
    Returns every listening TCP socket, and bound UDP socket with ``udp=True``, with its owning process.

    + udp: include UDP sockets that are bound and not connected
    + tool: ``ss`` or ``lsof``; by default ``ss`` where it exists (Linux), else ``lsof`` (macOS)

    Runs ``ss -Hlntp`` (``-Hlntup`` with UDP), or ``lsof -nP -iTCP -sTCP:LISTEN -F pcftPn`` (plus
    ``lsof -nP -iUDP -F pcftPn`` with UDP): lsof's field output neither truncates nor escapes process names.
    Run it with ``_sudo=True`` to see the processes of other users.

    .. code:: python

        [
            {
                "protocol": "tcp", "family": "ipv4", "address": "127.0.0.1", "port": 18791, "pid": 1724057,
                "process": "openclaw-gatewa", "raw_address": "127.0.0.1", "interface": None,
                "wildcard": False, "loopback": True,
            },
        ]
    """

    default = list

    @override
    def command(self, udp: bool = False, tool: str | None = None) -> str:
        ss = "ss -Hlntup" if udp else "ss -Hlntp"
        # lsof exits 1 when it finds nothing: that is an empty answer, not an error.
        lsof = "{ lsof -nP -iTCP -sTCP:LISTEN -F pcftPn || [ $? -eq 1 ]; }"
        if udp:
            lsof = f"{lsof} && {{ lsof -nP -iUDP -F pcftPn || [ $? -eq 1 ]; }}"
        if tool == "ss":
            return ss
        if tool == "lsof":
            return lsof
        if tool is not None:
            raise ValueError(f"tool must be 'ss', 'lsof' or None, not {tool!r}")
        return f"if command -v ss >/dev/null 2>&1; then {ss}; else {lsof}; fi"

    @override
    def process(self, output: list[str]) -> list[ListeningSocket]:
        # ss -H and lsof print nothing when nothing listens (pyinfra then gives [] without calling this):
        # blank lines alone are no answer.
        lines = required_lines("ss or lsof", output)
        if _LSOF_FIELD.match(lines[0]):
            return _from_lsof_fields(lines)
        if lines[0].split()[:2] == ["COMMAND", "PID"]:
            return _from_lsof_table(lines)
        return _from_ss(lines)


def listeners_on(
    sockets: Iterable[ListeningSocket], port: int, protocol: Protocol = Protocol.TCP
) -> list[ListeningSocket]:
    """Who listens on ``port``: every socket (and owning process) bound to it."""
    return [socket for socket in sockets if socket.port == port and socket.protocol == protocol]


def listening_beyond_loopback(sockets: Iterable[ListeningSocket], port: int, protocol: Protocol = Protocol.TCP) -> bool:
    """Whether anything listens on ``port`` on an address other hosts can reach (a wildcard counts)."""
    return any(not socket.loopback for socket in listeners_on(sockets, port, protocol))


def _socket(
    tool: str,
    line: str,
    protocol: Protocol,
    endpoint: str,
    pid: int | None,
    process: str | None,
    family: AddressFamily | None = None,
) -> ListeningSocket:
    """Build a record from 'host:port' as ss or lsof print it ('[::1]:53', '127.0.0.53%lo:53', '*:22')."""
    host, colon, port = endpoint.rpartition(":")
    if not colon or not port.isdigit():
        raise unreadable(tool, line, f"port of {endpoint!r} is not a number")
    host, interface = _host_and_scope(tool, line, host)
    if host == "*":
        # ss: the dual-stack IPv6 wildcard; lsof: the wildcard of the socket's own family.
        wildcard = "0.0.0.0" if family == AddressFamily.IPV4 else "::"  # noqa: S104 (reading, not binding)
        ip: IPAddress = ipaddress.ip_address(wildcard)
    else:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            raise unreadable(tool, line, f"{host!r} is not an IP address") from None
    if tool == "lsof" and isinstance(ip, ipaddress.IPv6Address) and interface is None:
        ip, interface = _kame_scope(ip)
    return ListeningSocket(
        protocol=protocol,
        family=AddressFamily.IPV4 if ip.version == 4 else AddressFamily.IPV6,
        address=str(ip),
        port=int(port),
        pid=pid,
        process=process,
        raw_address=endpoint.rpartition(":")[0],
        interface=interface,
    )


def _host_and_scope(tool: str, line: str, host: str) -> tuple[str, str | None]:
    """Split the device scope off a host: '127.0.0.53%lo', '*%lo', '[::1]%lo' and '[fe80::1]%eth0' (ss since
    iproute2 4.13), 'fe80::1%eth0' (older ss), and '[fe80::1%eth0]', the zone inside the brackets (RFC 6874)."""
    if not host.startswith("["):
        host, _, scope = host.partition("%")
        return host, scope or None
    inside, bracket, after = host[1:].partition("]")
    address, _, inner_scope = inside.partition("%")
    outer_scope = after.removeprefix("%")
    if not bracket or (after and not after.startswith("%")) or (inner_scope and outer_scope):
        raise unreadable(tool, line, f"expected '[address]', '[address]%device' or '[address%device]', not {host!r}")
    return address, inner_scope or outer_scope or None


# macOS attaches lo0 first: its link-local address reads 'fe80::1%lo0 prefixlen 64 scopeid 0x1' in ifconfig.
_KAME_LOOPBACK_INDEX = 1


def _kame_scope(ip: IPAddress) -> tuple[IPAddress, str | None]:
    """A KAME kernel (macOS) keeps a link-local address's interface index in its second 16-bit word, and lsof
    prints that as is: fe80::1%lo0 reads '[fe80:1::1]'. Give back the address and the interface (lo0, else the
    index: RFC 4007 allows numeric zones). Linux never embeds the index (its lsof loses the scope instead)."""
    if not ip.is_link_local:
        return ip, None
    index = (int(ip) >> 96) & 0xFFFF
    if not index:
        return ip, None
    address = ipaddress.IPv6Address(int(ip) & ~(0xFFFF << 96))
    return address, "lo0" if index == _KAME_LOOPBACK_INDEX else str(index)


# ss (misc/ss.c, find_entry): ' users:(("NAME",pid=N,fd=N),("NAME",pid=N,fd=N))', one entry per process holding the
# socket. NAME is the kernel's 15-byte comm, printed unescaped (iproute2 7.0 replaces only control characters), so
# it may hold '"', ',' and spaces; never ')': ss reads it from /proc/PID/stat with '%[^)]', so 'my)srv' prints as
# 'my'. An entry therefore ends at its first ')', and its name at the last '",pid=' before that.
_SS_USERS = "users:("
_SS_USER = re.compile(r'\("(?P<name>[^)]*)",pid=(?P<pid>\d+),fd=\d+\)')
_SS_PROTOCOLS = {"tcp": Protocol.TCP, "udp": Protocol.UDP}
_SS_STATE_PROTOCOLS = {"LISTEN": Protocol.TCP, "UNCONN": Protocol.UDP}


def _from_ss(lines: list[str]) -> list[ListeningSocket]:
    sockets = []
    for line in lines:
        cells = line.split(None, 6)
        if cells[0] in ("State", "Netid"):
            continue  # a header row: ss without -H
        protocol = _SS_PROTOCOLS.get(cells[0])
        if protocol is not None:
            cells = cells[1:]  # a Netid column, printed when ss lists more than one protocol
        else:
            # One protocol only: LISTEN is TCP, UNCONN is UDP.
            protocol = _SS_STATE_PROTOCOLS.get(cells[0])
            cells = line.split(None, 5)
        if protocol is None or len(cells) < 5 or cells[0] not in _SS_STATE_PROTOCOLS:
            raise unreadable("ss", line, "expected '[Netid] State Recv-Q Send-Q Local Peer [Process]'")
        local = cells[3]
        users = _ss_users(line, cells[5] if len(cells) > 5 else "")
        if not users:
            sockets.append(_socket("ss", line, protocol, local, None, None))
        for pid, name in users:
            sockets.append(_socket("ss", line, protocol, local, pid, name))
    return sockets


def _ss_users(line: str, process: str) -> list[tuple[int, str]]:
    """The (pid, name) pairs of 'users:((…),(…))'; [] when ss shows no owner (not root, kernel sockets)."""
    if not process.startswith(_SS_USERS):
        if _SS_USERS in process:
            raise unreadable("ss", line, "users:(…) is not where ss prints it")
        return []  # -e details ('ino:… sk:…') without an owner
    users = []
    position = len(_SS_USERS)
    while True:
        user = _SS_USER.match(process, position)
        if user is None:
            raise unreadable("ss", line, 'expected users:(("name",pid=N,fd=N),…)')
        users.append((int(user["pid"]), user["name"]))
        position = user.end() + 1
        separator = process[user.end() : position]
        if separator == ")" and process[position : position + 1] in ("", " "):
            return users
        if separator != ",":
            raise unreadable("ss", line, "expected ',' or ')' after a users:(…) entry")


_LSOF_FIELD = re.compile(r"^p\d+$")
_LSOF_PROTOCOLS = {"TCP": Protocol.TCP, "UDP": Protocol.UDP}
_LSOF_FAMILIES = {"IPv4": AddressFamily.IPV4, "IPv6": AddressFamily.IPV6}


def _from_lsof_fields(lines: list[str]) -> list[ListeningSocket]:
    """lsof -F pcftPn: one field a line, its letter first; 'p' starts a process, 'f' one of its files."""
    sockets = []
    pid: int | None = None
    command: str | None = None
    file: dict[str, str] = {}

    def finish_file() -> None:
        if file:
            sockets.extend(_lsof_socket(file["line"], file, pid, command))
            file.clear()

    for line in lines:
        letter, value = line[:1], line[1:]
        if letter == "p" and value.isdigit():
            finish_file()
            pid, command = int(value), None
        elif letter == "c":
            command = value
        elif letter == "f":
            finish_file()
            file["line"] = line
        elif letter in ("t", "P", "n") and file:
            file[letter] = value
            if letter == "n":
                file["line"] = line
        else:
            raise unreadable("lsof", line, "expected the p, c, f, t, P or n field of 'lsof -F pcftPn'")
    finish_file()
    return sockets


def _from_lsof_table(lines: list[str]) -> list[ListeningSocket]:
    """lsof's default table: COMMAND PID USER FD TYPE DEVICE SIZE/OFF NODE NAME [(STATE)]."""
    sockets = []
    for line in lines[1:]:
        cells = line.split()
        if len(cells) not in (9, 10) or not cells[1].isdigit():
            raise unreadable("lsof", line, "expected 'COMMAND PID USER FD TYPE DEVICE SIZE/OFF NODE NAME'")
        # The table escapes spaces in COMMAND ('Code\\x20H'); it is also cut to 9 characters.
        command = cells[0].replace("\\x20", " ")
        file = {"t": cells[4], "P": cells[7], "n": cells[8]}
        sockets.extend(_lsof_socket(line, file, int(cells[1]), command))
    return sockets


def _lsof_socket(line: str, file: dict[str, str], pid: int | None, command: str | None) -> list[ListeningSocket]:
    protocol = _LSOF_PROTOCOLS.get(file.get("P", ""))
    family = _LSOF_FAMILIES.get(file.get("t", ""))
    name = file.get("n", "")
    if protocol is None or family is None or not name:
        raise unreadable("lsof", line, "expected a TCP or UDP socket of type IPv4 or IPv6 with a name")
    if "->" in name:
        return []  # a connected UDP socket has a peer: it is not waiting for anyone
    return [_socket("lsof", line, protocol, name, pid, command, family)]
