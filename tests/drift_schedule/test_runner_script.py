"""The wrapper script run for real on this machine (/bin/sh, and bash in POSIX mode), with a fake drift command."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from openclaw_infra.operations.drift_schedule import runner_script

FAKE_DRIFT = """\
import json, os, sys
counter = os.path.join(os.environ["FAKE_STATE"], "runs")
run = int(open(counter).read()) + 1 if os.path.exists(counter) else 1
open(counter, "w").write(str(run))
print("checking hosts as the real command would log", file=sys.stderr)
if os.environ.get("FAKE_SILENT") != "1":
    print(json.dumps({"run": run, "argv": sys.argv[1:], "cwd": os.getcwd(), "hosts": []}))
sys.exit(int(os.environ.get("FAKE_EXIT", "1")))
"""
SHELLS = {"sh": ["/bin/sh"], "bash-posix": ["bash", "--posix"]}
OLD_STAMP = "20000101T000000Z"


class Runner:
    def __init__(self, tmp_path: Path, shell: list[str], keep_reports: int = 3):
        self.state = tmp_path / "state"
        self.work = tmp_path / "work dir"
        self.reports = tmp_path / "var" / "drift reports"
        for directory in (self.state, self.work):
            directory.mkdir()
        fake = tmp_path / "fake_drift.py"
        fake.write_text(FAKE_DRIFT)
        self.script = tmp_path / "run-drift"
        command = [sys.executable, str(fake), "inventories/hosts.py", "it's two words"]
        self.script.write_text(runner_script(command, str(self.work), str(self.reports), keep_reports))
        self.script.chmod(0o755)
        self.shell = shell

    def run(self, exit_code: int, silent: bool = False) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "FAKE_STATE": str(self.state), "FAKE_EXIT": str(exit_code), "FAKE_SILENT": "01"[silent]}
        return subprocess.run(
            [*self.shell, str(self.script)], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    def runs(self, suffix: str) -> list[Path]:
        return sorted(self.reports.glob(f"drift-*.{suffix}"))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=sorted(SHELLS))
def shell(request: pytest.FixtureRequest) -> list[str]:
    command = SHELLS[request.param]
    if not shutil.which(command[0]):
        pytest.skip(f"{command[0]} is not installed")
    return command


def test_reports_are_kept_linked_and_pruned(tmp_path: Path, shell: list[str]) -> None:
    runner = Runner(tmp_path, shell, keep_reports=3)
    # Left by older runs: a report log and a partial report of a run that was killed; and a file of someone else.
    runner.reports.mkdir(parents=True, mode=0o700)  # as report_runner leaves it
    (runner.reports / f"drift-{OLD_STAMP}.log").write_text("old\n")
    (runner.reports / f".drift-{OLD_STAMP}.json.partial").write_text("{")
    (runner.reports / "notes.txt").write_text("mine\n")

    exit_codes = [1, 0, 2, 1, 0]
    for run, exit_code in enumerate(exit_codes, start=1):
        result = runner.run(exit_code)
        assert result.returncode == exit_code, result.stderr  # passed through: systemd marks 1 and 2 failed
        assert result.stdout == ""
        if exit_code:
            assert f"the drift check exited {exit_code}" in result.stderr
        else:
            assert result.stderr == ""

        latest = runner.reports / "latest.json"
        assert latest.is_symlink()
        assert os.readlink(latest) == runner.runs("json")[-1].name  # relative: the directory can move
        report = json.loads(latest.read_text())
        assert report == {
            "run": run,
            "argv": ["inventories/hosts.py", "it's two words", "--json"],
            "cwd": str(runner.work),
            "hosts": [],
        }
        newest_log = runner.runs("log")[-1]
        assert newest_log.name == runner.runs("json")[-1].name.replace(".json", ".log")
        assert newest_log.read_text() == "checking hosts as the real command would log\n"

    assert mode(runner.reports) == 0o700
    reports, logs = runner.runs("json"), runner.runs("log")
    assert [json.loads(path.read_text())["run"] for path in reports] == [3, 4, 5]
    assert [path.stem for path in logs] == [path.stem for path in reports]
    for path in [*reports, *logs]:
        assert mode(path) == 0o600, path  # umask 077: reports name hosts and their drift
    assert sorted(path.name for path in runner.reports.iterdir()) == sorted(
        ["latest.json", "notes.txt", *(path.name for path in reports + logs)]
    )


def test_a_command_that_prints_nothing_keeps_its_log_and_the_last_report(tmp_path: Path) -> None:
    runner = Runner(tmp_path, SHELLS["sh"], keep_reports=2)
    assert runner.run(0).returncode == 0
    assert mode(runner.reports) == 0o700  # made by the script itself under umask 077
    first = runner.runs("json")[0]

    result = runner.run(127, silent=True)  # what the shell returns when the command is not found
    assert result.returncode == 127
    assert "report: none" in result.stderr
    assert runner.runs("json") == [first]
    assert len(runner.runs("log")) == 2
    assert os.readlink(runner.reports / "latest.json") == first.name
    assert not list(runner.reports.glob(".*partial"))

    # The failed run counts as a run: the next one pushes the first report out (keep_reports=2).
    assert runner.run(1).returncode == 1
    assert first not in runner.runs("json")
    assert len(runner.runs("log")) == 2


def test_a_missing_working_dir_is_its_own_exit_code(tmp_path: Path) -> None:
    runner = Runner(tmp_path, SHELLS["sh"])
    runner.work.rmdir()
    result = runner.run(0)
    assert result.returncode == 3
    assert "cannot enter" in result.stderr
    assert not (runner.state / "runs").exists()
