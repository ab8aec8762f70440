"""The VM host deploy, importable into your own: ``from openclaw_infra.deploys.vm_host import vm_host``.

One operation per concern (operations/libvirt_vms.py, multipass_vms.py, utm_vms.py, lume_vms.py,
parallels_vms.py), each idempotent from the VM list facts: a second run changes nothing.
"""

from __future__ import annotations

from typing import Any

from pyinfra.api.deploy import deploy
from pyinfra.api.exceptions import OperationError
from pyinfra.facts.files import File

from openclaw_infra.deploy_context import current_vm_host_settings
from openclaw_infra.facts.batch import read_facts
from openclaw_infra.facts.libvirt import LibvirtVms
from openclaw_infra.facts.vm_record import listed
from openclaw_infra.operations import (
    libvirt_vms,
    lume_vms,
    multipass_vms,
    parallels_vms,
    utm_vms,
    verification,
    vm_addresses,
)
from openclaw_infra.settings import VirtualMachine, VmHost


def refuse_missing_base_images(vm_host: VmHost) -> None:
    """Every base image to create a VM from is on the VM host, read in one command while the deploy is planned:
    a missing one stops the run before any operation runs (with ``-y`` too, where pyinfra plans no operation)."""
    wanted = [vm for vm in vm_host.vms if vm.state != "absent" and vm.base_image]
    found = read_facts(*((File, {"path": vm.base_image}) for vm in wanted)) if wanted else []
    missing = [
        libvirt_vms.missing_base_image(vm.name, vm.base_image)
        for vm, file in zip(wanted, found, strict=True)
        if not file and vm.base_image
    ]
    if missing:
        raise OperationError("\n".join([*missing, "Nothing was changed on this VM host."]))


def libvirt_host(vm_host: VmHost) -> None:
    refuse_missing_base_images(vm_host)
    uri = vm_host.libvirt_uri
    if vm_host.install_tools:
        libvirt_vms.libvirt_tools(name="libvirt and qemu installed, libvirtd running")
    if any(vm.state == "running" for vm in vm_host.vms):
        libvirt_vms.libvirt_network(
            name=f"libvirt network {vm_host.libvirt_network}: active, autostarted",
            uri=uri,
            network=vm_host.libvirt_network,
        )
    if any(vm.state != "absent" for vm in vm_host.vms):
        libvirt_vms.image_directory(name=f"VM images directory {vm_host.image_dir}", path=vm_host.image_dir)
    for vm in vm_host.vms:
        if vm.state == "absent":
            libvirt_vms.domain_absent(
                name=f"{vm.name}: removed" + (" with its disks" if vm.delete_disks else ", disks kept"),
                uri=uri,
                vm_name=vm.name,
                image_dir=vm_host.image_dir,
                delete_disks=vm.delete_disks,
                shutdown_wait_seconds=vm_host.shutdown_wait_seconds,
                snapshot_before_changes=vm.snapshot_before_changes,
            )
        else:
            libvirt_vm(vm_host, vm)


def libvirt_vm(vm_host: VmHost, vm: VirtualMachine) -> None:
    # The settings refuse a VM to create without them.
    assert vm.base_image is not None and vm.ssh_public_key is not None
    uri = vm_host.libvirt_uri
    libvirt_vms.vm_disk(
        name=f"{vm.name}: disk ({vm.disk_gib} GiB on {vm.base_image})",
        uri=uri,
        vm_name=vm.name,
        image_dir=vm_host.image_dir,
        base_image=vm.base_image,
        disk_gib=vm.disk_gib,
        snapshot_before_changes=vm.snapshot_before_changes,
    )
    libvirt_vms.cloud_init_seed(
        name=f"{vm.name}: cloud-init seed",
        vm_name=vm.name,
        image_dir=vm_host.image_dir,
        admin_user=vm.admin_user,
        ssh_public_key=vm.ssh_public_key,
    )
    libvirt_vms.domain_definition(
        name=f"{vm.name}: libvirt domain",
        uri=uri,
        vm_name=vm.name,
        image_dir=vm_host.image_dir,
        domain_type=vm_host.libvirt_domain_type,
        cpus=vm.cpus,
        memory_mib=vm.memory_mib,
        network=vm_host.libvirt_network,
        kernel=vm.boot.kernel if vm.boot else None,
        initrd=vm.boot.initrd if vm.boot else None,
        cmdline=vm.boot.cmdline if vm.boot else None,
        # A VM that should stop is stopped by domain_state, not restarted here first.
        apply_now=vm.state == "running",
        shutdown_wait_seconds=vm_host.shutdown_wait_seconds,
        snapshot_before_changes=vm.snapshot_before_changes,
    )
    libvirt_vms.domain_state(
        name=f"{vm.name}: {vm.state}, autostart {'on' if vm.autostart else 'off'}",
        uri=uri,
        vm_name=vm.name,
        running=vm.state == "running",
        autostart=vm.autostart,
        shutdown_wait_seconds=vm_host.shutdown_wait_seconds,
        snapshot_before_changes=vm.snapshot_before_changes,
    )


def multipass_host(vm_host: VmHost) -> None:
    if vm_host.install_tools:
        multipass_vms.multipass_tools(name=f"multipass (snap, {multipass_vms.MULTIPASS_CHANNEL})")
    for vm in vm_host.vms:
        if vm.state == "absent":
            multipass_vms.multipass_vm_absent(
                name=f"{vm.name}: removed" + (" and purged" if vm.delete_disks else " (recoverable)"),
                vm_name=vm.name,
                delete_disks=vm.delete_disks,
                snapshot_before_changes=vm.snapshot_before_changes,
            )
            continue
        assert vm.base_image is not None and vm.ssh_public_key is not None
        multipass_vms.multipass_vm(
            name=f"{vm.name}: launched, {vm.state}",
            vm_name=vm.name,
            image=vm.base_image,
            cpus=vm.cpus,
            memory_mib=vm.memory_mib,
            disk_gib=vm.disk_gib,
            cloud_init_dir=vm_host.image_dir,
            admin_user=vm.admin_user,
            ssh_public_key=vm.ssh_public_key,
            running=vm.state == "running",
            autostart=vm.autostart,
        )


