"""Benchmark of deploys/linux_vm.py on sandbox hosts, each figure beside its floor measured in the same run.

    python -m benchmarks.linux_deploy [--hosts 10] [--repeat 3]     (from the project root)

Prints figures and ratios against the goals of issue 9; asserts nothing, so a slow machine never fails a build.

- no-op deploy, 1 host, against the one-script floor: one ssh running, as one script, the very commands the
  no-op run sent (each through ``sh -c`` as pyinfra sends it);
- no-op deploy of N hosts in parallel against 1 host;
- fresh converge of 1 host against the install floor: the same downloads and installs (apt, the Node tarball
  from the same mirror, ``npm install openclaw``) by hand over one ssh, on a fresh host of its own;
- fresh converge of N hosts in parallel: whether every host converged, and how long it took;
- remote commands per host of each run.

Timings are medians of ``--repeat`` runs where a run can be repeated (no-op deploys and their floor). Boots its
own hosts (names ``sb…``) and always takes them down, whatever happens.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import sandbox_hosts as sandbox
from openclaw_infra.deploys.linux_gateway import BASE_PACKAGES
from openclaw_infra.gateway_paths import SYSTEM_PATH
from openclaw_infra.operations.openclaw_package import PACKAGE
from openclaw_infra.settings import NodeRuntime, OpenClawPackage
from sandbox_hosts import SandboxHost, mirror_service

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTRUMENTED = PROJECT_ROOT / "benchmarks" / "instrumented_pyinfra.py"
DEPLOY = "deploys/linux_vm.py"
# Operations that download and install software; everything else is configuration.
INSTALL_STEPS = ("Base packages", "Node ", "Docker engine", "OpenClaw 2")
GOALS = {"noop": 3.0, "parallel": 1.5, "fresh": 1.3}


@dataclass
class Run:
    seconds: float
    exit_code: int
    metrics: dict[str, object]
    output: str

    def commands(self, host_name: str, kind: str = "commands") -> int:
        counts = self.metrics.get(kind, {})
        return int(counts.get(host_name, 0)) if isinstance(counts, dict) else 0

    def sent(self, host_name: str) -> list[str]:
        sent = self.metrics.get("sent", {})
        return list(sent.get(host_name, [])) if isinstance(sent, dict) else []

    def operation_seconds(self, install: bool) -> float:
        operations = self.metrics.get("operations", [])
        assert isinstance(operations, list)
        # Names read "<deploy> | <operation>".
        return float(
            sum(
                seconds
                for _, name, seconds in operations
                if name.rpartition(" | ")[2].startswith(INSTALL_STEPS) == install
            )
        )


def deploy(hosts: Sequence[SandboxHost]) -> Run:
    """The real pyinfra CLI (instrumented) deploying to ``hosts`` in parallel, timed from start to exit."""
    with tempfile.TemporaryDirectory() as private:
        metrics_file = Path(private) / "metrics.json"
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, str(INSTRUMENTED), str(metrics_file), "-y", "inventories/sandbox.py", DEPLOY],
            cwd=PROJECT_ROOT, env={**os.environ, "OPENCLAW_SANDBOX_HOSTS": ",".join(host.name for host in hosts)},
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        seconds = time.monotonic() - started
        metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    return Run(seconds, result.returncode, metrics, result.stdout + result.stderr)


def over_one_ssh(host: SandboxHost, script: str, timeout: float = 1800) -> float:
    """Seconds for one ``ssh HOST sh -s`` running ``script`` (OpenSSH; connection set-up included)."""
    started = time.monotonic()
    result = subprocess.run(
        [*host.ssh_args(), "sh -s"], input=script, capture_output=True, text=True, timeout=timeout, check=False
    )
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise RuntimeError(f"{host.name}: floor script failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return seconds


def over_one_ssh_each(scripts: dict[SandboxHost, str]) -> float:
    """Seconds for one ``ssh`` per host, all at once, each running its own script: the machine's own scaling."""
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(scripts)) as pool:
        list(pool.map(lambda item: over_one_ssh(*item), scripts.items()))
    return time.monotonic() - started


def probes_script(sent: Sequence[str]) -> str:
    """The commands a run sent, as one script: each through ``sh -c`` as pyinfra's connector runs it (a command
    may exit non-zero; so may a fact's, harmlessly)."""
    return "".join(f"sh -c {shlex.quote(command)} >/dev/null 2>&1\n" for command in sent)


def install_script() -> str:
    """The deploy's downloads and installs, by hand: what a person would type on a fresh host."""
    node, openclaw = NodeRuntime(), OpenClawPackage()
    dist = f"node-v{node.version}-linux-x64"
    base = f"{mirror_service.BASE_URL}/v{node.version}"
    release = f"{openclaw.prefix}-{openclaw.version}"
    return f"""set -e
apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -q {" ".join(BASE_PACKAGES)} docker.io >/dev/null
mkdir -p /opt/node-download && cd /opt/node-download
curl -fsSL -o SHASUMS256.txt {base}/SHASUMS256.txt
curl -fsSL -o {dist}.tar.xz {base}/{dist}.tar.xz
grep " {dist}.tar.xz\\$" SHASUMS256.txt | sha256sum --check --strict >/dev/null
tar -xJf {dist}.tar.xz --no-same-owner && mv {dist} /opt/ && ln -sfn /opt/{dist} {node.prefix}
cd / && rm -rf /opt/node-download
env PATH={node.prefix}/bin:{SYSTEM_PATH} {node.prefix}/bin/npm install --global --prefix {release} \\
  --allow-scripts={PACKAGE} --no-audit --no-fund --no-update-notifier {PACKAGE}@{openclaw.version} >/dev/null
ln -sfn {release} {openclaw.prefix}
"""


