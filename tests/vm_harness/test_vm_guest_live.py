"""The VM test harness, live: a VM host boots, Debian's libvirt runs in it, and a guest started by hand from the cached
guest image (virsh, a minimal domain, a NoCloud seed) is reached through the VM host as the admin user cloud-init
made. One guest, one test: under software emulation a boot costs a minute or more.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from openclaw_infra.settings import NodeRuntime, OpenClawPackage
from sandbox_hosts import SandboxHost, guest_image
from sandbox_hosts.vm_host import WORK_DIR, domain_address, install_libvirt, jump_ssh_args, start_guest_by_hand

pytestmark = pytest.mark.sandbox

DOMAIN = "hvguest"
SSH_TIMEOUT_SECONDS = 600
CLOUD_INIT_TIMEOUT_SECONDS = 900
SHUTDOWN_TIMEOUT_SECONDS = 180


def console_tail(host: SandboxHost) -> str:
    """The guest's last serial console lines, for a failure's message."""
    return host.run(f"tail -c 3000 {WORK_DIR}/{DOMAIN}-console.log", check=False).stdout


def guest_run(ssh: list[str], command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ssh, command], capture_output=True, text=True, timeout=timeout, check=False)


def test_a_guest_boots_from_the_image_and_is_reached_through_its_vm_host(vm_host: SandboxHost, tmp_path: Path) -> None:
    image = guest_image.ensure_guest_image()
    started = time.monotonic()
    timings: dict[str, float] = {}

    install_libvirt(vm_host)
    timings["libvirt installed"] = time.monotonic() - started
    # Software emulation only: no /dev/kvm is passed into the VM host.
    assert vm_host.run("test -e /dev/kvm", check=False).returncode == 1
    assert "<domain type='qemu'/>" in vm_host.run("virsh capabilities").stdout
    assert vm_host.run(f"runuser -u libvirt-qemu -- head -c 4096 {image.raw} | wc -c").stdout.strip() == "4096"
    assert vm_host.run(f"touch {image.raw}", check=False).returncode != 0, "the VM host can write the cached image"
    # A damaged image is not rebuilt under a running VM host: its mount is seen from the machine.
    assert guest_image.in_use(image.directory)

    key = tmp_path / "admin_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hv-test", "-f", str(key)], check=True)
    start_guest_by_hand(vm_host, image, DOMAIN, key.with_suffix(".pub").read_text().strip())
    booted = time.monotonic()

    address = domain_address(vm_host, DOMAIN)
    timings["address"] = time.monotonic() - booted
    ssh = jump_ssh_args(vm_host, address, key, tmp_path / "known_hosts")
    deadline = time.monotonic() + SSH_TIMEOUT_SECONDS
    while (login := guest_run(ssh, "id -un", timeout=60)).returncode != 0:
        assert time.monotonic() < deadline, f"no SSH login to {address}: {login.stderr}\n{console_tail(vm_host)}"
        time.sleep(3)
    assert login.stdout.strip() == "admin"
    timings["ssh"] = time.monotonic() - booted

    status = guest_run(ssh, "cloud-init status --wait --long", timeout=CLOUD_INIT_TIMEOUT_SECONDS)
    # --wait prints a dot per poll before the status.
    assert "status: done" in status.stdout.splitlines(), f"{status.stdout}{status.stderr}\n{console_tail(vm_host)}"
    timings["cloud-init done"] = time.monotonic() - booted
    state = guest_run(ssh, "systemctl is-system-running --wait; systemctl --failed --no-legend --plain", timeout=300)
    assert state.stdout.strip() == "running", state.stdout
    assert guest_run(ssh, "sudo -n true").returncode == 0

    assert guest_run(ssh, "/opt/node/bin/node --version").stdout.strip() == f"v{NodeRuntime().version}"
    openclaw = guest_run(
        ssh, "/opt/node/bin/node -p \"require('/opt/openclaw/lib/node_modules/openclaw/package.json').version\""
    )
    assert openclaw.stdout.strip() == OpenClawPackage().version
    assert guest_run(ssh, "command -v dockerd containerd").stdout == ""

    sshd = guest_run(ssh, "sudo -n sshd -T").stdout.splitlines()
    assert {"passwordauthentication no", "kbdinteractiveauthentication no"} <= set(sshd)
    # A client that offers only a password: sshd answers with the methods it accepts, and that is the key alone.
    password_only = [
        "ssh",
        "-o",
        "PubkeyAuthentication=no",
        "-o",
        "PreferredAuthentications=password,keyboard-interactive",
    ]
    refused = guest_run([*password_only, *ssh[1:]], "true", timeout=60)
    assert refused.returncode == 255
    assert "Permission denied (publickey)." in refused.stderr, refused.stderr

    stopping = time.monotonic()
    vm_host.run(f"virsh shutdown {DOMAIN}")
    deadline = time.monotonic() + SHUTDOWN_TIMEOUT_SECONDS
    while (domain_state := vm_host.run(f"virsh domstate {DOMAIN}").stdout.strip()) != "shut off":
        assert time.monotonic() < deadline, f"still {domain_state!r} after virsh shutdown\n{console_tail(vm_host)}"
        time.sleep(1)
    assert "reboot: Power down" in console_tail(vm_host)
    timings["shutdown"] = time.monotonic() - stopping
    print("VM harness timings (s): " + ", ".join(f"{step} {seconds:.0f}" for step, seconds in timings.items()))
