"""What a deployed VM host must look like: each declared VM as declared (running with an address, stopped, or
absent), judged by ``vm_discovery.judge_vm`` as ``inventories/vms.py`` judges it. One definition, read by the VM
host deploy's verification and by the drift checks, in the same form as ``ExpectedState`` (``requests``, then
``checks`` of the facts' printed values).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from openclaw_infra.expected_state import Check, FactRequest
from openclaw_infra.facts.vm_record import VmRecord, VmState
from openclaw_infra.settings import VmHost
from openclaw_infra.vm_discovery import UnavailableVm, VmListing, judge_vm, vm_list_fact


def _record(printed: Mapping[str, Any]) -> VmRecord:
    return VmRecord(**{**printed, "state": VmState(printed["state"]), "ipv4": tuple(printed.get("ipv4") or ())})


class VmHostExpectedState:
    """The checks a VM host deployed with ``vm_host`` must pass (``host_name``: its name in the inventory)."""

    def __init__(self, host_name: str, vm_host: VmHost):
        self.host_name = host_name
        self.vm_host = vm_host

    def requests(self) -> list[FactRequest]:
        fact, arguments = vm_list_fact(self.vm_host)
        return [FactRequest(f"{fact.__module__}.{fact.__name__}", tuple(sorted(arguments.items())))]

    def checks(self, values: Mapping[FactRequest, Any]) -> list[Check]:
        (request,) = self.requests()
        listing = VmListing([_record(printed) for printed in values[request] or []])
        # As the deploy's wait for addresses: none with address_wait_seconds 0, nor from UTM (utmctl lists none).
        needs_address = self.vm_host.hypervisor != "utm" and self.vm_host.address_wait_seconds > 0
        checks = []
        for vm in self.vm_host.vms:
            expected = f"{vm.state}, as declared"
            verdict = judge_vm(self.host_name, self.vm_host, vm, listing, needs_address=needs_address)
            found = f"{verdict.found}; {verdict.fix}" if isinstance(verdict, UnavailableVm) else expected
            checks.append(Check(f"VM {vm.name}", expected, found))
        return checks
