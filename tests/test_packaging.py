"""A plain (non-editable) install ships every module and template: the editable install would hide a gap."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.helpers import PROJECT_ROOT

# Top-level folder -> where setuptools puts it in the wheel (pyproject's package-dir).
MAPPED = {
    "openclaw_infra": "openclaw_infra",
    "facts": "openclaw_infra/facts",
    "operations": "openclaw_infra/operations",
    "deploys": "openclaw_infra/deploys",
    "templates": "openclaw_infra/templates",
}


def test_wheel_contains_every_source_file(tmp_path: Path) -> None:
    # From a clean copy: setuptools reuses build/lib, whose leftovers would fill any gap in the package list.
    source = tmp_path / "source"
    shutil.copytree(
        PROJECT_ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__")
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        f"{target}/{path.relative_to(PROJECT_ROOT / folder).as_posix()}"
        for folder, target in MAPPED.items()
        for path in (PROJECT_ROOT / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert len(expected) > 50
    assert sorted(expected - shipped) == []
    # What users do not import stays out: the test-host harness; and the package says it is typed.
    assert not [name for name in shipped if name.startswith("sandbox_hosts/") or "/sandbox/" in name]
    assert "openclaw_infra/py.typed" in shipped
    # The host suite's options and parametrization reach an operator's pytest through this plugin entry point.
    (entry_points,) = [name for name in shipped if name.endswith(".dist-info/entry_points.txt")]
    declared = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[pytest11]\nopenclaw-host-suite = openclaw_infra.host_suite.plugin" in declared
