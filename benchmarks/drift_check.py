"""Benchmark of ``openclaw-infra drift`` against its floor: prints figures and ratios, asserts nothing.

    python -m benchmarks.drift_check [--hosts 10] [--repeat 5]    # from the project root

Boots ``--hosts`` sandbox hosts, deploys deploys/linux_vm.py to them (not timed), and always takes them down.
Then, in rounds (so a burst of load on the machine lands on every figure alike), the median of ``--repeat`` runs:

- floor: one ``ssh`` process running one shell script made of the very commands one host's drift run sends
  (recorded from an instrumented run: the plan's probes and the expected state's facts), their output read, with
  the CPU those commands take on the host;
- drift of 1 host and of all hosts in parallel: the real ``openclaw-infra drift INVENTORY DEPLOY --json``, the
  whole process (interpreter start and imports included), with its CPU time;
- for reference, the floor of every host at once (one ``ssh`` each): sandbox hosts share this machine's CPUs
  with each other and with the drift process, so this says how far parallel hosts can go here at all.

Also the remote commands each host gets (every command pyinfra sends over SSH), the slowest of them, and the
drift run's own time in-process, without the interpreter's start. Goals: 1 host / floor <= 3; all hosts / 1 host
<= 1.5.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# The in-process run below is pyinfra's: gevent-patch this process before anything imports paramiko.
import pyinfra_cli  # noqa: F401
from pyinfra.api.command import StringCommand
from pyinfra.connectors.ssh import SSHConnector

import sandbox_hosts as sandbox
from openclaw_infra.drift.run import check_inventory

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INVENTORY = "inventories/sandbox.py"
DEPLOY = "deploys/linux_vm.py"
DRIFT = str(Path(sys.executable).parent / "openclaw-infra")
GOAL_ONE_HOST_OVER_FLOOR = 3.0
GOAL_ALL_HOSTS_OVER_ONE = 1.5
# Hosts deployed at once: ten gateways starting together on a small machine miss the deploy's 90 s health wait.
DEPLOY_BATCH = 5


@dataclasses.dataclass
class Sent:
    """What one host was sent over SSH: each command (before pyinfra's ``sh -c``) and its seconds."""

    commands: list[str] = dataclasses.field(default_factory=list)
    seconds: list[float] = dataclasses.field(default_factory=list)


@contextmanager
def recorded_commands() -> Iterator[dict[str, Sent]]:
    """Every command pyinfra sends over SSH in this process, by host."""
    sent: dict[str, Sent] = collections.defaultdict(Sent)
    run_shell_command = SSHConnector.run_shell_command

    def recording(connector: SSHConnector, command: StringCommand | str, *args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        try:
            return run_shell_command(connector, command, *args, **kwargs)
        finally:
            record = sent[connector.host.name]
            record.commands.append(command.get_raw_value() if isinstance(command, StringCommand) else command)
            record.seconds.append(time.monotonic() - started)

    SSHConnector.run_shell_command = recording  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        SSHConnector.run_shell_command = run_shell_command  # type: ignore[method-assign]


def in_process_drift(host_names: list[str]) -> tuple[float, dict[str, Sent]]:
    """The drift run inside this process (no interpreter start, no imports): seconds and what each host was sent."""
    os.environ["OPENCLAW_SANDBOX_HOSTS"] = ",".join(host_names)
    with recorded_commands() as sent:
        started = time.monotonic()
        results = check_inventory(INVENTORY, [DEPLOY], PROJECT_ROOT)
        seconds = time.monotonic() - started
    not_ok = [(result.host, result.status, result.error) for result in results if result.status != "ok"]
    if not_ok:
        print(f"  (in-process run: not every host is ok: {not_ok})")
    return seconds, dict(sent)


def floor_script(commands: list[str]) -> str:
    # Each command in a subshell of its own, as pyinfra's `sh -c` runs it; its output read like the drift's. Last,
    # the CPU the commands took on the host (`times`: the children's user and system time).
    return "".join(f"(\n{command}\n)\n" for command in commands) + "times >&2\n"


def timed_floors(scripts: dict[sandbox.SandboxHost, str]) -> tuple[float, float]:
    """One ``ssh`` per host, all at once, each running its script: wall seconds, and the hosts' CPU seconds."""
    started = time.monotonic()
    processes = [
        subprocess.Popen(
            [*host.ssh_args(), "sh"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for host in scripts
    ]
    outputs = [process.communicate(script) for process, script in zip(processes, scripts.values(), strict=True)]
    wall = time.monotonic() - started
    cpu = 0.0
    for _, stderr in outputs:
        # The last line of `times`: "0m0.420s 0m0.190s", the children's user and system time.
        for field in stderr.strip().splitlines()[-1].split():
            minutes, _, seconds = field.rstrip("s").partition("m")
            cpu += 60 * float(minutes) + float(seconds)
    return wall, cpu


def timed_drift(host_names: list[str]) -> tuple[float, float, str]:
    """Wall seconds and CPU seconds (user + system) of the real command, and its summary."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    result = subprocess.run(
        [DRIFT, "drift", INVENTORY, DEPLOY, "--json"],
        env={**os.environ, "OPENCLAW_SANDBOX_HOSTS": ",".join(host_names)},
        cwd=PROJECT_ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    try:
        summary = json.dumps(json.loads(result.stdout)["summary"])
    except ValueError:
        summary = f"exit {result.returncode}: {result.stderr.strip()[-300:]}"
    return wall, cpu, summary


class Figure:
    """Runs of one measurement: wall seconds, and CPU seconds where they were read."""

    def __init__(self, label: str, cpu_of: str = "") -> None:
        self.label, self.cpu_of = label, cpu_of
        self.walls: list[float] = []
        self.cpus: list[float] = []

    def add(self, wall: float, cpu: float) -> None:
        self.walls.append(wall)
        self.cpus.append(cpu)

    @property
    def median(self) -> float:
        return statistics.median(self.walls)

    def __str__(self) -> str:
        runs = " ".join(f"{seconds:.2f}" for seconds in self.walls)
        cpu = f"  CPU {self.cpu_of} {statistics.median(self.cpus):.2f} s" if self.cpu_of else ""
        return f"  {self.label:<32} {self.median:6.2f} s  (runs: {runs}){cpu}"


def measure(hosts: list[sandbox.SandboxHost], repeat: int) -> None:
    names = [host.name for host in hosts]
    # Not counted: the gateways the deploy just (re)started settle, the machine's file cache warms up.
    timed_drift(names)
    seconds_one, sent_one = in_process_drift(names[:1])
    seconds_all, sent_all = in_process_drift(names)
    first = sent_one[names[0]]
    print(f"remote commands per host: {len(first.commands)} (1-host run); "
          f"{sorted(len(sent.commands) for sent in sent_all.values())} ({len(names)}-host run)")  # fmt: skip
    slowest = sorted(zip(first.seconds, first.commands, strict=True), reverse=True)[:5]
    print(
        "slowest of them (1-host run): "
        + "; ".join(f"{seconds:.2f} s {command[:40]!r}" for seconds, command in slowest)
    )
    print(f"drift in-process (no interpreter start, no imports): 1 host {seconds_one:.2f} s, "
          f"{len(names)} hosts {seconds_all:.2f} s")  # fmt: skip

    scripts = {host: floor_script(sent_all[host.name].commands) for host in hosts}
    floor_one = Figure("floor: 1 ssh, 1 script", "on the host")
    floor_all = Figure(f"floor: {len(names)} at once (reference)", "on the hosts")
    one = Figure("drift, 1 host", "of the drift process")
    every = Figure(f"drift, {len(names)} hosts in parallel", "of the drift process")
    summaries: set[str] = set()
    for _ in range(repeat):
        floor_one.add(*timed_floors({hosts[0]: scripts[hosts[0]]}))
        floor_all.add(*timed_floors(scripts))
        wall, cpu, summary = timed_drift(names[:1])
        one.add(wall, cpu)
        summaries.add(f"1 host: {summary}")
        wall, cpu, summary = timed_drift(names)
        every.add(wall, cpu)
        summaries.add(f"{len(names)} hosts: {summary}")

    loads = " ".join(f"{load:.1f}" for load in os.getloadavg())
    print(f"median of {repeat} runs ({os.cpu_count()} CPUs, shared with the hosts; load average now {loads}):")
    for figure in (floor_one, one, every, floor_all):
        print(figure)
    print(f"  reports: {'; '.join(sorted(summaries))}")
    print(f"ratios:  1 host / floor = {one.median / floor_one.median:.2f} (goal <= {GOAL_ONE_HOST_OVER_FLOOR})   "
          f"{len(names)} hosts / 1 host = {every.median / one.median:.2f} (goal <= {GOAL_ALL_HOSTS_OVER_ONE})   "
          f"(floor: {len(names)} at once / 1 = {floor_all.median / floor_one.median:.2f})")  # fmt: skip


def deploy(host_names: list[str]) -> None:
    """Deploy to a batch of hosts; once more when it fails (a gateway that started too slowly on a busy machine to
    pass the verification: the second run restarts nothing and verifies again)."""
    for attempt in (1, 2):
        result = subprocess.run(
            [str(Path(sys.executable).parent / "pyinfra"), "-y", INVENTORY, DEPLOY],
            env={**os.environ, "OPENCLAW_SANDBOX_HOSTS": ",".join(host_names)},
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode == 0:
            return
        print(f"  deploy to {','.join(host_names)} failed (exit {result.returncode}, attempt {attempt})")
    raise SystemExit(f"the deploy failed twice:\n{result.stderr[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.chdir(PROJECT_ROOT)
    names = [f"dbench{index}" for index in range(1, args.hosts + 1)]
    started = time.monotonic()
    hosts = sandbox.up_many(names, owner_pid=os.getpid())
    try:
        print(f"booted {len(hosts)} sandbox hosts in {time.monotonic() - started:.0f} s")
        started = time.monotonic()
        for batch in range(0, len(names), DEPLOY_BATCH):
            deploy(names[batch : batch + DEPLOY_BATCH])
        print(f"deployed {DEPLOY} to them in {time.monotonic() - started:.0f} s (not part of any figure)")
        measure(hosts, args.repeat)
    finally:
        for host in hosts:
            sandbox.down(host.name)


if __name__ == "__main__":
    main()
