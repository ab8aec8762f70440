"""A VM host's expected state (the VM host deploy's verification and the drift checks' VM host checks): each
declared VM judged from the VM list as ``inventories/vms.py`` judges it, with an address required only where the
deploy waits for one."""

from __future__ import annotations

from typing import Any

import pytest

from openclaw_infra.expected_state import as_printed
from openclaw_infra.facts.vm_record import VmRecord, VmState
from openclaw_infra.settings import VmHost
from openclaw_infra.vm_host_expected_state import VmHostExpectedState

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0P1q3Y1m2q9N5bE3kZc0Yc4n9p7rJ4Vx6h8mX2m5Qe operator@laptop"


def vm_host(hypervisor: str = "libvirt", **settings: Any) -> VmHost:
    vm = (
        {"name": "openclaw-a"}
        if hypervisor == "utm"
        else {"name": "openclaw-a", "base_image": "/b.qcow2", "ssh_public_key": KEY}
    )
    return VmHost.model_validate({"hypervisor": hypervisor, "vms": [vm], **settings})


def found(expected: VmHostExpectedState, *records: VmRecord) -> list[tuple[str, str, bool]]:
    (request,) = expected.requests()
    return [(check.check, check.found, check.ok) for check in expected.checks({request: as_printed(list(records))})]


RUNNING_WITHOUT_ADDRESS = VmRecord("openclaw-a", VmState.RUNNING, "running")


def test_a_running_vm_with_an_address_is_as_declared() -> None:
    record = VmRecord("openclaw-a", VmState.RUNNING, "running", ("192.168.122.50",))
    assert found(VmHostExpectedState("hv1", vm_host()), record) == [("VM openclaw-a", "running, as declared", True)]


@pytest.mark.parametrize(
    ("settings", "records", "wrong"),
    [
        ({}, [], "missing (virsh lists no VM of that name)"),
        ({}, [VmRecord("openclaw-a", VmState.STOPPED, "shut off")], "stopped (virsh says 'shut off')"),
        ({}, [RUNNING_WITHOUT_ADDRESS], "running without an IPv4 address (virsh lists none)"),
    ],
)
def test_a_vm_not_as_declared_is_named_with_its_fix(
    settings: dict[str, Any], records: list[VmRecord], wrong: str
) -> None:
    ((check, text, ok),) = found(VmHostExpectedState("hv1", vm_host(**settings)), *records)
    assert (check, ok) == ("VM openclaw-a", False)
    assert text.startswith(f"{wrong}; "), text


@pytest.mark.parametrize(
    ("hypervisor", "settings"), [("libvirt", {"address_wait_seconds": 0}), ("utm", {})], ids=["no-wait", "utm"]
)
def test_no_address_is_required_where_the_deploy_waits_for_none(hypervisor: str, settings: dict[str, Any]) -> None:
    expected = VmHostExpectedState("hv1", vm_host(hypervisor, **settings))
    assert found(expected, RUNNING_WITHOUT_ADDRESS) == [("VM openclaw-a", "running, as declared", True)]
