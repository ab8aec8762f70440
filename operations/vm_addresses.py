"""After a VM host deploy: each running VM's IPv4 address and its sshd answering, waited for and printed, read from
the VM list facts: the next command (``pyinfra inventories/vms.py …``) can log in at once."""

from __future__ import annotations

import time
from collections.abc import Generator
from typing import Any

from pyinfra.api.command import PyinfraCommand
from pyinfra.api.exceptions import OperationValueError
from pyinfra.api.operation import operation
from pyinfra.context import ctx_state, host

from openclaw_infra.facts.libvirt import LibvirtVms
from openclaw_infra.facts.lume import LumeVms
from openclaw_infra.facts.multipass import MultipassVms
from openclaw_infra.facts.parallels import ParallelsVms
from openclaw_infra.facts.tcp_port import TcpPortAnswers
from openclaw_infra.facts.vm_record import VmRecord
from openclaw_infra.operations.refusals import refuse

POLL_SECONDS = 2
SSH_PORT = 22


# The VM-list fact of each hypervisor whose list holds addresses (UTM's does not).
LISTS = {"multipass": MultipassVms, "lume": LumeVms, "parallels": ParallelsVms}


def _vms(hypervisor: str, uri: str) -> list[VmRecord]:
    if hypervisor == "libvirt":
        found: list[VmRecord] = host.get_fact(LibvirtVms, uri=uri, address_source="lease")
    else:
        found = host.get_fact(LISTS[hypervisor])
    return found


def _addresses(vms: list[VmRecord], names: list[str]) -> dict[str, Any]:
    return {vm.name: tuple(vm.ipv4) for vm in vms if vm.name in names and vm.ipv4}


@operation(is_idempotent=True)
def vm_addresses(
    hypervisor: str, vm_names: list[str], uri: str = "qemu:///system", wait_seconds: int = 0
) -> Generator[PyinfraCommand, None, None]:
    """
    Print each VM's IPv4 address (libvirt's DHCP leases, or ``multipass list``) once the deploy has run, waiting up
    to ``wait_seconds`` for all of them; changes nothing. A VM still without one then fails the operation, naming
    where to look; with ``wait_seconds`` 0 the addresses known at once are printed and none is required.

    + hypervisor: ``libvirt``, ``multipass``, ``lume`` or ``parallels`` (UTM lists no addresses)
    + vm_names: the VMs that should be running
    + uri: libvirt connection URI
    + wait_seconds: how long to wait for every address
    """
    if hypervisor != "libvirt" and hypervisor not in LISTS:
        raise OperationValueError(f"{hypervisor} lists no VM addresses")
    if not vm_names:
        host.noop("no VM should be running")
        return
    if not ctx_state.get().is_executing:  # type: ignore[no-untyped-call]
        host.noop(f"the addresses of {', '.join(vm_names)} are read once the VMs run")
        return
    deadline = time.monotonic() + wait_seconds
    found = _addresses(_vms(hypervisor, uri), vm_names)
    while len(found) < len(vm_names) and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        found = _addresses(_vms(hypervisor, uri), vm_names)
    missing = [name for name in vm_names if name not in found]
    if missing and wait_seconds:
        yield from refuse(
            f"no IPv4 address for {', '.join(missing)} after {wait_seconds} s. Fix: read the VM's console "
            "(libvirt: console.log in its directory under image_dir; multipass: multipass info) for its boot and "
            "DHCP, then deploy again."
        )
        return
    # A DHCP lease comes before cloud-init has made the admin user and sshd has started: wait for sshd too, in the
    # same time, so the inventory of VMs can log in as soon as this deploy ends.
    silent = [name for name in found if wait_seconds and not _ssh_answers(found[name][0])]
    while silent and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        silent = [name for name in silent if not _ssh_answers(found[name][0])]
    if silent:
        yield from refuse(
            f"{', '.join(silent)}: an address but no SSH on port {SSH_PORT} after {wait_seconds} s. Fix: read "
            "the VM's console (libvirt: console.log in its directory under image_dir; multipass: multipass info) "
            "for cloud-init and sshd, then deploy again."
        )
        return
    ready = " (SSH answering)" if wait_seconds else ""
    shown = [f"{name}: {', '.join(found[name]) + ready if name in found else 'no address yet'}" for name in vm_names]
    host.noop("; ".join(shown))
    yield from ()


def _ssh_answers(address: str) -> bool:
    answers: bool = host.get_fact(TcpPortAnswers, address=address, port=SSH_PORT)
    return answers
