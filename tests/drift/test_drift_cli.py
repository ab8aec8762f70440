"""``openclaw-infra drift`` when it cannot even start: exit 2 with one line that says why, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import PROJECT_ROOT

DRIFT = str(Path(sys.executable).parent / "openclaw-infra")


def drift(inventory: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DRIFT, "drift", inventory, "deploys/linux_vm.py"],
        cwd=PROJECT_ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("inventory", "content", "expected"),
    [
        ("missing.py", None, "no inventory file"),
        ("raises.py", "raise RuntimeError('boom')\n", "raises.py failed to load: RuntimeError('boom')"),
        ("empty.py", "hosts = []\n", "empty.py gives no hosts to check"),
        (
            "bad.py",
            "from openclaw_infra.inventory import checked_hosts\n"
            "hosts = checked_hosts([('h', {'openclaw_gateways': [{'port': 80}]})])\n",
            "host 'h': openclaw_gateways[0].port: port 80 is outside",
        ),
    ],
)
def test_an_inventory_that_gives_nothing_to_check_is_exit_2(
    tmp_path: Path, inventory: str, content: str | None, expected: str
) -> None:
    if content is not None:
        (tmp_path / inventory).write_text(content)
    result = drift(str(tmp_path / inventory))
    assert result.returncode == 2, result.stdout + result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_an_inventory_importing_a_module_beside_it_loads_as_under_pyinfra(tmp_path: Path) -> None:
    # inventories/sandbox.py imports the harness from the project root, which the installed command does not
    # have on its path: it must be loaded as pyinfra loads it, and then say plainly that no host is up.
    result = drift("inventories/sandbox.py", env={"OPENCLAW_SANDBOX_RUN": str(tmp_path)})
    assert result.returncode == 2
    assert "sandbox hosts not up: (none is up)" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
