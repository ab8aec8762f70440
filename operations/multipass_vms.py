"""Linux VMs under Multipass (Canonical's Ubuntu VMs, macOS or Linux): the snap, and per VM its launch with
cloud-init, its state, and its removal, decided from the ``MultipassVms`` fact (``multipass list``).

What Multipass cannot do, and so these operations do not: start an instance when the VM host boots (there is no
per-instance autostart; multipassd itself starts at boot, the instances do not), report an instance's CPUs, memory
or disk in ``multipass list`` (sizes are set at launch; changing them later is ``multipass set
local.<name>.cpus=…`` on a stopped instance, by hand), or snapshot a running instance (``multipass snapshot``
needs it stopped, so the snapshot comes after the stop, before a delete).
"""

from __future__ import annotations

import posixpath
from collections.abc import Generator
from io import StringIO

from pyinfra import logger
from pyinfra.api.command import PyinfraCommand, StringCommand
from pyinfra.api.exceptions import OperationValueError
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.facts.snap import SnapPackage
from pyinfra.operations import files

from openclaw_infra.facts.batch import read_facts
from openclaw_infra.facts.multipass import MultipassVms
from openclaw_infra.facts.vm_record import VmState, listed
from openclaw_infra.operations.libvirt_vms import cloud_init_content
from openclaw_infra.operations.refusals import refuse
from openclaw_infra.quoting import quoted
from openclaw_infra.settings import VM_NAME

# The snap's stable channel; the installed revision is then held (`snap refresh --hold`), so it changes only when
# the operator refreshes it. Multipass publishes no version tracks to pin instead.
MULTIPASS_CHANNEL = "latest/stable"
DELETED = "deleted"  # multipass's state of an instance deleted without --purge (recoverable)


def _check_vm_name(vm_name: str) -> None:
    if not VM_NAME.fullmatch(vm_name):
        raise OperationValueError(f"{vm_name!r} is not a VM name (a DNS label: a-z, 0-9 and '-')")


def multipass(*words: object) -> StringCommand:
    return StringCommand("multipass", *words)


def snapshot(vm_name: str, change: str) -> StringCommand:
    """``openclaw-before-<change>-<UTC time>``: multipass takes snapshots of stopped instances only."""
    return multipass("snapshot", "--name", f'"openclaw-before-{change}-$(date -u +%Y%m%d-%H%M%S)"', quoted(vm_name))


@operation()
def multipass_tools(channel: str = MULTIPASS_CHANNEL) -> Generator[PyinfraCommand, None, None]:
    """
    Multipass from the snap store at ``channel``, its revision held against automatic refreshes.

    + channel: the snap channel
    """
    (installed,) = read_facts((SnapPackage, {"package": "multipass"}))
    if installed and installed.get("channel") == channel:
        host.noop(f"multipass is installed from {channel}")
        return
    if installed:
        yield StringCommand("snap refresh multipass --channel", quoted(channel))
    else:
        yield StringCommand("snap install multipass --channel", quoted(channel))
    yield StringCommand("snap refresh --hold multipass")


