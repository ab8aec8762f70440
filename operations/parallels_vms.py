"""macOS VMs in Parallels Desktop: created from an IPSW or cloned from a template, started headless, stopped and
removed, decided from the ``ParallelsVms`` fact (``prlctl list -a -f -j``).

Every command is one Parallels' own tools run, checked in their source: the Packer plugin
(https://github.com/Parallels/packer-plugin-parallels at 04970f9, builder/parallels/ipsw/step_create_vm.go: ``prlctl
create <vm> -o macos --restore-image <ipsw>``, then ``prlctl set <vm> --cpus N`` and ``--memsize M``;
builder/parallels/ipsw/builder.go: ``--startup-view`` takes ``same``, ``window`` or ``headless`` for macOS VMs) and
the Vagrant provider (https://github.com/Parallels/vagrant-parallels at bcecccf, lib/vagrant-parallels/driver/
base.rb: ``clone <source> --name <new>``, ``start``, ``stop`` (``--kill`` pulls the plug), ``resume``, ``delete``,
``unregister``). ``-o`` is ``--ostype``, the guide's spelling. Run as the user the VMs are registered to:
Parallels keeps a list of VMs per user.

What these operations do not do, and why:

- Snapshots. ``prlctl snapshot`` (the guide's ``prlctl snapshot openclaw-vm -n "pre-update"``) is refused for
  macOS guests on Apple silicon: Parallels' Vagrant provider skips it for them ("Snapshot creation is not
  supported yet for macOS ARM Guests", action/prepare_clone_snapshot.rb). Nor is one needed: nothing here changes
  an existing VM but its run state, and a removal that keeps the disks only unregisters the VM (its ``.macvm``
  bundle stays where it is; ``prlctl register <bundle>`` brings it back).
- Resizing a VM later. ``prlctl list`` reports no CPUs or memory, so the sizes are set when the VM is created and
  not compared afterwards (``prlctl set <vm> --cpus N --memsize M`` on the stopped VM, by hand).
- macOS Setup Assistant. ``prlctl create --restore-image`` installs macOS and leaves the assistant unanswered (no
  account, no Remote Login) until someone completes it in the VM's window. A template made once that way, with
  Remote Login on, then cloned by ``prlctl clone``, gives VMs the deploy can reach.
"""

from __future__ import annotations

import posixpath
from collections.abc import Generator

from pyinfra.api.command import PyinfraCommand, StringCommand
from pyinfra.api.exceptions import OperationValueError
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.facts.files import File

from openclaw_infra.facts.batch import read_facts
from openclaw_infra.facts.parallels import ParallelsVms
from openclaw_infra.facts.vm_record import VmRecord, VmState, listed
from openclaw_infra.operations.refusals import refuse
from openclaw_infra.quoting import quoted

MIN_MEMORY_MIB = 2048
PAUSED = "paused"  # prlctl's paused VM (running, its CPUs halted); "suspended" is saved to disk


def _check_name(name: str, what: str) -> None:
    # Parallels names are free text ("Coda - macOS"); they are quoted, so only what no quoting helps is refused.
    if not name or name.startswith("-") or any(ord(character) < 32 or ord(character) == 127 for character in name):
        raise OperationValueError(f"{what} {name!r} is not a Parallels VM name")


def prlctl(*words: object) -> StringCommand:
    return StringCommand("prlctl", *words)


def _refuse_in_transition(vm: VmRecord) -> Generator[StringCommand, None, None]:
    """A VM Parallels lists in a state of its own (starting, stopping, …) is neither made nor changed."""
    yield from refuse(
        f"Parallels VM {vm.name} is {vm.raw_state!r}. Fix: wait until prlctl list shows it running, stopped, "
        "paused or suspended, then deploy again."
    )


def _running_again(vm: VmRecord) -> StringCommand:
    """A paused VM is resumed; a suspended one is started, which restores it."""
    return prlctl("resume" if vm.raw_state.lower() == PAUSED else "start", quoted(vm.name))


def _start_headless(vm_name: str) -> list[StringCommand]:
    return [prlctl("set", quoted(vm_name), "--startup-view", "headless"), prlctl("start", quoted(vm_name))]


