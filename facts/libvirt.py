"""libvirt domains: ``virsh list --all`` plus each domain's ``dominfo`` and ``domifaddr``."""

from __future__ import annotations

import re
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactBase
from typing_extensions import override

from openclaw_infra.quoting import quoted

from .parsing import column_starts, cut_columns, ipv4_addresses, meaningful_lines, unreadable
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

    Runs ``virsh -c URI list --all``, then ``dominfo`` (UUID, CPUs, memory) and ``domifaddr`` for each
    domain, in the C locale because virsh translates its states. An unreachable hypervisor fails the host.

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
        return StringCommand(
            "export LC_ALL=C; v() { virsh -c",
            quoted(uri),
            '"$@"; }; v list --all && v list --all --name | while IFS= read -r vm; do',
            '[ -n "$vm" ] || continue;',
            f'echo "{SECTION_MARK}$vm";',
            'v dominfo --domain "$vm";',
            f'v domifaddr --domain "$vm" --source {address_source} 2>/dev/null || true; done',
        )

    @override
    def process(self, output: list[str]) -> list[VmRecord]:
        lines = meaningful_lines(output)
        header = lines[0]
        if header.split() != ["Id", "Name", "State"]:
            raise unreadable("virsh", header, "expected the 'Id Name State' header of 'virsh list --all'")
        # Names and states ("shut off") may hold spaces: cut at the header's offsets.
        starts = column_starts(header)
        listed: list[tuple[str, str]] = []
        details: dict[str, _Details] = {}
        current: _Details | None = None
        for line in lines[1:]:
            if line.startswith(SECTION_MARK):
                current = details.setdefault(line[len(SECTION_MARK) :], _Details())
            elif current is not None:
                current.read(line)
            elif set(line) <= {"-"}:
                continue
            else:
                _, name, raw_state = cut_columns(line, starts)
                if not name or not raw_state:
                    raise unreadable("virsh", line, "expected 'Id Name State'")
                listed.append((name, raw_state))
        vms = []
        for name, raw_state in listed:
            found = details.get(name, _Details())
            vms.append(
                VmRecord(
                    name=name,
                    state=normalise_state(raw_state, LIBVIRT_STATES),
                    raw_state=raw_state,
                    ipv4=ipv4_addresses(found.addresses),
                    cpus=found.cpus,
                    memory_bytes=found.memory_bytes,
                    uuid=found.uuid,
                )
            )
        return vms


class _Details:
    """What ``dominfo`` and ``domifaddr`` say about one domain."""

    def __init__(self) -> None:
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

    def _read_info(self, key: str, value: str, line: str) -> None:
        if key == "UUID":
            self.uuid = value
        elif key == "CPU(s)":
            self.cpus = int(value) if value.isdigit() else None
        elif key == "Max memory":
            amount, _, unit = value.partition(" ")
            if not amount.isdigit() or unit not in _KIB_PER_UNIT:
                raise unreadable("virsh dominfo", line, "expected 'Max memory: N KiB'")
            self.memory_bytes = int(amount) * _KIB_PER_UNIT[unit] * 1024
