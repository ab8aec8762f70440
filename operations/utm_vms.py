"""Linux VMs in UTM (macOS): only starting and stopping VMs made in UTM's window, from the ``UtmVms`` fact.

What is not supported, because ``utmctl`` cannot do it: creating a VM (UTM's CLI has no create; make the VM in UTM,
named as in the settings), installing UTM (a macOS app: ``brew install --cask utm``), resizing, snapshots,
autostart at login or boot, cloud-init seeds, and removing a VM (``utmctl delete`` takes its disks with it; the
settings refuse state "absent" for UTM). UTM lists no addresses.
"""

from __future__ import annotations

from collections.abc import Generator

from pyinfra import logger
from pyinfra.api.command import PyinfraCommand, StringCommand
from pyinfra.api.exceptions import OperationValueError
from pyinfra.api.operation import operation
from pyinfra.context import host

from openclaw_infra.facts.batch import read_facts
from openclaw_infra.facts.utm import UTMCTL_IN_APP, UtmVms
from openclaw_infra.facts.vm_record import VmState
from openclaw_infra.operations.refusals import refuse
from openclaw_infra.quoting import quoted

# utmctl is on PATH only when the user linked it there; otherwise it is run from inside the app, as the fact does.
UTMCTL = f'"$(command -v utmctl || echo {UTMCTL_IN_APP})"'


def utmctl(*words: object) -> StringCommand:
    return StringCommand(UTMCTL, *words)


@operation()
def utm_vm(vm_name: str, running: bool, autostart: bool = False) -> Generator[PyinfraCommand, None, None]:
    """
    A VM made in UTM running (``utmctl start``) or stopped (``utmctl stop``), found by its name in ``utmctl
    list`` and addressed by its UUID. A VM UTM does not list is refused when it should run, naming the fix.

    + vm_name: the VM's name in UTM
    + running: running (True) or stopped (False)
    + autostart: utmctl has no such setting: a warning says so when it is asked for
    """
    if not vm_name or any(ord(character) < 32 for character in vm_name):
        raise OperationValueError(f"{vm_name!r} is not a UTM VM name")
    if autostart:
        logger.warning(f"{host.name}: utmctl has no autostart; start {vm_name} in UTM after the Mac boots")
    (vms,) = read_facts((UtmVms, {}))
    vm = next((vm for vm in vms if vm.name == vm_name), None)
    if vm is None:
        if running:
            yield from refuse(
                f"UTM lists no VM named {vm_name!r}, and utmctl cannot create one. Fix: create it in UTM first "
                f"(name it exactly {vm_name}), then deploy again."
            )
            return
        host.noop(f"UTM lists no VM named {vm_name}: nothing to stop")
        return
    if vm.state == VmState.OTHER:
        yield from refuse(f"UTM VM {vm_name} is {vm.raw_state!r}. Fix: bring it to started or stopped in UTM.")
        return
    if running and vm.state != VmState.RUNNING:
        # A paused VM is started again by `utmctl start` too.
        yield utmctl("start", quoted(vm.uuid or vm_name))
    elif not running and vm.state != VmState.STOPPED:
        yield utmctl("stop", quoted(vm.uuid or vm_name))
    else:
        host.noop(f"UTM VM {vm_name} is {vm.raw_state}")