def median_of(repeat: int, measure: Callable[[], float]) -> float:
    return float(statistics.median(measure() for _ in range(repeat)))


def failures(run: Run, hosts: Sequence[SandboxHost]) -> dict[str, str]:
    """Each failed host and pyinfra's first error line about it ("[name] …failed…" / "[name] Error: …")."""
    if run.exit_code == 0:
        return {}
    found = {}
    for host in hosts:
        said = re.findall(rf"\[{re.escape(host.name)}\] (.*(?:failed|Error|error).*)", run.output)
        if said:
            found[host.name] = said[0].strip()
    return found or {host.name: f"pyinfra exited {run.exit_code}" for host in hosts}


def ratio_line(label: str, seconds: float, floor_label: str, floor: float, goal: float, commands: str) -> str:
    ratio = seconds / floor
    verdict = "meets" if ratio <= goal else "MISSES"
    return (
        f"{label:<34} {seconds:7.2f} s | {floor_label:<30} {floor:7.2f} s | "
        f"{ratio:5.2f}x (goal <= {goal}x: {verdict}) | {commands}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=10, help="hosts deployed in parallel (default 10)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per repeatable figure (median; default 3)")
    args = parser.parse_args()
    os.chdir(PROJECT_ROOT)
    tag = f"{os.getpid() % 1000}"
    one, by_hand = f"sb{tag}a", f"sb{tag}f"
    many = [f"sb{tag}p{index}" for index in range(args.hosts)]
    booted: list[SandboxHost] = []
    lines: list[str] = []
    try:
        booted += sandbox.up_many([one, by_hand], owner_pid=os.getpid())
        host, floor_host = booted

        fresh = deploy([host])
        if fresh.exit_code != 0:
            raise RuntimeError(f"fresh converge of {host.name} failed:\n{fresh.output[-3000:]}")
        install_floor = over_one_ssh(floor_host, install_script())
        sandbox.down(floor_host.name)
        booted.remove(floor_host)

        noops = [deploy([host]) for _ in range(args.repeat)]
        noop = statistics.median(run.seconds for run in noops)
        script = probes_script(noops[-1].sent(host.name))
        noop_floor = median_of(args.repeat, lambda: over_one_ssh(host, script))
        sandbox.down(host.name)
        booted.remove(host)

        booted += sandbox.up_many(many, owner_pid=os.getpid())
        parallel_fresh = deploy(booted)
        failed = failures(parallel_fresh, booted)
        converged = [name for name in many if name not in failed]
        parallel_noop, parallel_floor = None, None
        if not failed:
            parallel_runs = [deploy(booted) for _ in range(args.repeat)]
            parallel_noop = statistics.median(run.seconds for run in parallel_runs)
            scripts = {each: probes_script(parallel_runs[-1].sent(each.name)) for each in booted}
            parallel_floor = median_of(args.repeat, lambda: over_one_ssh_each(scripts))

        rest = fresh.seconds - fresh.operation_seconds(install=True)
        lines += [
            ratio_line(
                "no-op deploy, 1 host",
                noop,
                "one ssh, one script, same probes",
                noop_floor,
                GOALS["noop"],
                f"{noops[-1].commands(host.name)} remote commands",
            ),
            ratio_line(
                f"no-op deploy, {len(many)} hosts in parallel",
                parallel_noop or float("nan"),
                "no-op deploy, 1 host",
                noop,
                GOALS["parallel"],
                "(not measured: some hosts did not converge)" if parallel_noop is None else "",
            ),
            (
                f"one-script floor, {len(many)} hosts at once {parallel_floor:7.2f} s | one-script floor, 1 host"
                f"{noop_floor:14.2f} s | {parallel_floor / noop_floor:5.2f}x: the machine's own scaling (2 cores "
                f"shared by the control side and every host); the deploy's ratio over it: "
                f"{(parallel_noop or 0) / noop / (parallel_floor / noop_floor):.2f}"
                if parallel_floor
                else "one-script floor, hosts at once: not measured"
            ),
            ratio_line(
                "fresh converge, 1 host",
                fresh.seconds,
                "same installs by hand, one ssh",
                install_floor,
                GOALS["fresh"],
                f"{fresh.commands(host.name)} remote commands, {fresh.commands(host.name, 'uploads')} uploads; "
                f"install operations {fresh.operation_seconds(install=True):.1f} s, the rest {rest:.1f} s",
            ),
            f"fresh converge, {len(many)} hosts in parallel    {parallel_fresh.seconds:7.2f} s | "
            f"{len(converged)}/{len(many)} converged | remote commands per host "
            f"{sorted({parallel_fresh.commands(host.name) for host in booted})}",
            *(f"    {name}: {reason[:300]}" for name, reason in failed.items()),
        ]
    finally:
        for leftover in booted:
            sandbox.down(leftover.name)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
