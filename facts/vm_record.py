"""The record every VM-list fact returns, whatever the hypervisor."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from enum import StrEnum

from .records import JsonRecord


class VmState(StrEnum):
    """A VM's state normalised across hypervisors; the tool's own word is kept in ``VmRecord.raw_state``."""

    RUNNING = "running"
    STOPPED = "stopped"
    SUSPENDED = "suspended"
    OTHER = "other"


@dataclasses.dataclass(frozen=True)
class VmRecord(JsonRecord):
    """One VM as a hypervisor CLI lists it. Sizes are bytes; ``None`` where the tool does not say."""

    name: str
    state: VmState
    raw_state: str
    ipv4: tuple[str, ...] = ()
    cpus: int | None = None
    memory_bytes: int | None = None
    disk_bytes: int | None = None
    uuid: str | None = None


def normalise_state(raw_state: str, states: Mapping[str, VmState]) -> VmState:
    """Look ``raw_state`` up case-insensitively in a tool's own table; unknown words are ``OTHER``."""
    return states.get(raw_state.strip().lower(), VmState.OTHER)


def listed(vms: Sequence[VmRecord], vm_name: str) -> VmRecord | None:
    """The VM named ``vm_name`` in a VM list; the first row where a tool repeats one (lume's stale duplicate rows,
    github.com/trycua/cua/issues/509)."""
    return next((vm for vm in vms if vm.name == vm_name), None)
