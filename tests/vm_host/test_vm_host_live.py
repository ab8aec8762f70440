"""The VM host deploy run as users run it (``pyinfra INVENTORY deploys/vm_host.py``) against a real libvirtd on this
machine (``@local``), with software emulation (``libvirt_domain_type: qemu``) and a 64 MiB blank raw base image:
nothing boots in it, which is all define / start / stop / autostart / snapshot / undefine and idempotence need
(a stop then waits ``shutdown_wait_seconds`` and destroys it, as it would a guest that ignores ACPI)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import changed_operations as changed_by
from tests.vm_host.libvirt_daemon import LibvirtDaemon, libvirt_daemon, virsh

PROJECT_ROOT = Path(__file__).resolve().parents[2]
INVENTORY = Path(__file__).resolve().parent / "local_inventory.py"
PYINFRA = str(Path(sys.executable).parent / "pyinfra")
VM = "op-vmhost-test"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0P1q3Y1m2q9N5bE3kZc0Yc4n9p7rJ4Vx6h8mX2m5Qe operator@laptop"

BRIDGED_NIC = "<interface type='bridge'><source bridge='br-lan'/><model type='virtio'/></interface>"

pytestmark = pytest.mark.sandbox


@pytest.fixture(scope="module")
def daemon_and_workdir() -> Iterator[tuple[LibvirtDaemon, Path]]:
    if os.geteuid() != 0:
        pytest.fail("the VM host test runs libvirtd and must run as root")
    # Not under pytest's 0700 tmp_path: qemu runs as libvirt-qemu and must reach the base image.
    base = Path(tempfile.mkdtemp(prefix="op-vmhost-", dir="/var/tmp"))
    base.chmod(0o755)
    # libvirt_daemon() installs what is missing (qemu-utils too, on a fresh machine): only then is qemu-img there.
    with libvirt_daemon() as daemon:
        try:
            subprocess.run(["qemu-img", "create", "-q", "-f", "raw", str(base / "base.raw"), "64M"], check=True)
            yield daemon, base
        finally:
            if VM in virsh("list", "--all", "--name"):
                virsh("destroy", VM, check=False)
                virsh("undefine", VM, "--snapshots-metadata", check=False)
            shutil.rmtree(base)


def vm_host_data(workdir: Path, **vm: Any) -> dict[str, Any]:
    return {
        "openclaw_vm_host": {
            "hypervisor": "libvirt",
            "libvirt_domain_type": "qemu",
            "image_dir": str(workdir / "images"),
            "address_wait_seconds": 0,
            "shutdown_wait_seconds": 3,
            "gateway_defaults": {"openclaw_secrets": {"OPENCLAW_GATEWAY_TOKEN": {"env": "OP_VMHOST_TEST_TOKEN"}}},
            "vms": [
                {
                    "name": VM,
                    "cpus": 1,
                    "memory_mib": 512,
                    "disk_gib": 2,
                    "base_image": str(workdir / "base.raw"),
                    "ssh_public_key": KEY,
                    **vm,
                }
            ],
        }
    }


def deploy(
    data: dict[str, Any], *args: str, check: bool = True, deploy_file: str = "deploys/vm_host.py"
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "OPENCLAW_TEST_VM_HOST_DATA": json.dumps(data), "OP_VMHOST_TEST_TOKEN": "op-token"}
    result = subprocess.run(
        [PYINFRA, *args, str(INVENTORY), deploy_file],
        capture_output=True, text=True, cwd=PROJECT_ROOT, env=environment, timeout=300, check=False,
    )  # fmt: skip
    if check and result.returncode != 0:
        raise AssertionError(f"pyinfra exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def changed_operations(data: dict[str, Any], deploy_file: str = "deploys/vm_host.py") -> list[str]:
    """Run the deploy; the operations pyinfra reports as having changed the host."""
    output = deploy(data, "-y", "--json", deploy_file=deploy_file).stdout
    results = json.loads(output)["results"]["operations"]
    assert all(not operation["error"] for operation in results), results
    return changed_by(output)


def planned_changes(data: dict[str, Any]) -> list[str]:
    """A dry run without -y (with it pyinfra skips change detection): the operations it would run."""
    plan = json.loads(deploy(data, "--dry", "--json").stdout)["plan"]
    return [operation["name"] for operation in plan if operation["hosts_with_change"]]


def drift_check(data: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """``openclaw-infra drift`` on this VM host, as a scheduled check runs it."""
    environment = {**os.environ, "OPENCLAW_TEST_VM_HOST_DATA": json.dumps(data), "OP_VMHOST_TEST_TOKEN": "op-token"}
    return subprocess.run(
        [str(Path(sys.executable).parent / "openclaw-infra"), "drift", str(INVENTORY), "deploys/vm_host.py"],
        capture_output=True, text=True, cwd=PROJECT_ROOT, env=environment, timeout=300, check=False,
    )  # fmt: skip


def domain_info(key: str) -> str:
    for line in virsh("dominfo", VM).splitlines():
        name, _, value = line.partition(":")
        if name.strip() == key:
            return value.strip()
    raise AssertionError(f"no {key} in dominfo")


def snapshots() -> list[str]:
    return virsh("snapshot-list", VM, "--name").split()


def test_vm_lifecycle_on_a_real_libvirtd(daemon_and_workdir: tuple[LibvirtDaemon, Path]) -> None:
    daemon, workdir = daemon_and_workdir
    vm_dir = workdir / "images" / VM
    network_ready = daemon.network_was_active and daemon.network_was_autostarted
    # A base image missing on the VM host: refused by name with its fix while planned, before anything changes.
    missing = deploy(vm_host_data(workdir, base_image=str(workdir / "nothing.qcow2")), "-y", check=False)
    assert missing.returncode != 0
    assert (
        f"base image {workdir / 'nothing.qcow2'} is not a file on the VM host. Fix:" in missing.stdout + missing.stderr
    )
    assert "Traceback" not in missing.stdout + missing.stderr
    assert not (workdir / "images").exists()

    running = vm_host_data(workdir)
    first = changed_operations(running)
    assert first == [
        *([] if network_ready else ["libvirt network default: active, autostarted"]),
        f"VM images directory {workdir / 'images'}",
        f"{VM}: disk (2 GiB on {workdir / 'base.raw'})",
        f"{VM}: cloud-init seed",
        f"{VM}: libvirt domain",
        f"{VM}: running, autostart on",
    ]
    assert domain_info("State") == "running"
    assert domain_info("Autostart") == "enable"
    assert "Active:         yes" in virsh("net-info", "default")
    info = json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json", str(vm_dir / "disk.qcow2")],
                                     capture_output=True, text=True, check=True).stdout)  # fmt: skip
    assert (info["format"], info["virtual-size"], info["backing-filename"]) == (
        "qcow2",
        2 * 1024**3,
        str(workdir / "base.raw"),
    )
    assert (vm_dir / "seed.iso").stat().st_mode & 0o777 == 0o600
    assert "rendered-sha256" in virsh("dumpxml", VM)

    # Second run: nothing to change, and a dry run says so.
    assert changed_operations(running) == []
    assert planned_changes(running) == []

    # More CPUs: a snapshot, the domain redefined and restarted with them; then nothing again.
    more_cpus = vm_host_data(workdir, cpus=2)
    assert changed_operations(more_cpus) == [f"{VM}: libvirt domain"]
    assert domain_info("CPU(s)") == "2"
    assert domain_info("State") == "running"
    assert [name for name in snapshots() if name.startswith("openclaw-before-redefine-")], snapshots()
    assert changed_operations(more_cpus) == []
    clean = drift_check(more_cpus)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "1 ok, 0 drifted, 0 could not be checked" in clean.stdout, clean.stdout

    # Hand edits that keep the deploy's metadata: a NIC bridged to a LAN in the persistent definition, and a NIC
    # hot-plugged into the running VM. The drift check names the domain; a redeploy puts both back (a snapshot, the
    # definition as rendered, a restart so it runs as defined).
    edited = workdir / "edited.xml"
    edited.write_text(virsh("dumpxml", "--inactive", VM).replace("</devices>", f"{BRIDGED_NIC}</devices>"))
    virsh("define", "--file", str(edited))
    hot_plugged = workdir / "nic.xml"
    hot_plugged.write_text("<interface type='network'><source network='default'/><model type='virtio'/></interface>")
    virsh("attach-device", "--domain", VM, "--file", str(hot_plugged), "--live")
    assert "rendered-sha256" in virsh("dumpxml", "--inactive", VM)
    drifted = drift_check(more_cpus)
    assert drifted.returncode == 1, drifted.stdout + drifted.stderr
    assert f"plan: OpenClaw VM host | {VM}: libvirt domain" in drifted.stdout, drifted.stdout
    assert changed_operations(more_cpus) == [f"{VM}: libvirt domain"]
    assert "br-lan" not in virsh("dumpxml", "--inactive", VM)
    assert len(virsh("domiflist", VM).strip().splitlines()) == 3  # header, rule, the one NIC
    assert [name for name in snapshots() if name.startswith("openclaw-before-redefine-")], snapshots()
    assert domain_info("State") == "running"
    assert changed_operations(more_cpus) == []
    after = drift_check(more_cpus)
    assert after.returncode == 0, after.stdout + after.stderr

    # Contained (the emergency's stop from the VM host): shut off and autostart off, with no snapshot to wait for;
    # a second containment changes nothing; the VM host deploy starts it again, autostart back on.
    contain = "deploys/contain_vms.py"
    snapshots_before = snapshots()
    assert changed_operations(more_cpus, contain) == [f"{VM}: shut down, not started at boot"]
    assert (domain_info("State"), domain_info("Autostart")) == ("shut off", "disable")
    assert snapshots() == snapshots_before
    assert changed_operations(more_cpus, contain) == []
    assert changed_operations(more_cpus) == [f"{VM}: running, autostart on"]
    assert (domain_info("State"), domain_info("Autostart")) == ("running", "enable")

    # Stopped: a snapshot, then shut off (the blank guest ignores ACPI: destroyed after the wait).
    assert changed_operations(vm_host_data(workdir, cpus=2, state="stopped")) == [f"{VM}: stopped, autostart on"]
    assert domain_info("State") == "shut off"
    assert [name for name in snapshots() if name.startswith("openclaw-before-stop-")], snapshots()
    assert changed_operations(vm_host_data(workdir, cpus=2, state="stopped")) == []

    # Absent: undefined, its disk kept, with the snapshot taken before inside it.
    assert changed_operations(vm_host_data(workdir, cpus=2, state="absent")) == [f"{VM}: removed, disks kept"]
    assert VM not in virsh("list", "--all", "--name").split()
    internal = subprocess.run(["qemu-img", "snapshot", "-l", str(vm_dir / "disk.qcow2")],
                              capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "openclaw-before-delete-" in internal
    assert changed_operations(vm_host_data(workdir, cpus=2, state="absent")) == []

    # delete_disks: the VM's directory goes too.
    gone = vm_host_data(workdir, state="absent", delete_disks=True)
    assert changed_operations(gone) == [f"{VM}: removed with its disks"]
    assert not vm_dir.exists()
    assert changed_operations(gone) == []
