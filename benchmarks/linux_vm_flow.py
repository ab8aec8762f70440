"""Benchmark of issue 10's flow on a real libvirt guest: from an empty VM host to a healthy gateway inside a VM.

    python -m benchmarks.linux_vm_flow       (from the project root)

Prints figures and ratios; asserts nothing, so a slow machine never fails a build. Boots its own VM hosts (sandbox
hosts running libvirtd and qemu in software emulation; always taken down), one after the other:

- floor: on a VM host of its own, what a person types: Debian's libvirt packages installed, the guest image's
  overlay, a NoCloud seed and a minimal domain made and started with virsh, then waiting for SSH in the guest;
- ``pyinfra inventories/vm_hosts.py deploys/vm_host.py`` on an empty VM host (tools, network, disk, seed, domain,
  started, address and SSH waited for): against that floor;
- then ``pyinfra inventories/vms.py deploys/linux_vm.py``: the gateway inside until the deploy's verification
  found it healthy (VM created → gateway healthy), and a second, no-op run of each.

The inventory's load time for 1 and 10 declared VMs is ``python -m benchmarks.vm_inventory``.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sandbox_hosts import guest_image, hosts
from sandbox_hosts import vm_host as harness

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PYINFRA = str(Path(sys.executable).parent / "pyinfra")
VM = "ocvmbench"


def timed(*command: str, vm_hosts_file: Path) -> float:
    started = time.monotonic()
    result = subprocess.run(
        list(command),
        cwd=PROJECT_ROOT, env={**os.environ, "OPENCLAW_VM_HOSTS_FILE": str(vm_hosts_file)},
        capture_output=True, text=True, timeout=3600, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command[1:])} exited {result.returncode}:\n{result.stderr[-3000:]}")
    return seconds


def floor(image: guest_image.GuestImage, public_key: str) -> float:
    """Seconds from an empty VM host to SSH answering in a guest started by hand."""
    host = harness.up_vm_host(f"fb{os.getpid() % 10000}", owner_pid=os.getpid())
    try:
        started = time.monotonic()
        harness.install_libvirt(host)
        harness.start_guest_by_hand(host, image, VM, public_key)
        address = harness.domain_address(host, VM)
        with tempfile.TemporaryDirectory() as private:
            ssh = harness.jump_ssh_args(host, address, hosts.ssh_key_path(), Path(private) / "known_hosts")
            while subprocess.run([*ssh, "true"], capture_output=True, timeout=60, check=False).returncode != 0:
                time.sleep(1)
        return time.monotonic() - started
    finally:
        hosts.down(host.name)


def main() -> None:
    os.chdir(PROJECT_ROOT)
    image = guest_image.ensure_guest_image()
    public_key = hosts.ensure_ssh_key().with_suffix(".pub").read_text().strip()
    by_hand = floor(image, public_key)
    host = harness.up_vm_host(f"vb{os.getpid() % 10000}", owner_pid=os.getpid())
    try:
        with tempfile.TemporaryDirectory() as private:
            token_file = Path(private) / "token"
            token_file.write_text(secrets.token_urlsafe(32) + "\n")
            token_file.chmod(0o600)
            hosts_file = harness.write_vm_hosts_file(
                Path(private) / "vm_hosts.toml", host, image, VM, public_key, token_file
            )
            created = timed(PYINFRA, "-y", "inventories/vm_hosts.py", "deploys/vm_host.py", vm_hosts_file=hosts_file)
            healthy = timed(PYINFRA, "-y", "inventories/vms.py", "deploys/linux_vm.py", vm_hosts_file=hosts_file)
            vm_noop = timed(PYINFRA, "-y", "inventories/vm_hosts.py", "deploys/vm_host.py", vm_hosts_file=hosts_file)
            gateway_noop = timed(PYINFRA, "-y", "inventories/vms.py", "deploys/linux_vm.py", vm_hosts_file=hosts_file)
    finally:
        hosts.down(host.name)
    loads = " ".join(f"{load:.1f}" for load in os.getloadavg())
    print(f"({os.cpu_count()} CPUs shared with the VM hosts and their guests, software emulation; load now {loads})")
    print(f"empty VM host -> VM running, SSH answering: deploy {created:7.1f} s | by hand {by_hand:7.1f} s | "
          f"{created / by_hand:5.2f}x")  # fmt: skip
    print(f"VM created -> gateway healthy (deploy inside):   {healthy:7.1f} s")
    print(f"empty VM host -> gateway healthy, in all:        {created + healthy:7.1f} s")
    print(f"second runs (no change): VM host deploy {vm_noop:.1f} s, gateway deploy {gateway_noop:.1f} s")


if __name__ == "__main__":
    main()
