"""One cgroup (v2) per sandbox host.

systemd-nspawn started with ``--keep-unit`` puts the host under its own cgroup, in ``payload/`` (its supervisor in
``supervisor/``). The machine runs no systemd, so every nspawn started from the same cgroup (the root) shared one
``/payload``: every host's ``system.slice/openclaw-gateway.service`` was the same cgroup, holding the gateways of
all hosts. Stopping a unit on one host then waited for (or killed) processes of the others, and a unit's CPU
time (``CPUUsageNSec``, which the health wait follows) was all hosts' together. Started from a cgroup of its
own, each host's tree is its own; tearing it down also kills whatever is still in it.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

PARENT = "openclaw-sandbox"


def unified_root() -> Path | None:
    """Where the cgroup v2 hierarchy is mounted (``/sys/fs/cgroup`` or, on a hybrid layout, ``…/unified``)."""
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) > 2 and fields[2] == "cgroup2":
            return Path(fields[1])
    return None


def host_cgroup(name: str) -> Path | None:
    root = unified_root()
    return root / PARENT / name if root else None


def create(name: str) -> Path | None:
    cgroup = host_cgroup(name)
    if cgroup is not None:
        cgroup.mkdir(parents=True, exist_ok=True)
    return cgroup


def started_in(cgroup: Path | None, command: list[str]) -> list[str]:
    """``command`` moved into ``cgroup`` before it starts (same pid: the shell execs it)."""
    if cgroup is None:
        return command
    return ["sh", "-c", 'echo $$ > "$0" && exec "$@"', str(cgroup / "cgroup.procs"), *command]


def _processes(cgroup: Path) -> bool:
    return any(Path(path, "cgroup.procs").read_text().strip() for path, _, _ in os.walk(cgroup))


def remove(name: str) -> None:
    """Kill whatever is left in the host's cgroup, then remove it (children first, as the kernel requires)."""
    cgroup = host_cgroup(name)
    if cgroup is None or not cgroup.is_dir():
        return
    with contextlib.suppress(OSError):
        (cgroup / "cgroup.kill").write_text("1\n")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _processes(cgroup):
            time.sleep(0.1)
    for path, _, _ in sorted(os.walk(cgroup), key=lambda entry: -len(entry[0])):
        with contextlib.suppress(OSError):
            os.rmdir(path)
