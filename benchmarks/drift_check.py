"""Benchmark of ``openclaw-infra drift``: time for 1 host and for 4 hosts in parallel, remote commands per host.

    python benchmarks/drift_check.py

Boots 4 sandbox hosts, deploys deploys/linux_vm.py to them (not timed), then times the drift check. Prints
figures, asserts nothing, and always takes its hosts down.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sandbox_hosts as sandbox
from openclaw_infra.drift import checks
from openclaw_infra.drift.run import check_inventory

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEPLOY = "deploys/linux_vm.py"


def timed_check(host_names: list[str]) -> None:
    os.environ["OPENCLAW_SANDBOX_HOSTS"] = ",".join(host_names)
    with tempfile.TemporaryDirectory() as metrics_dir:
        checks.PYINFRA_COMMAND = [sys.executable, str(PROJECT_ROOT / "benchmarks/instrumented_pyinfra.py"), metrics_dir]
        started = time.monotonic()
        results = check_inventory("inventories/sandbox.py", [DEPLOY], PROJECT_ROOT)
        seconds = time.monotonic() - started
        commands: dict[str, int] = {}
        for metrics_file in Path(metrics_dir).glob("*.json"):
            for host_name, count in json.loads(metrics_file.read_text())["commands"].items():
                commands[host_name] = commands.get(host_name, 0) + count
    statuses = sorted({result.status for result in results})
    per_host = sorted(commands.values())
    print(f"{len(host_names)} host(s): {seconds:5.1f} s  statuses {statuses}  remote commands per host {per_host}")


def main() -> None:
    os.chdir(PROJECT_ROOT)
    names = [f"dbench{index}" for index in range(1, 5)]
    hosts = sandbox.up_many(names, owner_pid=os.getpid())
    try:
        subprocess.run(
            [str(Path(sys.executable).parent / "pyinfra"), "-y", "inventories/sandbox.py", DEPLOY],
            env={**os.environ, "OPENCLAW_SANDBOX_HOSTS": ",".join(names)}, check=True, capture_output=True,
        )  # fmt: skip
        timed_check(names[:1])
        timed_check(names)
    finally:
        for host in hosts:
            sandbox.down(host.name)


if __name__ == "__main__":
    main()
