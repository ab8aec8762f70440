"""Benchmark of loading ``inventories/vms.py`` against its floor: prints figures and ratios, asserts nothing.

    python -m benchmarks.vm_inventory [--repeat 5] [--prefix vmbench]    # from the project root

Boots one sandbox host as the VM host (always taken down) and puts two libvirt test-driver nodes on it, one with 1
and one with 10 running VMs, each with an address. For each, with as many VMs declared, in rounds (so a burst of
load on the machine lands on every figure alike), the median of ``--repeat`` runs of:

- floor: one ``ssh`` process running the very command discovery sends (``LibvirtVms``'s, wrapped as pyinfra wraps
  it), its output read: the connection and the answer, and nothing of ours;
- load: ``inventories/vms.py`` loaded as pyinfra's CLI loads it, in this process (no interpreter start): validation,
  the VMs' token sources read, one paramiko connection, the same command, parsing, the hosts and the jump config;
- the whole ``pyinfra inventories/vms.py debug-inventory`` process, for reference (interpreter start and imports);
- the same floor and load for ``@local`` (the command in a local ``sh``; libvirt's test driver on this machine).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

# pyinfra's CLI gevent-patches the process on import; the inventory is loaded here as under the CLI.
import pyinfra_cli  # noqa: F401
from pyinfra.api.state import State
from pyinfra.context import ctx_state
from pyinfra_cli.inventory import make_inventory

import sandbox_hosts as sandbox
from openclaw_infra.facts.libvirt import LibvirtVms
from openclaw_infra.host_suite.fact_reading import fact_shell_command
from openclaw_infra.vm_discovery import LIBVIRT_ADDRESS_SOURCE

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INVENTORY = "inventories/vms.py"
PYINFRA = str(Path(sys.executable).parent / "pyinfra")
SIZES = (1, 10)
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0P1q3Y1m2q9N5bE3kZc0Yc4n9p7rJ4Vx6h8mX2m5Qe bench@control"


def node_xml(count: int) -> str:
    """A test-driver node of ``count`` running VMs with addresses; UUIDs fixed (else each connection makes new)."""
    domains = "".join(
        f"<domain type='test'><name>bench-{index}</name><uuid>00000000-0000-4000-8000-{index:012d}</uuid>"
        f"<memory unit='MiB'>512</memory><vcpu>1</vcpu><os><type>hvm</type></os><devices>"
        f"<interface type='network'><mac address='52:54:00:00:01:{index:02x}'/><source network='default'/>"
        f"</interface></devices></domain>"
        for index in range(1, count + 1)
    )
    network = (
        "<network><name>default</name><bridge name='virbr0'/><ip address='192.168.122.1' netmask='255.255.255.0'>"
        "<dhcp><range start='192.168.122.9' end='192.168.122.254'/></dhcp></ip></network>"
    )
    return f"<node>{network}{domains}</node>\n"


def vm_hosts_toml(name: str, data: dict[str, str], uri: str, count: int) -> str:
    lines = [f'[hosts."{name}"]', *(f'{key} = "{value}"' for key, value in data.items())]
    lines += [f'[hosts."{name}".openclaw_vm_host]', 'hypervisor = "libvirt"', f'libvirt_uri = "{uri}"']
    for index in range(1, count + 1):
        lines += [
            f'[[hosts."{name}".openclaw_vm_host.vms]]',
            f'name = "bench-{index}"',
            'base_image = "/var/lib/images/debian-12.qcow2"',
            f'ssh_public_key = "{KEY}"',
            f'gateway = {{ openclaw_secrets = {{ OPENCLAW_GATEWAY_TOKEN = {{ env = "BENCH_TOKEN_{index}" }} }} }}',
        ]
    return "\n".join(lines) + "\n"


def timed(action: Callable[[], object]) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def load_in_process(hosts_file: Path) -> Callable[[], object]:
    def load() -> object:
        os.environ["OPENCLAW_VM_HOSTS_FILE"] = str(hosts_file)
        with ctx_state.use(State()):
            inventory = make_inventory(INVENTORY, cwd=str(PROJECT_ROOT))
        if not len(inventory):
            raise SystemExit(f"{hosts_file}: the inventory gave no host")
        return inventory

    return load


def run(argv: list[str], **kwargs: object) -> Callable[[], object]:
    def action() -> object:
        result = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
        if result.returncode != 0:
            raise SystemExit(f"{argv[:3]} exited {result.returncode}: {result.stderr[-500:]}")
        return result

    return action


class Figure:
    def __init__(self, label: str, action: Callable[[], object]) -> None:
        self.label, self.action = label, action
        self.runs: list[float] = []

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    def __str__(self) -> str:
        runs = " ".join(f"{seconds * 1000:.0f}" for seconds in self.runs)
        return f"  {self.label:<46} {self.median * 1000:7.1f} ms  (runs: {runs})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--prefix", default="vmbench", help="name of the sandbox host booted (at most 10 characters)")
    args = parser.parse_args()
    os.chdir(PROJECT_ROOT)
    for index in range(1, max(SIZES) + 1):
        os.environ[f"BENCH_TOKEN_{index}"] = f"bench-token-{index}"
    work = Path(tempfile.mkdtemp(prefix="vm-inventory-bench-"))
    os.environ["XDG_CACHE_HOME"] = str(work / "cache")
    (host,) = sandbox.up_many([args.prefix], owner_pid=os.getpid())
    try:
        data = {key: str(value) for key, value in host.pyinfra_data().items() if key.startswith("ssh_")}
        figures: list[tuple[Figure, ...]] = []
        for count in SIZES:
            node = f"/root/bench-{count}.xml"
            host.run(f"cat > {node} <<'BENCH_EOF'\n{node_xml(count)}BENCH_EOF")
            (work / f"node-{count}.xml").write_text(node_xml(count))
            remote_file = work / f"remote-{count}.toml"
            remote_file.write_text(vm_hosts_toml(host.name, data, f"test://{node}", count))
            local_file = work / f"local-{count}.toml"
            local_file.write_text(vm_hosts_toml("@local", {}, f"test://{work}/node-{count}.xml", count))
            remote_command = fact_shell_command(
                LibvirtVms(), {"uri": f"test://{node}", "address_source": LIBVIRT_ADDRESS_SOURCE}
            )
            local_command = fact_shell_command(
                LibvirtVms(), {"uri": f"test://{work}/node-{count}.xml", "address_source": LIBVIRT_ADDRESS_SOURCE}
            )
            env = {**os.environ, "OPENCLAW_VM_HOSTS_FILE": str(remote_file)}
            figures.append(
                (
                    Figure(f"floor: ssh + the fact's command, {count} VM(s)", run([*host.ssh_args(), remote_command])),
                    Figure(f"load inventories/vms.py, {count} declared", load_in_process(remote_file)),
                    Figure(
                        f"pyinfra … debug-inventory process, {count}",
                        run([PYINFRA, INVENTORY, "debug-inventory"], env=env),
                    ),
                    Figure(f"@local floor: sh + the command, {count} VM(s)", run(["sh", "-c", local_command])),
                    Figure(f"@local load, {count} declared", load_in_process(local_file)),
                )
            )
        for group in figures:  # not counted: caches warm, host keys learnt
            for figure in group:
                figure.action()
        for _ in range(args.repeat):
            for group in figures:
                for figure in group:
                    figure.runs.append(timed(figure.action))
        loads = " ".join(f"{load:.1f}" for load in os.getloadavg())
        print(f"median of {args.repeat} runs ({os.cpu_count()} CPUs, shared with the host; load average now {loads}):")
        for group in figures:
            for figure in group:
                print(figure)
        (floor_1, load_1, cli_1, local_floor_1, local_1), (floor_10, load_10, cli_10, local_floor_10, local_10) = (
            figures
        )
        print(
            f"ratios:  load / floor = {load_1.median / floor_1.median:.2f} (1 VM), "
            f"{load_10.median / floor_10.median:.2f} (10 VMs)   "
            f"load 10 / load 1 = {load_10.median / load_1.median:.2f} (floor 10 / floor 1 = "
            f"{floor_10.median / floor_1.median:.2f})   "
            f"@local load / floor = {local_1.median / local_floor_1.median:.2f} (1), "
            f"{local_10.median / local_floor_10.median:.2f} (10)   "
            f"process 10 / 1 = {cli_10.median / cli_1.median:.2f}"
        )
    finally:
        sandbox.down(host.name)


if __name__ == "__main__":
    main()
