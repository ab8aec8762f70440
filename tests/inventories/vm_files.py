"""VM hosts files for the tests of inventories/vm_hosts.py and inventories/vms.py, as an operator writes them."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sandbox_hosts.vm_host import toml_table
from tests.helpers import PROJECT_ROOT, PYINFRA

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0P1q3Y1m2q9N5bE3kZc0Yc4n9p7rJ4Vx6h8mX2m5Qe operator@laptop"
NODE_TEMPLATE = PROJECT_ROOT / "tests" / "fixtures" / "inventories" / "vm_host_node.xml"
REAL_OUTPUTS = PROJECT_ROOT.parent / "shared" / "fixtures" / "real-outputs"
FIX = "run `pyinfra inventories/vm_hosts.py deploys/vm_host.py` to"


def write_vm_hosts(path: Path, hosts: dict[str, dict[str, Any]], all_data: dict[str, Any] | None = None) -> Path:
    lines = [*toml_table("all", all_data or {}), ""]
    for name, data in hosts.items():
        lines += [*toml_table(f"hosts.{json.dumps(name)}", data), ""]
    path.write_text("\n".join(lines))
    return path


def vm(name: str, **fields: Any) -> dict[str, Any]:
    """A declared VM with its own gateway token (a command source: no environment to prepare)."""
    return {
        "name": name,
        "base_image": "/var/lib/images/debian-12.qcow2",
        "ssh_public_key": KEY,
        "gateway": {"openclaw_secrets": {"OPENCLAW_GATEWAY_TOKEN": {"command": ["echo", f"token-of-{name}"]}}},
        **fields,
    }


def vm_host(hypervisor: str, *vms: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"openclaw_vm_host": {"hypervisor": hypervisor, "vms": list(vms), **fields}}


def render_node(path: Path, address: str) -> Path:
    """NODE_TEMPLATE with vm-with-address at ``address`` (the test driver gives domain 1 the range's start + 1)."""
    prefix, _, last = address.rpartition(".")
    path.write_text(NODE_TEMPLATE.read_text().replace("{prefix}", prefix).replace("{start}", str(int(last) - 1)))
    return path


def real_output(name: str) -> str:
    """A capture's output as the tool printed it (after its ``# ---`` header line)."""
    if not REAL_OUTPUTS.is_dir():
        pytest.skip(f"{REAL_OUTPUTS} is not here")
    text = (REAL_OUTPUTS / name).read_text(encoding="utf-8")
    return text.split("# ---\n", 1)[1]


def run_inventory(
    inventory: str, vm_hosts_file: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``pyinfra -y INVENTORY ARGS…`` as an operator runs it, with ``vm_hosts_file`` as the VM hosts file."""
    return subprocess.run(
        [PYINFRA, "-y", inventory, *args],
        cwd=PROJECT_ROOT, env={**os.environ, **(env or {}), "OPENCLAW_VM_HOSTS_FILE": str(vm_hosts_file)},
        capture_output=True, text=True, timeout=600, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
