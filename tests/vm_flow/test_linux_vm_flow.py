"""Issue 10's flow as a user runs it, on a real libvirt guest: from an empty VM host to a healthy gateway in a VM.

    pyinfra inventories/vm_hosts.py deploys/vm_host.py
    pyinfra inventories/vms.py deploys/linux_vm.py

The VM host is a sandbox host running libvirtd (installed by the deploy: ``install_tools``) and qemu in software
emulation; its VM network is private to it, so the inventory reaches the guest through it (an SSH jump). The guest
boots the harness's guest image (Node and OpenClaw at the pins, preinstalled: ``npm install`` under emulation
takes far too long), gets its admin user and key from cloud-init, and the real gateway starts inside it. One test:
every step costs minutes under emulation.

OpenClaw 2026.9.6 gives a worker thread 5 s (hard-coded) to load at start-up. On a day this machine's emulation is
too slow for that (measured in the guest, see ``lease_worker_load_seconds``), the gateway cannot start in the guest:
the test then still checks every step that does not need it running, and reports XFAIL with the measured figure.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox_hosts import guest_image
from sandbox_hosts import vm_host as vm_harness
from sandbox_hosts.hosts import SandboxHost, ssh_key_path
from tests.helpers import PROJECT_ROOT, PYINFRA, changed_operations, changed_operations_logged

pytestmark = pytest.mark.sandbox

VM = "ocvm1"
GATEWAY_PORT = 18789
LEASE_TIMEOUT = "state lease heartbeat did not become ready"
# How often a deploy that hit it is run again. Once, and not when the guest is too slow to make it at all: a second
# redeploy rarely helped (CI met two timeouts in a row once), and each costs ~3.5 min of CI.
REDEPLOYS = 1
# OpenClaw 2026.9.6 gives its state-lease worker 5 s (hard-coded) to load and start, while the gateway's main thread
# is busy starting. Measured in this test's emulated guest on 2026-12-05: Node loaded that worker in 4.4-6.6 s
# with the guest idle, and in 9.8 s beside one busy vCPU, so twice as long as idle. A guest that needs more than
# half the deadline idle cannot start the gateway, whatever the deploy does.
LEASE_DEADLINE_SECONDS = 5.0
LEASE_WORKER = "/opt/openclaw/lib/node_modules/openclaw/dist/state/openclaw-state-lease-heartbeat.worker.js"
# Loads the worker as OpenClaw does (a worker thread) and prints the milliseconds until its module has run: without
# OpenClaw's shared state it then fails at once, which is the moment measured.
_LEASE_WORKER_PROBE = """\
import { Worker } from "node:worker_threads";
const started = performance.now();
const done = () => { console.log(Math.round(performance.now() - started)); process.exit(0); };
const worker = new Worker(new URL(process.argv[2], "file://"), { workerData: {} });
worker.on("error", done);
worker.on("exit", done);
"""
# Under emulation the gateway's cold start takes minutes; the deploy's own health wait follows it (up to 900 s).
DEPLOY_TIMEOUT = 2400


def run(*args: str, vm_hosts_file: Path, timeout: float = DEPLOY_TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args),
        cwd=PROJECT_ROOT, env={**os.environ, "OPENCLAW_VM_HOSTS_FILE": str(vm_hosts_file)},
        capture_output=True, text=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def changed(inventory: str, deploy: str, vm_hosts_file: Path) -> list[str]:
    """Run ``pyinfra -y --json INVENTORY DEPLOY``; the names of the operations that changed a host."""
    result = run(PYINFRA, "-y", "--json", inventory, deploy, vm_hosts_file=vm_hosts_file)
    assert result.returncode == 0, f"{inventory} {deploy} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    return changed_operations(result.stdout)


def gateway_deployed(vm_hosts_file: Path, lease_load_seconds: Callable[[], float]) -> tuple[list[str], str, float]:
    """Run the gateway deploy through the VM inventory; the operations that changed the guest, and "" or, when every
    run failed on OpenClaw's lease timeout and nothing else, the last run's output, with the lease worker's load time
    measured after the last failure. A run that hit it is run again (what an operator does: the redeploy resets the
    failed unit and starts it), up to ``REDEPLOYS`` times, unless the guest needs more than the whole deadline to
    load the worker with nothing else running: no redeploy can start it then. Each failed run's changes are read from
    its log (a failed run prints no --json results)."""
    names: list[str] = []
    load = 0.0
    for attempt in range(REDEPLOYS + 1):
        result = run(PYINFRA, "-y", "--json", "inventories/vms.py", "deploys/linux_vm.py", vm_hosts_file=vm_hosts_file)
        output = f"{result.stdout}\n{result.stderr}"
        if result.returncode == 0:
            return [*names, *changed_operations(result.stdout)], "", 0.0
        assert LEASE_TIMEOUT in output, f"deploys/linux_vm.py exited {result.returncode}\n{output}"
        names += changed_operations_logged(result.stderr)
        load = lease_load_seconds()
        print(f"deploys/linux_vm.py: failed with {LEASE_TIMEOUT!r} (attempt {attempt + 1}); lease worker: {load:.1f} s")
        if load > LEASE_DEADLINE_SECONDS:
            break
    # What failed is the verification alone, after every operation ran.
    assert "verification failed: service openclaw-gateway.service: expected active" in output, output
    return names, output, load


def lease_worker_load_seconds(host: SandboxHost, address: str, known_hosts: Path) -> float:
    """With the gateway stopped: how long Node in the guest takes to load OpenClaw's state-lease worker, the best
    of three runs after one that fills Node's compile cache."""
    inside(host, address, "systemctl stop openclaw-gateway.service", known_hosts)
    probe = f"cat > /tmp/lease-probe.mjs <<'EOF'\n{_LEASE_WORKER_PROBE}EOF\n" + " ; ".join(
        ["export NODE_COMPILE_CACHE=/tmp/lease-probe-cache", f"test -f {LEASE_WORKER}"]
        + [f"/opt/node/bin/node /tmp/lease-probe.mjs {LEASE_WORKER}"] * 4
    )
    runs = [int(line) for line in inside(host, address, probe, known_hosts).split()]
    assert len(runs) == 4, runs
    return min(runs[1:]) / 1000


