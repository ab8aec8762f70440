"""The test helper that reads what a failed pyinfra run changed, from the log of a real run (pyinfra @local)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.helpers import PROJECT_ROOT, PYINFRA, changed_operations_logged

FAILING_DEPLOY = """
from pyinfra.operations import files, server

files.file(name="Deploy | marker written", path={marker!r}, mode="600")
files.file(name="Deploy | marker again", path={marker!r}, mode="600")
server.shell(name="Deploy | fails here", commands=["false"])
server.shell(name="Deploy | never reached", commands=["true"])
"""


def test_a_failed_runs_changes_are_read_from_its_log(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    deploy = tmp_path / "deploy.py"
    deploy.write_text(FAILING_DEPLOY.format(marker=str(marker)))
    result = subprocess.run(
        [PYINFRA, "-y", "--json", "@local", str(deploy)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode != 0 and marker.exists(), result.stderr
    assert '"results"' not in result.stdout  # the reason for the helper: a failed run prints no --json results
    # The first write changed the host, the second found it done, the third failed, the fourth never ran.
    assert changed_operations_logged(result.stderr) == ["marker written"], result.stderr
