"""Bad VM host settings stop ``pyinfra INVENTORY deploys/vm_host.py`` before any operation, for every host at once,
naming the data key and the fix: the real pyinfra CLI against ``@local`` (nothing there is touched)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
INVENTORY = Path(__file__).resolve().parent / "local_inventory.py"
PYINFRA = str(Path(sys.executable).parent / "pyinfra")


def refused(data: dict[str, Any]) -> str:
    environment = {**os.environ, "OPENCLAW_TEST_VM_HOST_DATA": json.dumps(data)}
    result = subprocess.run(
        [PYINFRA, "-y", str(INVENTORY), "deploys/vm_host.py"],
        capture_output=True, text=True, cwd=PROJECT_ROOT, env=environment, timeout=120, check=False,
    )  # fmt: skip
    printed = result.stdout + result.stderr
    assert result.returncode != 0, printed
    assert "Traceback" not in printed and "Starting operation" not in printed, printed
    return printed


def test_utm_install_is_refused_before_any_operation() -> None:
    printed = refused({"openclaw_vm_host": {"hypervisor": "utm", "install_tools": True, "vms": [{"name": "vm-a"}]}})
    assert "nothing was changed on any host" in printed
    assert "host '@local': openclaw_vm_host.install_tools: UTM is a macOS app" in printed and "Fix:" in printed


def test_a_host_without_vm_host_settings_is_refused() -> None:
    printed = refused({})
    assert "host '@local': openclaw_vm_host is missing. Fix:" in printed