def inside(host: SandboxHost, address: str, command: str, known_hosts: Path) -> str:
    """``command`` run as root in the guest, reached through its VM host as the inventory reaches it."""
    result = subprocess.run(
        [*vm_harness.jump_ssh_args(host, address, ssh_key_path(), known_hosts), "sudo -n sh -c", shlex.quote(command)],
        capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, f"{command!r} in the guest exited {result.returncode}: {result.stderr}"
    return result.stdout


def test_from_an_empty_vm_host_to_a_healthy_gateway_in_a_real_libvirt_guest(
    vm_host: SandboxHost, tmp_path: Path
) -> None:
    host, guest = vm_host, guest_image.ensure_guest_image()
    token = secrets.token_urlsafe(32)
    token_file = tmp_path / "vm-token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    public_key = ssh_key_path().with_suffix(".pub").read_text().strip()
    hosts_file = vm_harness.write_vm_hosts_file(tmp_path / "vm_hosts.toml", host, guest, VM, public_key, token_file)

    # 1. The VM host, from no libvirt at all: tools, network, image dir, disk, seed, domain, started, address.
    first = changed("inventories/vm_hosts.py", "deploys/vm_host.py", hosts_file)
    assert f"{VM}: libvirt domain" in first and f"{VM}: running, autostart on" in first, first
    assert host.run(f"virsh domstate {VM}").stdout.strip() == "running"
    assert host.run(f"virsh dominfo {VM}").stdout.count("Autostart:      enable") == 1
    assert changed("inventories/vm_hosts.py", "deploys/vm_host.py", hosts_file) == []

    # 2. The gateway inside, through the inventory that finds the VM and jumps through its host.
    address = vm_harness.domain_address(host, VM)
    known_hosts = tmp_path / "guest_known_hosts"
    deployed, lease_failure, load = gateway_deployed(
        hosts_file, lambda: lease_worker_load_seconds(host, address, known_hosts)
    )
    assert "openclaw-gateway: systemd unit" in deployed and "openclaw-gateway: secrets file" in deployed, deployed
    # The token is this VM's own, in a root-only file, and never on the VM host.
    assert inside(host, address, "stat -c '%a %U' /etc/openclaw/secrets.env", known_hosts).split() == ["600", "root"]
    # (The guest's disk holds it, inside the VM; looked for in the VM host's own trees, the value on stdin only.)
    found_on_vm_host = subprocess.run(
        [*host.root_shell_args(), "grep -rlsF -f - /etc /root /tmp /var/tmp /var/log || true"],
        input=token + "\n", capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert found_on_vm_host.stdout == "", found_on_vm_host.stdout
    if lease_failure:
        # Every run failed on OpenClaw's 5 s lease start and on nothing else. That is this machine's emulation being
        # too slow only if the guest cannot load the lease worker in half the deadline even with nothing else running;
        # a guest that can and still fails is a failure of this test.
        assert load > LEASE_DEADLINE_SECONDS / 2, (
            f"the guest loads OpenClaw's lease worker in {load:.1f} s, yet the gateway never started:\n{lease_failure}"
        )
    else:
        health = inside(host, address, f"curl -fsS http://127.0.0.1:{GATEWAY_PORT}/health", known_hosts)
        assert json.loads(health)["ok"] is True, health
        listeners = inside(host, address, f"ss -Hltn 'sport = :{GATEWAY_PORT}'", known_hosts).split("\n")
        local_addresses = [line.split()[3].rpartition(":")[0] for line in listeners if line.strip()]
        assert local_addresses and set(local_addresses) <= {"127.0.0.1", "[::1]"}, listeners

        # A second run changes nothing; drift through the same inventory is clean.
        assert changed("inventories/vms.py", "deploys/linux_vm.py", hosts_file) == []
        drift = run(
            str(Path(PYINFRA).with_name("openclaw-infra")), "drift", "inventories/vms.py", "deploys/linux_vm.py",
            vm_hosts_file=hosts_file, timeout=900,
        )  # fmt: skip
        assert drift.returncode == 0, drift.stdout + drift.stderr

    # 3. The VM stopped behind the deploy's back: the inventory says so when it loads, and drift names it.
    host.run(f"virsh shutdown {VM}")
    deadline = time.monotonic() + 300
    while host.run(f"virsh domstate {VM}").stdout.strip() != "shut off":
        assert time.monotonic() < deadline, "the guest did not shut down"
        time.sleep(3)
    listed = run(PYINFRA, "-y", "inventories/vms.py", "debug-inventory", vm_hosts_file=hosts_file, timeout=300)
    assert f"VM '{VM}' on {host.name} is declared but stopped" in listed.stderr, listed.stderr
    drift = run(
        str(Path(PYINFRA).with_name("openclaw-infra")), "drift", "inventories/vms.py", "deploys/linux_vm.py",
        vm_hosts_file=hosts_file, timeout=900,
    )  # fmt: skip
    assert drift.returncode == 1 and VM in drift.stdout, drift.stdout + drift.stderr

    # The VM host deploy starts it again (the disk, and the gateway on it, as they were).
    assert changed("inventories/vm_hosts.py", "deploys/vm_host.py", hosts_file) == [f"{VM}: running, autostart on"]
    vm_harness.domain_address(host, VM)
    relisted = run(PYINFRA, "-y", "inventories/vms.py", "debug-inventory", vm_hosts_file=hosts_file, timeout=300)
    # pyinfra prints the inventory on stderr, where the report of an unavailable VM would be too.
    assert f"[{VM}]" in relisted.stderr and "declared but" not in relisted.stderr, relisted.stderr
    if lease_failure:
        pytest.xfail(
            f"every step ran, but the gateway in the emulated guest could not start: this machine's software emulation "
            f"loads OpenClaw's lease worker in {load:.1f} s, against the {LEASE_DEADLINE_SECONDS:.0f} s OpenClaw allows"
        )
