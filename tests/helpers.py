"""Run the real pyinfra CLI against sandbox hosts, through the project's own inventory file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openclaw_infra.sandbox import SandboxHost

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SANDBOX_INVENTORY = PROJECT_ROOT / "inventories" / "sandbox.py"
PYINFRA = str(Path(sys.executable).parent / "pyinfra")


def run_pyinfra(
    hosts: Sequence[SandboxHost],
    *args: str,
    env: dict[str, str] | None = None,
    check: bool = True,
    timeout: float = 1800,
) -> subprocess.CompletedProcess[str]:
    """``pyinfra inventories/sandbox.py ARGS…`` limited to ``hosts``; returns the finished process."""
    run_env = {**os.environ, **(env or {}), "OPENCLAW_SANDBOX_HOSTS": ",".join(host.name for host in hosts)}
    result = subprocess.run(
        [PYINFRA, "-y", str(SANDBOX_INVENTORY), *args],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=run_env,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"pyinfra exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


def pyinfra_fact_json(host: SandboxHost, fact: str, *fact_args: str) -> Any:
    """The fact's value for ``host`` as ``pyinfra … fact FACT --json`` prints it."""
    result = run_pyinfra([host], "fact", fact, *fact_args, "--json")
    return json.loads(result.stdout)[host.name]
