"""libvirt domains: ``virsh list --all --uuid`` plus each domain's ``dominfo`` and ``domifaddr``."""

from __future__ import annotations

import re
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactBase
from typing_extensions import override

from openclaw_infra.quoting import quoted

from .parsing import ipv4_addresses, required_lines, unreadable
from .vm_record import VmRecord, VmState, normalise_state

LIBVIRT_STATES = {
    "running": VmState.RUNNING,
    # "idle" is virsh's word for a running domain blocked on a resource.
    "idle": VmState.RUNNING,
    "paused": VmState.SUSPENDED,
    "pmsuspended": VmState.SUSPENDED,
    "shut off": VmState.STOPPED,
}

ADDRESS_SOURCES = ("lease", "agent", "arp")

# Marks the start of one domain's details in the fact's output (a line virsh itself never prints).
SECTION_MARK = "### vm: "

_URI = re.compile(r"^[a-z][a-z0-9+.-]*://[^\s']*$")
_KIB_PER_UNIT = {"KiB": 1, "MiB": 1024, "GiB": 1024**2}


class LibvirtVms(FactBase[list[VmRecord]]):
    """
    Returns every libvirt domain of one connection, running or not; ``[]`` when ``virsh`` is not installed.

    + uri: libvirt connection URI (``qemu:///system``; ``test:///default`` is libvirt's built-in test driver)
    + address_source: where ``virsh domifaddr`` reads addresses: ``lease`` (libvirt's DHCP), ``agent`` or ``arp``

    Runs ``virsh -c URI list --all --uuid``, then ``dominfo`` (name, state, CPUs, memory) and ``domifaddr`` of each
    domain by UUID, in the C locale because virsh translates its states. Not ``list --all``'s table: under the C
    locale it rewrites every non-ASCII byte of a name (``café`` prints as ``caf\\xff\\xff`` in virsh 9.0), so two names
    can read the same; under UTF-8 it pads cells by display width. ``dominfo`` prints the name as it is.
    An unreachable hypervisor fails the host.

    .. code:: python

        [
            {
                "name": "test", "state": "running", "raw_state": "running", "ipv4": ["192.168.122.3"],
                "cpus": 2, "memory_bytes": 8589934592, "disk_bytes": None,
                "uuid": "6695eb01-f6a4-8304-79aa-97f2502e193f",
            },
        ]
    """

    default = list

    @override
    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "virsh"

    @override
    def command(self, uri: str = "qemu:///system", address_source: str = "lease") -> StringCommand:
        if not _URI.match(uri):
            raise ValueError(f"not a libvirt connection URI: {uri!r}")
        if address_source not in ADDRESS_SOURCES:
            raise ValueError(f"address_source must be one of {ADDRESS_SOURCES}, not {address_source!r}")
        # No domains: no output, and pyinfra returns []. A failed list fails the command (the '&&').
        return StringCommand(
            "export LC_ALL=C; v() { virsh -c",
            quoted(uri),
            '"$@"; }; uuids=$(v list --all --uuid) && for uuid in $uuids; do',
            f'echo "{SECTION_MARK}$uuid";',
            'v dominfo --domain "$uuid";',
            f'v domifaddr --domain "$uuid" --source {address_source} 2>/dev/null || true; done',
        )

    @override
    def process(self, output: list[str]) -> list[VmRecord]:
        # The command prints a section per domain and nothing without domains: blank lines alone are no answer.
        lines = required_lines("virsh", output)
        domains: list[_Details] = []
        for line in lines:
            if line.startswith(SECTION_MARK):
                domains.append(_Details(line))
            elif not domains:
                raise unreadable("virsh", line, f"expected '{SECTION_MARK}UUID' and the domain's dominfo")
            else:
                domains[-1].read(line)
        return [domain.record() for domain in domains]


class _Details:
    """What ``dominfo`` and ``domifaddr`` say about one domain, listed by its UUID."""

    def __init__(self, mark: str) -> None:
        self.mark = mark
        self.listed_uuid = mark[len(SECTION_MARK) :]
        self.name: str | None = None
        self.raw_state: str | None = None
        self.uuid: str | None = None
        self.cpus: int | None = None
        self.memory_bytes: int | None = None
        self.addresses: list[str] = []
        self._in_address_table = False

    def read(self, line: str) -> None:
        cells = line.split()
        if cells[:2] == ["Name", "MAC"]:
            self._in_address_table = True
        elif self._in_address_table:
            # " vnet0  52:54:00:…  ipv4  192.168.122.3/24"; extra addresses of one NIC have '-' name and MAC.
            if set(line) <= {"-"}:
                return
            if len(cells) < 4:
                raise unreadable("virsh domifaddr", line, "expected 'Name MAC Protocol Address'")
            if cells[-2] == "ipv4":
                self.addresses.append(cells[-1].partition("/")[0])
        else:
            key, colon, value = line.partition(":")
            if not colon:
                raise unreadable("virsh dominfo", line, "expected 'Key: value'")
            self._read_info(key.strip(), value.strip(), line)

    def record(self) -> VmRecord:
        if self.name is None or self.raw_state is None:
            # dominfo failed (its error went to stderr): the domain went away, or virsh could not read it.
            raise unreadable("virsh dominfo", self.mark, "no 'Name:' and 'State:' for this domain")
        if self.uuid != self.listed_uuid:
            raise unreadable("virsh dominfo", self.mark, f"dominfo describes UUID {self.uuid!r}")
        return VmRecord(
            name=self.name,
            state=normalise_state(self.raw_state, LIBVIRT_STATES),
            raw_state=self.raw_state,
            ipv4=ipv4_addresses(self.addresses),
            cpus=self.cpus,
            memory_bytes=self.memory_bytes,
            uuid=self.uuid,
        )

    def _read_info(self, key: str, value: str, line: str) -> None:
        if key == "Name":
            self.name = value
        elif key == "State":
            self.raw_state = value
        elif key == "UUID":
            self.uuid = value
        elif key == "CPU(s)":
            self.cpus = int(value) if value.isdigit() else None
        elif key == "Max memory":
            amount, _, unit = value.partition(" ")
            if not amount.isdigit() or unit not in _KIB_PER_UNIT:
                raise unreadable("virsh dominfo", line, "expected 'Max memory: N KiB'")
            self.memory_bytes = int(amount) * _KIB_PER_UNIT[unit] * 1024