def utm_host(vm_host: VmHost) -> None:
    for vm in vm_host.vms:
        utm_vms.utm_vm(
            name=f"{vm.name}: {vm.state} (UTM)", vm_name=vm.name, running=vm.state == "running", autostart=vm.autostart
        )


def owner_arguments(vm_host: VmHost) -> dict[str, Any]:
    """How an operation that lists or changes a Mac's VMs runs: as their owner (no sudo), with its lume on PATH;
    nothing for the other hypervisors."""
    if not vm_host.macos_guests or vm_host.vm_owner is None:
        return {}
    return {"_sudo": False, "_env": {"PATH": lume_vms.owner_path(vm_host.vm_owner)}}


def macos_vm_host(vm_host: VmHost) -> None:
    """Lume or Parallels on a Mac: the VMs made and run as their owner (both keep VMs per user; no sudo), and a
    boot LaunchDaemon per VM that should start with the Mac (root's)."""
    owner = vm_host.vm_owner
    assert owner is not None  # the settings refuse a Lume or Parallels VM host without one
    as_owner = owner_arguments(vm_host)
    for vm in vm_host.vms:
        if vm.state == "absent":
            removed = f"{vm.name}: removed" + (" with its disks" if vm.delete_disks else ", disks kept")
            if vm_host.hypervisor == "lume":
                lume_vms.lume_vm_absent(name=removed, vm_name=vm.name, delete_disks=vm.delete_disks, **as_owner)
            else:
                parallels_vms.parallels_vm_absent(
                    name=removed, vm_name=vm.name, delete_disks=vm.delete_disks, **as_owner
                )
        elif vm_host.hypervisor == "lume":
            assert vm.base_image is not None  # the settings refuse a VM to create without one
            lume_vms.lume_vm(
                name=f"{vm.name}: {vm.state} (lume)",
                vm_name=vm.name,
                cpus=vm.cpus,
                memory_mib=vm.memory_mib,
                disk_gib=vm.disk_gib,
                ipsw=vm.base_image,
                state=vm.state,
                unattended=vm_host.lume_setup_preset,
                snapshot_before_changes=vm.snapshot_before_changes,
                **as_owner,
            )
        else:
            assert vm.base_image is not None
            parallels_vms.parallels_vm(
                name=f"{vm.name}: {vm.state} (Parallels)",
                vm_name=vm.name,
                cpus=vm.cpus,
                memory_mib=vm.memory_mib,
                state=vm.state,
                template_or_image=vm.base_image,
                **as_owner,
            )
        if vm.state != "absent" and vm.autostart:
            lume_vms.vm_boot_daemon(
                name=f"{vm.name}: started at boot (LaunchDaemon)",
                vm_name=vm.name,
                hypervisor=vm_host.hypervisor,
                vm_user=owner,
                _sudo=True,
            )
        else:
            lume_vms.vm_boot_daemon_absent(name=f"{vm.name}: not started at boot", vm_name=vm.name, _sudo=True)


@deploy("OpenClaw VM host")
def vm_host() -> None:
    settings = current_vm_host_settings()
    vm_host = settings.vm_host
    if vm_host.hypervisor == "libvirt":
        libvirt_host(vm_host)
    elif vm_host.hypervisor == "multipass":
        multipass_host(vm_host)
    elif vm_host.macos_guests:
        macos_vm_host(vm_host)
    else:
        utm_host(vm_host)
    running = [vm.name for vm in vm_host.vms if vm.state == "running"]
    if vm_host.hypervisor != "utm":
        vm_addresses.vm_addresses(
            name="Addresses of the running VMs",
            hypervisor=vm_host.hypervisor,
            vm_names=running,
            uri=vm_host.libvirt_uri,
            wait_seconds=vm_host.address_wait_seconds,
            **owner_arguments(vm_host),
        )
    verification.vm_host_verified(name="Every VM as declared", vm_host_settings=settings, **owner_arguments(vm_host))


@deploy("OpenClaw VMs contained")
def vms_contained() -> None:
    """The guide's "Immediate shutdown" from the VM host: every declared VM that exists shut down (gracefully,
    destroyed only after ``shutdown_wait_seconds``) and kept from starting with libvirtd; disks untouched. The VM
    host deploy starts them again. libvirt only for now: the other hypervisors are refused before any change."""
    settings = current_vm_host_settings()
    vm_host = settings.vm_host
    if vm_host.hypervisor != "libvirt":
        raise OperationError(
            f"deploys/contain_vms.py stops libvirt VMs; this VM host runs {vm_host.hypervisor}, whose containment "
            f"is not implemented yet. Stop its VMs with the hypervisor's own stop command. Nothing was changed."
        )
    (existing,) = read_facts((LibvirtVms, {"uri": vm_host.libvirt_uri, "address_source": "lease"}))
    for vm in vm_host.vms:
        if listed(existing, vm.name) is None:
            continue  # never made, or removed: nothing runs
        libvirt_vms.domain_state(
            name=f"{vm.name}: shut down, not started at boot",
            uri=vm_host.libvirt_uri,
            vm_name=vm.name,
            running=False,
            autostart=False,
            shutdown_wait_seconds=vm_host.shutdown_wait_seconds,
            snapshot_before_changes=False,  # an emergency stop waits for nothing
        )
