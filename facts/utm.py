"""UTM (QEMU and Apple Virtualization VMs on macOS): ``utmctl list``."""

from __future__ import annotations

import re

from pyinfra.api.facts import FactBase
from typing_extensions import override

from .parsing import meaningful_lines, unreadable
from .vm_record import VmRecord, VmState, normalise_state

UTM_STATES = {
    "started": VmState.RUNNING,
    "stopped": VmState.STOPPED,
    "paused": VmState.SUSPENDED,
}

# utmctl ships inside the app bundle; it is on PATH only when the user linked it there.
UTMCTL_IN_APP = "/Applications/UTM.app/Contents/MacOS/utmctl"

_UUID = re.compile(r"^[0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}$")


class UtmVms(FactBase[list[VmRecord]]):
    """
    Returns every UTM VM, running or not; ``[]`` when ``utmctl`` is neither on PATH nor in the UTM app.

    Runs ``utmctl list`` with stderr folded in: utmctl prints only the table header when macOS refuses it
    Apple Events (over SSH, without automation consent), with the reason on stderr. That is raised as a
    ``FactProcessError`` rather than reported as "no VMs". UTM lists no addresses or sizes.

    .. code:: python

        [
            {
                "name": "Tsapp", "state": "running", "raw_state": "started", "ipv4": [],
                "cpus": None, "memory_bytes": None, "disk_bytes": None,
                "uuid": "C0DE927B-F426-4ABA-A6E7-E30AA429371F",
            },
        ]
    """

    default = list

    @override
    def command(self) -> str:
        return (
            "if command -v utmctl >/dev/null 2>&1; then utmctl list 2>&1; "
            f"elif [ -x {UTMCTL_IN_APP} ]; then {UTMCTL_IN_APP} list 2>&1; fi"
        )

    @override
    def process(self, output: list[str]) -> list[VmRecord]:
        lines = meaningful_lines(output)
        if lines[0].split() != ["UUID", "Status", "Name"]:
            raise unreadable("utmctl", lines[0], "expected the 'UUID Status Name' header")
        vms = []
        for line in lines[1:]:
            # Name is last and may hold spaces.
            cells = line.split(None, 2)
            if len(cells) != 3 or not _UUID.match(cells[0]):
                raise unreadable("utmctl", line, "expected 'UUID Status Name'")
            uuid, raw_state, name = cells
            vms.append(
                VmRecord(name=name, state=normalise_state(raw_state, UTM_STATES), raw_state=raw_state, uuid=uuid)
            )
        return vms
