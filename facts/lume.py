"""Lume (macOS and Linux VMs on Apple Silicon): ``lume ls``."""

from __future__ import annotations

import json
import re
from typing import Any

from pyinfra.api.facts import FactBase
from typing_extensions import override

from .parsing import ipv4_addresses, meaningful_lines, unreadable
from .vm_record import VmRecord, VmState, normalise_state

LUME_STATES = {"running": VmState.RUNNING, "stopped": VmState.STOPPED}

EMPTY_LIST_TEXT = "No virtual machines found"

# The text table prints sizes in binary units ("8.00G", "22.5GB/50.0GB"), as the JSON's byte counts show.
_SIZE = re.compile(r"^(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[KMGT]?)B?$", re.IGNORECASE)
_UNIT_BYTES = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


class LumeVms(FactBase[list[VmRecord]]):
    """
    Returns the VMs Lume knows, running or not; ``[]`` when ``lume`` is not installed.

    Runs ``lume ls --format json`` and falls back to the text table of ``lume ls`` where the JSON form is not
    available. Lume may print log lines around its JSON: they are skipped. Sizes read from the text table are
    as rounded as lume prints them.

    .. code:: python

        [
            {
                "name": "test-vm", "state": "running", "raw_state": "running", "ipv4": ["192.168.64.10"],
                "cpus": 4, "memory_bytes": 8589934592, "disk_bytes": 128849018880, "uuid": None,
            },
        ]
    """

    default = list

    @override
    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "lume"

    @override
    def command(self) -> str:
        return "lume ls --format json 2>/dev/null || lume ls"

    @override
    def process(self, output: list[str]) -> list[VmRecord]:
        lines = meaningful_lines(output)
        listed = _find_json_list(lines)
        if listed is not None:
            return [_from_json(item) for item in listed]
        return _from_table(lines)


def _find_json_list(lines: list[str]) -> list[dict[str, Any]] | None:
    """The first JSON array of objects in the output; log lines such as '[INFO] …' around it are skipped."""
    text = "\n".join(lines)
    decoder = json.JSONDecoder()
    offset = 0
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith("["):
            try:
                value, _ = decoder.raw_decode(text, offset + len(line) - len(stripped))
            except json.JSONDecodeError:
                value = None
            if isinstance(value, list) and all(isinstance(item, dict) for item in value):
                return value
        offset += len(line) + 1
    return None


def _from_json(item: dict[str, Any]) -> VmRecord:
    name = item.get("name")
    raw_state = item.get("status")
    if not isinstance(name, str) or not isinstance(raw_state, str):
        raise unreadable("lume", json.dumps(item), "a VM needs a name and a status")
    disk = item.get("diskSize")
    disk_bytes = disk.get("total") if isinstance(disk, dict) else disk
    address = item.get("ipAddress")
    return VmRecord(
        name=name,
        state=normalise_state(raw_state, LUME_STATES),
        raw_state=raw_state,
        ipv4=ipv4_addresses([address]) if isinstance(address, str) else (),
        cpus=_int_or_none(item.get("cpuCount")),
        memory_bytes=_int_or_none(item.get("memorySize")),
        disk_bytes=_int_or_none(disk_bytes),
    )


def _from_table(lines: list[str]) -> list[VmRecord]:
    if lines and all(line.startswith(EMPTY_LIST_TEXT) for line in lines):
        return []
    header: list[str] | None = None
    vms = []
    for line in lines:
        cells = line.split()
        if header is None:
            if cells[:1] != ["name"] or "status" not in cells:
                raise unreadable("lume", line, "expected JSON or the 'name … status' table header")
            header = cells
            continue
        # No cell holds a space (names, sizes, '-' placeholders), so a row has exactly one word per column.
        if len(cells) != len(header):
            raise unreadable("lume", line, f"expected {len(header)} columns")
        row = dict(zip(header, cells, strict=True))
        disk = row.get("disk", "")
        vms.append(
            VmRecord(
                name=row["name"],
                state=normalise_state(row["status"], LUME_STATES),
                raw_state=row["status"],
                ipv4=ipv4_addresses([row.get("ip", "")]),
                cpus=int(row["cpu"]) if row.get("cpu", "").isdigit() else None,
                memory_bytes=_size_bytes(row.get("memory", ""), line),
                # "allocated/total": the disk's size is the total.
                disk_bytes=_size_bytes(disk.rpartition("/")[2], line),
            )
        )
    return vms


def _size_bytes(text: str, line: str) -> int | None:
    if text in ("", "-"):
        return None
    match = _SIZE.match(text)
    if not match:
        raise unreadable("lume", line, f"size {text!r}")
    return round(float(match["number"]) * _UNIT_BYTES[match["unit"].upper()])


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