@operation()
def parallels_vm(
    vm_name: str, cpus: int, memory_mib: int, state: str, template_or_image: str
) -> Generator[PyinfraCommand, None, None]:
    """
    The VM ``vm_name`` created when ``prlctl list`` does not show it: from a restore image (``prlctl create <vm>
    --ostype macos --restore-image <ipsw>``, which installs macOS) or cloned from a template or stopped VM
    (``prlctl clone <source> --name <vm>``), then sized (``prlctl set --cpus --memsize``) and set to start
    without a window (``--startup-view headless``); then running (``prlctl start``) or stopped (``prlctl stop``,
    a clean shutdown of the guest). A paused VM is resumed, a suspended one started (to run, or to be shut down).
    A VM in another state (starting, stopping, …) is refused.

    + vm_name: the VM's name in Parallels
    + cpus, memory_mib: its CPUs and memory, set when it is created
    + state: ``running`` or ``stopped``
    + template_or_image: the absolute path of an ``.ipsw`` on the VM host, or the name of the template (or stopped
      VM) to clone
    """
    _check_name(vm_name, "vm_name")
    if not (isinstance(cpus, int) and cpus >= 1):
        raise OperationValueError(f"cpus {cpus!r} is not a number of CPUs")
    if not (isinstance(memory_mib, int) and memory_mib >= MIN_MEMORY_MIB):
        raise OperationValueError(f"memory_mib {memory_mib!r}: a macOS VM needs at least {MIN_MEMORY_MIB} MiB")
    if state not in ("running", "stopped"):
        raise OperationValueError(f"state {state!r} is not 'running' or 'stopped'")
    image = template_or_image.endswith(".ipsw")
    if image and not posixpath.isabs(template_or_image):
        raise OperationValueError(f"template_or_image {template_or_image!r}: give the .ipsw's absolute path")
    if not image:
        _check_name(template_or_image, "template_or_image")
    running = state == "running"
    (vms,) = read_facts((ParallelsVms, {}))
    vm = listed(vms, vm_name)
    if vm is None:
        if image:
            # A symlink is fine: File gives False for one, None only for nothing there.
            if read_facts((File, {"path": template_or_image}))[0] is None:
                yield from refuse(
                    f"Parallels VM {vm_name}: the restore image {template_or_image} is not on the VM host. Fix: "
                    "download it there, or give a template to clone, then deploy again."
                )
                return
            yield prlctl("create", quoted(vm_name), "--ostype", "macos", "--restore-image", quoted(template_or_image))
        else:
            yield prlctl("clone", quoted(template_or_image), "--name", quoted(vm_name))
        yield prlctl("set", quoted(vm_name), "--cpus", int(cpus), "--memsize", int(memory_mib))
        if running:
            yield from _start_headless(vm_name)
        else:
            yield prlctl("set", quoted(vm_name), "--startup-view", "headless")
        return
    if vm.state == VmState.OTHER:
        yield from _refuse_in_transition(vm)
        return
    if running:
        if vm.state == VmState.STOPPED:
            yield from _start_headless(vm_name)
        elif vm.state == VmState.SUSPENDED:
            yield _running_again(vm)
        else:
            host.noop(f"Parallels VM {vm_name} is running")
        return
    if vm.state == VmState.STOPPED:
        host.noop(f"Parallels VM {vm_name} is stopped")
        return
    if vm.state == VmState.SUSPENDED:
        # Running again first, so the guest shuts down cleanly rather than losing its saved state.
        yield _running_again(vm)
    yield prlctl("stop", quoted(vm_name))


@operation()
def parallels_vm_absent(vm_name: str, delete_disks: bool = False) -> Generator[PyinfraCommand, None, None]:
    """
    No VM ``vm_name`` in Parallels: shut down if it runs (a paused or suspended VM is first run again), then
    unregistered (``prlctl unregister``: its bundle and disks stay on the VM host, ``prlctl register`` brings it
    back) or, with ``delete_disks``, deleted with its files (``prlctl delete``).

    + vm_name: the VM's name in Parallels
    + delete_disks: delete the VM's bundle and disks as well
    """
    _check_name(vm_name, "vm_name")
    (vms,) = read_facts((ParallelsVms, {}))
    vm = listed(vms, vm_name)
    if vm is None:
        host.noop(f"Parallels lists no VM {vm_name}")
        return
    if vm.state == VmState.OTHER:
        yield from _refuse_in_transition(vm)
        return
    if vm.state == VmState.SUSPENDED:
        yield _running_again(vm)
    if vm.state != VmState.STOPPED:
        yield prlctl("stop", quoted(vm_name))
    yield prlctl("delete" if delete_disks else "unregister", quoted(vm_name))
