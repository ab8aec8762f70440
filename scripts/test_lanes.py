"""The whole test suite in lanes: the tests that boot no host in one pytest, each file of sandbox tests in a pytest
of its own, ``--lanes`` of them at a time, the files known to be long first.

Why not pytest-xdist: the tests import pyinfra's CLI, which patches the process with gevent, and xdist's workers
do not survive that. Separate pytest processes share only the machine, and the sandbox harness already keeps them
apart (host names and subnets per process, a locked registry of hosts, locked image builds, one Node mirror started
under a lock). Each lane's output is printed whole when its file ends; the summary adds up every file's results.

    python scripts/test_lanes.py [--lanes 2] [--durations 25] [PATH ...]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ElementTree
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# -rfExX: the short summary names failures, errors, xfails (with their reason) and xpasses.
PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rfExX"]
SUMMARY_HEADER = "short test summary info"
# Measured in CI (minutes): started first so that no lane is left with a long file at the end. A file not listed
# starts after these; the order only balances the lanes.
LONG_FIRST = (
    "tests/vm_flow/test_linux_vm_flow.py",  # 6-22
    "tests/linux/test_containerized.py",  # 5
    "tests/linux/test_lifecycle.py",  # 5
    "tests/drift/test_drift.py",  # 10, in many tests
    "tests/linux/test_sudo_login.py",  # 5
    "tests/linux/test_agent_sandbox.py",  # 4
    "tests/sandbox/test_harness.py",  # 4
    "tests/linux/test_linux_deploy.py",  # 4
    "tests/sandbox/test_fresh_state.py",  # 3
    "tests/linux/test_quoted_paths.py",  # 3
    "tests/vm_harness/test_vm_guest_live.py",  # 2.5
)
# A file that runs longer than this is stopped (its hosts are taken down) and counted as failed.
FILE_TIMEOUT_SECONDS = 45 * 60
# Tells the pytest processes that the Node mirror belongs to this run, not to whichever of them ends first.
SHARED_RUN_ENV = "OPENCLAW_TEST_LANES"


@dataclass
class Job:
    name: str
    args: list[str]
    status: int | None = None
    seconds: float = 0.0
    report: Path = field(default_factory=Path)
    log: Path = field(default_factory=Path)


@dataclass
class Totals:
    counts: dict[str, int] = field(default_factory=dict)
    durations: list[tuple[float, str]] = field(default_factory=list)


def collect_sandbox_files(paths: list[str]) -> list[str]:
    """Files holding tests marked ``sandbox`` under ``paths`` (all: none given), long ones first."""
    listed = subprocess.run(
        [*PYTEST, "--collect-only", "-q", "-m", "sandbox", *paths], cwd=ROOT, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    if listed.returncode not in (0, 5):
        sys.exit(f"collecting the sandbox tests failed:\n{listed.stdout}\n{listed.stderr}")
    files = sorted({line.split("::")[0] for line in listed.stdout.splitlines() if "::" in line})
    return sorted(files, key=lambda name: LONG_FIRST.index(name) if name in LONG_FIRST else len(LONG_FIRST))


class Lanes:
    def __init__(self, lanes: int, work_dir: Path) -> None:
        self.lanes = lanes
        self.work_dir = work_dir
        self.print_lock = threading.Lock()
        self.processes: set[subprocess.Popen[bytes]] = set()
        self.stopping = False

    def run(self, job: Job) -> Job:
        if self.stopping:
            return job
        job.report = self.work_dir / f"{job.name.replace('/', '_')}.xml"
        job.log = job.report.with_suffix(".log")
        started = time.monotonic()
        with job.log.open("wb") as log:
            process = subprocess.Popen(
                [*PYTEST, f"--junitxml={job.report}", *job.args],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, SHARED_RUN_ENV: "1"},
            )  # fmt: skip
            self.processes.add(process)
            try:
                job.status = process.wait(timeout=FILE_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                job.status = stop(process)
                with job.log.open("ab") as late:
                    late.write(f"\n{job.name}: stopped after {FILE_TIMEOUT_SECONDS} s\n".encode())
            finally:
                self.processes.discard(process)
        job.seconds = time.monotonic() - started
        self.report(job)
        return job

    def report(self, job: Job) -> None:
        output = job.log.read_text(errors="replace")
        verdict = "passed" if job.status == 0 else f"FAILED (pytest exit {job.status})"
        with self.print_lock:
            print(f"==> {job.name}: {verdict} in {job.seconds:.0f} s", flush=True)
            # A failing file shows everything it printed; a passing one its short summary (an xfail's reason), if
            # it has one, else its result line.
            if job.status != 0:
                print(output, flush=True)
            elif SUMMARY_HEADER in output:
                summary_line = output.rfind("\n", 0, output.rfind(SUMMARY_HEADER)) + 1
                print(output[summary_line:].rstrip(), flush=True)
            else:
                print(output.rstrip().rpartition("\n")[2], flush=True)

    def stop_all(self) -> None:
        self.stopping = True
        for process in list(self.processes):
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM first: the tests' conftest turns it into an interrupt that takes their hosts down."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def add_up(jobs: list[Job]) -> Totals:
    totals = Totals()
    for job in jobs:
        try:
            suites = ElementTree.parse(job.report).getroot()  # noqa: S314 (pytest wrote it, in our temp dir)
        except (OSError, ElementTree.ParseError):
            continue
        for case in suites.iter("testcase"):
            outcome = "passed"
            for child in case:
                if child.tag in ("failure", "error"):
                    outcome = "failed" if child.tag == "failure" else "errors"
                elif child.tag == "skipped":
                    outcome = "xfailed" if child.get("type") == "pytest.xfail" else "skipped"
            totals.counts[outcome] = totals.counts.get(outcome, 0) + 1
            totals.durations.append((float(case.get("time", 0)), f"{case.get('classname')}::{case.get('name')}"))
    return totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lanes", type=int, default=2)
    parser.add_argument("--durations", type=int, default=25)
    parser.add_argument("paths", nargs="*", help="test files or directories (default: the whole suite)")
    options = parser.parse_args(argv)

    jobs = [Job("tests without hosts", ["-m", "not sandbox", *options.paths])]
    jobs += [Job(name, [name, "-m", "sandbox"]) for name in collect_sandbox_files(options.paths)]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="openclaw-lanes.") as work_dir:
        lanes = Lanes(options.lanes, Path(work_dir))
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: lanes.stop_all())
        try:
            with ThreadPoolExecutor(max_workers=options.lanes) as pool:
                finished = list(pool.map(lanes.run, jobs))
        finally:
            lanes.stop_all()
            signal.signal(signal.SIGTERM, previous)
            # The mirror served every lane; it ends with the run (the harness's own rule for a single pytest).
            subprocess.run(
                [sys.executable, "-c", "from sandbox_hosts import mirror_service; mirror_service.stop()"],
                cwd=ROOT, check=False,
            )  # fmt: skip
        totals = add_up(finished)

    print(f"==> slowest {options.durations} tests")
    for seconds, name in sorted(totals.durations, reverse=True)[: options.durations]:
        print(f"{seconds:8.2f}s {name}")
    # Paths naming live files only leave nothing for the pytest without hosts: no failure then. The whole suite
    # (no paths) always has such tests, so there "collected no tests" still fails.
    only_live_paths = bool(options.paths) and len(finished) > 1
    failed = [
        job for job in finished if job.status != 0 and not (job is finished[0] and job.status == 5 and only_live_paths)
    ]
    summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(totals.counts.items()))
    print(f"==> {summary or 'no tests'} in {time.monotonic() - started:.0f} s, {options.lanes} lanes")
    for job in failed:
        reason = "collected no tests" if job.status == 5 else f"pytest exit {job.status}"
        print(f"FAILED: {job.name} ({reason})")
    if not totals.counts.get("passed"):
        print("no test passed: failing, a suite that runs nothing proves nothing", file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
