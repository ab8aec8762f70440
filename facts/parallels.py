"""Parallels Desktop VMs: ``prlctl list``."""

from __future__ import annotations

import json
from typing import Any

from pyinfra.api.facts import FactBase
from typing_extensions import override

from .parsing import ipv4_addresses, meaningful_lines, unreadable
from .vm_record import VmRecord, VmState, normalise_state

PARALLELS_STATES = {
    "running": VmState.RUNNING,
    "stopped": VmState.STOPPED,
    "paused": VmState.SUSPENDED,
    "suspended": VmState.SUSPENDED,
}


class ParallelsVms(FactBase[list[VmRecord]]):
    """
    Returns every Parallels VM, running or not; ``[]`` when ``prlctl`` is not installed.

    Runs ``prlctl list -a -f -j`` (all VMs, JSON). The table that ``prlctl list -a`` prints is read too.
    ``ip_configured`` may hold several addresses: only the IPv4 ones are kept.

    .. code:: python

        [
            {
                "name": "Staccato - Windows 11 ARM", "state": "running", "raw_state": "running",
                "ipv4": ["10.211.55.3"], "cpus": None, "memory_bytes": None, "disk_bytes": None,
                "uuid": "4eb49f98-7f09-4b43-a3f1-35f285ad4d26",
            },
        ]
    """

    default = list

    @override
    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "prlctl"

    @override
    def command(self) -> str:
        return "prlctl list -a -f -j"

    @override
    def process(self, output: list[str]) -> list[VmRecord]:
        lines = meaningful_lines(output)
        if lines and lines[0].lstrip().startswith("["):
            return _from_json(lines)
        return _from_table(lines)


def _record(uuid: str, raw_state: str, addresses: str, name: str) -> VmRecord:
    return VmRecord(
        name=name,
        state=normalise_state(raw_state, PARALLELS_STATES),
        raw_state=raw_state,
        ipv4=ipv4_addresses(addresses.split()),
        # The table braces the UUID ({…}), the JSON does not.
        uuid=uuid.strip("{}"),
    )


def _from_json(lines: list[str]) -> list[VmRecord]:
    try:
        listed = json.loads("\n".join(lines))
    except json.JSONDecodeError as error:
        bad_line = lines[min(error.lineno, len(lines)) - 1]
        raise unreadable("prlctl", bad_line, f"invalid JSON: {error.msg}") from error
    if not isinstance(listed, list):
        raise unreadable("prlctl", lines[0], "expected a JSON array")
    vms = []
    for item in listed:
        fields = [item.get(key) if isinstance(item, dict) else None for key in ("uuid", "status", "name")]
        uuid, raw_state, name = fields
        if not (isinstance(uuid, str) and isinstance(raw_state, str) and isinstance(name, str)):
            raise unreadable("prlctl", json.dumps(item), "a VM needs uuid, status and name")
        addresses = item.get("ip_configured")
        vms.append(_record(uuid, raw_state, addresses if isinstance(addresses, str) else "", name))
    return vms


def _from_table(lines: list[str]) -> list[VmRecord]:
    if not lines:
        return []
    header = lines[0].split()
    if header[:2] != ["UUID", "STATUS"] or header[-1] != "NAME" or "IP_ADDR" not in header:
        raise unreadable("prlctl", lines[0], "expected JSON or the 'UUID STATUS IP_ADDR … NAME' header")
    vms = []
    for line in lines[1:]:
        # NAME is last and may hold spaces: split off the other columns only.
        cells = line.split(None, len(header) - 1)
        if len(cells) != len(header):
            raise unreadable("prlctl", line, f"expected {len(header)} columns")
        row = dict(zip(header, cells, strict=True))
        vms.append(_record(row["UUID"], row["STATUS"], row["IP_ADDR"], row["NAME"]))
    return vms
