"""Benchmark of deploys/linux_vm.py on a fresh sandbox host: prints figures, asserts nothing.

    python benchmarks/linux_deploy.py

Fresh converge (split into install steps vs the rest), the no-op rerun, and how many remote commands each
needs per host. Boots its own host and always takes it down.
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

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Operations that download and install software; everything else is configuration.
INSTALL_STEPS = ("Base packages", "Node ", "Docker engine", "OpenClaw 2")


def run(host_name: str, label: str) -> dict[str, object]:
    with tempfile.NamedTemporaryFile(suffix=".json") as metrics_file:
        started = time.monotonic()
        subprocess.run(
            [sys.executable, str(PROJECT_ROOT / "benchmarks/instrumented_pyinfra.py"), metrics_file.name,
             "-y", "inventories/sandbox.py", "deploys/linux_vm.py"],
            cwd=PROJECT_ROOT, env={**os.environ, "OPENCLAW_SANDBOX_HOSTS": host_name},
            check=True, capture_output=True,
        )  # fmt: skip
        wall = time.monotonic() - started
        metrics = json.loads(Path(metrics_file.name).read_text())
    # Names read "<deploy> | <operation>".
    install = sum(
        seconds for _, name, seconds in metrics["operations"] if name.rpartition(" | ")[2].startswith(INSTALL_STEPS)
    )
    total_ops = sum(seconds for _, _, seconds in metrics["operations"])
    print(f"{label}: {wall:6.1f} s wall  (operations {total_ops:.1f} s: install {install:.1f} s, "
          f"rest {total_ops - install:.1f} s)  commands {metrics['commands'].get(host_name, 0)}, "
          f"uploads {metrics['uploads'].get(host_name, 0)}")  # fmt: skip
    return metrics


def main() -> None:
    (host,) = sandbox.up_many([f"bench{os.getpid() % 10000}"], owner_pid=os.getpid())
    try:
        run(host.name, "fresh converge")
        run(host.name, "no-op rerun   ")
    finally:
        sandbox.down(host.name)


if __name__ == "__main__":
    main()