@operation()
def multipass_vm(
    vm_name: str,
    image: str,
    cpus: int,
    memory_mib: int,
    disk_gib: int,
    cloud_init_dir: str,
    admin_user: str,
    ssh_public_key: str,
    running: bool = True,
    autostart: bool = False,
) -> Generator[PyinfraCommand, None, None]:
    """
    The instance ``vm_name`` launched (``multipass launch --name --cpus --memory --disk --cloud-init``) when
    multipass does not list it, with the user-data of the libvirt VMs (``admin_user`` with the operator's key,
    password and root login off); then running or stopped. An instance deleted without ``--purge`` is recovered.

    + vm_name: the instance's name
    + image: what ``multipass launch`` takes (``24.04``, ``file://…``)
    + cpus, memory_mib, disk_gib: its size at launch
    + cloud_init_dir: a root-only directory on the VM host for its user-data file (fed to multipass on stdin, so
      the snap's confinement need not reach it)
    + admin_user, ssh_public_key: the account cloud-init makes
    + running: running (True) or stopped (False)
    + autostart: multipass has no such setting: a warning says so when it is asked for
    """
    _check_vm_name(vm_name)
    if not image or any(character.isspace() for character in image):
        raise OperationValueError(f"{image!r} is not a multipass image name")
    if not posixpath.isabs(cloud_init_dir):
        raise OperationValueError(f"cloud_init_dir {cloud_init_dir!r} is not absolute")
    # multipass reaches its instances (launch waits for it, `multipass shell`) as the image's default user.
    user_data, _ = cloud_init_content(vm_name, admin_user, ssh_public_key, keep_default_user=True)
    if autostart:
        logger.warning(f"{host.name}: multipass has no autostart; {vm_name} does not start when the VM host boots")
    (vms,) = read_facts((MultipassVms, {}))
    vm = listed(vms, vm_name)
    commands: list[PyinfraCommand] = []
    if vm is None:
        user_data_path = posixpath.join(cloud_init_dir, f"{vm_name}.user-data")
        commands += files.directory._inner(path=cloud_init_dir, user="root", mode="700")
        commands += files.put._inner(
            src=StringIO(user_data), dest=user_data_path, user="root", mode="600", create_remote_dir=False
        )
        commands.append(
            StringCommand(
                multipass(
                    "launch", "--name", quoted(vm_name), "--cpus", int(cpus), "--memory", f"{int(memory_mib)}M",
                    "--disk", f"{int(disk_gib)}G", "--cloud-init -", quoted(image),
                ),
                "<", quoted(user_data_path),
            )
        )  # fmt: skip
        if not running:
            commands.append(multipass("stop", quoted(vm_name)))
    elif vm.raw_state.lower() == DELETED:
        commands.append(multipass("recover", quoted(vm_name)))
        if running:
            commands.append(multipass("start", quoted(vm_name)))
    elif vm.state == VmState.OTHER:
        yield from refuse(
            f"multipass instance {vm_name} is {vm.raw_state!r}. Fix: wait until it is Running or Stopped "
            "(multipass info), then deploy again."
        )
        return
    elif running and vm.state != VmState.RUNNING:
        commands.append(multipass("start", quoted(vm_name)))
    elif not running and vm.state != VmState.STOPPED:
        if vm.state == VmState.SUSPENDED:
            # A suspended instance is resumed, so it can shut down cleanly.
            commands.append(multipass("start", quoted(vm_name)))
        commands.append(multipass("stop", quoted(vm_name)))
    if not commands:
        host.noop(f"multipass instance {vm_name} is {vm.raw_state if vm else ''}")
        return
    yield from commands


@operation()
def multipass_vm_absent(
    vm_name: str, delete_disks: bool = False, snapshot_before_changes: bool = True
) -> Generator[PyinfraCommand, None, None]:
    """
    No instance ``vm_name``: stopped, snapshotted (unless its disk goes too), then ``multipass delete``, which
    keeps it recoverable (``multipass recover``) with its disk and snapshots; ``--purge`` only with
    ``delete_disks``. An instance already deleted is purged when ``delete_disks``.

    + vm_name: the instance's name
    + delete_disks: purge the instance and its disk
    + snapshot_before_changes: snapshot it (stopped) before it is deleted
    """
    _check_vm_name(vm_name)
    (vms,) = read_facts((MultipassVms, {}))
    vm = listed(vms, vm_name)
    deleted = vm is not None and vm.raw_state.lower() == DELETED
    if vm is None or (deleted and not delete_disks):
        host.noop(f"multipass has no instance {vm_name}" if vm is None else f"{vm_name} is deleted (recoverable)")
        return
    if deleted:
        # `multipass purge` would purge every deleted instance: this one is brought back and purged alone.
        yield multipass("recover", quoted(vm_name))
        yield multipass("delete", "--purge", quoted(vm_name))
        return
    if snapshot_before_changes and not delete_disks:
        if vm.state != VmState.STOPPED:
            yield multipass("stop", quoted(vm_name))
        yield snapshot(vm_name, "delete")
    yield multipass("delete", *(["--purge"] if delete_disks else []), quoted(vm_name))
