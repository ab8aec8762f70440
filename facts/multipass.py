"""Multipass (Canonical's Ubuntu VMs): ``multipass list``."""

from __future__ import annotations

import json
from typing import Any

from pyinfra.api.facts import FactBase
from typing_extensions import override

from .parsing import column_starts, cut_columns, ipv4_addresses, meaningful_lines, unreadable
from .vm_record import VmRecord, VmState, normalise_state

MULTIPASS_STATES = {
    "running": VmState.RUNNING,
    # Still running: a shutdown is only scheduled.
    "delayed shutdown": VmState.RUNNING,
    "stopped": VmState.STOPPED,
    "suspended": VmState.SUSPENDED,
}

EMPTY_LIST_TEXT = "No instances found."


class MultipassVms(FactBase[list[VmRecord]]):
    """
    Returns every Multipass instance, running or not; ``[]`` when ``multipass`` is not installed.

    Runs ``multipass list --format json``. The default table of ``multipass list`` is read too, including
    the continuation lines it prints for extra IPv4 addresses.

    .. code:: python

        [
            {
                "name": "bogus-instance", "state": "running", "raw_state": "Running", "ipv4": ["10.21.124.56"],
                "cpus": None, "memory_bytes": None, "disk_bytes": None, "uuid": None,
            },
        ]
    """

    default = list

    @override
    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "multipass"

    @override
    def command(self) -> str:
        return "multipass list --format json"

    @override
    def process(self, output: list[str]) -> list[VmRecord]:
        lines = meaningful_lines(output)
        if lines and lines[0].lstrip().startswith("{"):
            return _from_json(lines)
        return _from_table(lines)


def _record(name: str, raw_state: str, addresses: list[str]) -> VmRecord:
    return VmRecord(
        name=name,
        state=normalise_state(raw_state, MULTIPASS_STATES),
        raw_state=raw_state,
        ipv4=ipv4_addresses(addresses),
    )


def _from_json(lines: list[str]) -> list[VmRecord]:
    try:
        document = json.loads("\n".join(lines))
    except json.JSONDecodeError as error:
        bad_line = lines[min(error.lineno, len(lines)) - 1]
        raise unreadable("multipass", bad_line, f"invalid JSON: {error.msg}") from error
    listed = document.get("list") if isinstance(document, dict) else None
    if not isinstance(listed, list):
        raise unreadable("multipass", lines[0], 'expected a JSON object with a "list" array')
    vms = []
    for item in listed:
        name = item.get("name") if isinstance(item, dict) else None
        raw_state = item.get("state") if isinstance(item, dict) else None
        if not isinstance(name, str) or not isinstance(raw_state, str):
            raise unreadable("multipass", json.dumps(item), "an instance needs a name and a state")
        addresses = item.get("ipv4")
        vms.append(_record(name, raw_state, addresses if isinstance(addresses, list) else []))
    return vms


def _from_table(lines: list[str]) -> list[VmRecord]:
    if lines == [EMPTY_LIST_TEXT]:
        return []
    if not lines or lines[0].split()[:3] != ["Name", "State", "IPv4"]:
        raise unreadable("multipass", lines[0] if lines else "", "expected JSON or the 'Name State IPv4' header")
    # States ("Delayed Shutdown") and images ("Ubuntu 22.04 LTS") hold spaces: cut at the header's offsets.
    starts = column_starts(lines[0])
    rows: list[tuple[str, str, list[str]]] = []
    for line in lines[1:]:
        name, raw_state, address, *_ = cut_columns(line, starts)
        if not name:
            # A continuation line: one more address of the instance above.
            if not rows or not address or raw_state:
                raise unreadable("multipass", line, "continuation line without an instance")
            rows[-1][2].append(address)
            continue
        if not raw_state:
            raise unreadable("multipass", line, "no state")
        rows.append((name, raw_state, [address]))
    return [_record(name, raw_state, addresses) for name, raw_state, addresses in rows]
