"""The VM host section (openclaw_vm_host) and the gateway settings of each VM: refused before any host is touched,
with a message naming the VM host, the data key and the fix."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from openclaw_infra.host_settings import SettingsError
from openclaw_infra.vm_host_settings import vm_host_settings, vm_hosts_settings

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0P1q3Y1m2q9N5bE3kZc0Yc4n9p7rJ4Vx6h8mX2m5Qe operator@laptop"


def token(name: str) -> dict[str, Any]:
    return {"openclaw_secrets": {"OPENCLAW_GATEWAY_TOKEN": {"env": name}}}


def vm(name: str = "openclaw-vm", **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "base_image": "/var/lib/images/debian-12.qcow2",
        "ssh_public_key": KEY,
        "gateway": token(f"TOKEN_{name.upper().replace('-', '_')}"),
        **fields,
    }


def vm_host(*vms: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"openclaw_vm_host": {"hypervisor": "libvirt", "vms": list(vms) or [vm()], **fields}}


@pytest.fixture(autouse=True)
def _tokens_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TOKEN_OPENCLAW_VM", "TOKEN_VM_A", "TOKEN_VM_B", "TOKEN_VM_C", "SHARED"):
        monkeypatch.setenv(name, f"value-of-{name}")


def problems(data: dict[str, Any], host_name: str = "hyper1") -> list[str]:
    with pytest.raises(SettingsError) as caught:
        vm_host_settings(host_name, data)
    return caught.value.problems


def only_problem(data: dict[str, Any]) -> str:
    found = problems(data)
    assert len(found) == 1, found
    return found[0]


def test_a_declared_vm_gets_defaults_and_a_linux_vm_gateway() -> None:
    settings = vm_host_settings("hyper1", vm_host())
    (declared,) = settings.vm_host.vms
    assert (declared.cpus, declared.memory_mib, declared.disk_gib) == (4, 4096, 40)
    assert (declared.state, declared.autostart, declared.delete_disks, declared.admin_user) == (
        "running",
        True,
        False,
        "admin",
    )
    inside = settings.gateways["openclaw-vm"]
    assert (inside.settings.isolation, inside.settings.os_family) == ("linux-vm", "linux")
    assert (
        inside.secrets_of(inside.settings.gateways[0])["OPENCLAW_GATEWAY_TOKEN"].unmask()
        == "value-of-TOKEN_OPENCLAW_VM"
    )


def test_a_stop_waits_two_minutes_for_the_guest_by_default() -> None:
    assert vm_host_settings("hyper1", vm_host()).vm_host.shutdown_wait_seconds == 120


def test_gateway_defaults_apply_to_every_vm_and_a_vm_overrides_them() -> None:
    data = vm_host(
        vm("vm-a"),
        vm("vm-b", gateway={**token("TOKEN_VM_B"), "openclaw_service_user": "claw"}),
        gateway_defaults={"openclaw_service_user": "gw", "openclaw_docker_sandbox": False},
    )
    gateways = vm_host_settings("hyper1", data).gateways
    assert gateways["vm-a"].settings.service_user == "gw"
    assert gateways["vm-b"].settings.service_user == "claw"
    assert not gateways["vm-b"].settings.docker_sandbox


@pytest.mark.parametrize(
    ("data", "place", "words"),
    [
        (vm_host(vm(), vm()), "openclaw_vm_host.vms[1].name", "two VMs are named 'openclaw-vm'"),
        (vm_host(vm(name="Bad_Name")), "openclaw_vm_host.vms[0].name", "is not a VM name"),
        (vm_host(vm(cpus=0)), "openclaw_vm_host.vms[0].cpus", "greater than or equal to 1"),
        (vm_host(vm(memory_mib=64)), "openclaw_vm_host.vms[0].memory_mib", "greater than or equal to 512"),
        (vm_host(vm(disk_gib=1)), "openclaw_vm_host.vms[0].disk_gib", "greater than or equal to 2"),
        (vm_host(vm(colour="blue")), "openclaw_vm_host.vms[0].colour", "is not a setting"),
        (vm_host(vm(ssh_public_key="AAAA not a key")), "openclaw_vm_host.vms[0].ssh_public_key", "public key"),
        (vm_host(vm(ssh_public_key=None)), "openclaw_vm_host.vms[0].ssh_public_key", "has no ssh_public_key"),
        (vm_host(vm(base_image="debian.qcow2")), "openclaw_vm_host.vms[0].base_image", "not a path on the VM host"),
        (vm_host(vm(admin_user="root")), "openclaw_vm_host.vms[0].admin_user", "system account"),
        (vm_host(vm(delete_disks=True)), "openclaw_vm_host.vms[0].delete_disks", 'set state to "absent"'),
        (vm_host(hypervisor="vmware"), "openclaw_vm_host.hypervisor", "'utm', 'lume' or 'parallels'"),
        (vm_host(image_dir="relative/dir"), "openclaw_vm_host.image_dir", "not an absolute path"),
        (vm_host(vms=[]), "openclaw_vm_host.vms", "at least 1 item"),
        (
            {"openclaw_vm_host": {"hypervisor": "multipass", "vms": [vm(boot={"kernel": "/boot/vmlinuz"})]}},
            "openclaw_vm_host.vms[0].boot",
            "libvirt's",
        ),
        (vm_host(shutdown_wait_seconds=-1), "openclaw_vm_host.shutdown_wait_seconds", "greater than or equal to 0"),
        (
            {"openclaw_vm_host": {"hypervisor": "utm", "install_tools": True, "vms": [vm()]}},
            "openclaw_vm_host.install_tools",
            "UTM is a macOS app",
        ),
        (
            {"openclaw_vm_host": {"hypervisor": "utm", "vms": [vm(state="absent")]}},
            "openclaw_vm_host.vms[0].state",
            "UTM VMs are not removed by the deploy",
        ),
    ],
)
def test_bad_vm_host_data_is_refused_naming_the_key_and_the_fix(data: dict[str, Any], place: str, words: str) -> None:
    problem = only_problem(data)
    assert problem.startswith(f"host 'hyper1': {place}: "), problem
    assert words in problem and "Fix:" in problem


def test_a_vm_gateway_setting_is_refused_with_its_place_inside_the_vm_host() -> None:
    problem = only_problem(vm_host(vm(gateway={**token("TOKEN_OPENCLAW_VM"), "openclaw_service_user": "root"})))
    assert problem.startswith(
        "host 'hyper1': openclaw_vm_host.vms[0].gateway (VM 'openclaw-vm'): openclaw_service_user: "
    ), problem
    assert "system account" in problem


def test_connection_data_and_another_isolation_are_refused_in_a_vm_gateway() -> None:
    found = problems(
        vm_host(vm(gateway={**token("TOKEN_OPENCLAW_VM"), "ssh_user": "x", "openclaw_isolation": "docker-isolation"}))
    )
    assert any("vms[0].gateway.ssh_user: is not gateway data" in problem for problem in found), found
    assert any(
        "vms[0].gateway.openclaw_isolation: a VM's gateway here is always 'linux-vm'" in problem for problem in found
    )


def test_a_missing_token_source_names_the_vm() -> None:
    problem = only_problem(vm_host(vm(gateway={})))
    assert "vms[0].gateway (VM 'openclaw-vm')" in problem and "OPENCLAW_GATEWAY_TOKEN" in problem


def test_two_vms_sharing_a_token_source_are_refused_across_vm_hosts() -> None:
    one = vm_host(vm("vm-a", gateway=token("SHARED")))
    other = vm_host(vm("vm-b", gateway=token("SHARED")))
    with pytest.raises(SettingsError) as caught:
        vm_hosts_settings([("hyper1", one), ("hyper2", other)])
    (problem,) = caught.value.problems
    assert problem.startswith("host 'hyper2': openclaw_vm_host.vms[0].gateway: VM 'vm-b' reads OPENCLAW_GATEWAY_TOKEN")
    assert "environment variable SHARED as VM hyper1/vm-a" in problem


def test_shared_gateway_defaults_token_is_refused() -> None:
    data = vm_host(vm("vm-a", gateway={}), vm("vm-b", gateway={}), gateway_defaults=token("SHARED"))
    (problem,) = problems(data)
    assert "VM 'vm-b' reads OPENCLAW_GATEWAY_TOKEN" in problem


def test_a_vm_being_removed_needs_no_image_key_or_gateway() -> None:
    data = vm_host(vm(), {"name": "old-vm", "state": "absent", "delete_disks": True})
    settings = vm_host_settings("hyper1", data)
    assert set(settings.gateways) == {"openclaw-vm"}
    assert settings.vm("old-vm").delete_disks


def test_every_vm_host_problem_is_reported_at_once() -> None:
    bad = copy.deepcopy(vm_host(vm(cpus=0)))
    with pytest.raises(SettingsError) as caught:
        vm_hosts_settings([("hyper1", bad), ("hyper2", {}), ("hyper3", vm_host(vm(gateway={})))])
    hosts = [problem.split(":")[0] for problem in caught.value.problems]
    assert hosts == ["host 'hyper1'", "host 'hyper2'", "host 'hyper3'"], caught.value.problems


# --- macOS guests (Lume, Parallels) -----------------------------------------------------------------------------


def mac_vm(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "base_image": "latest", "gateway": token(f"TOKEN_{name.upper().replace('-', '_')}"), **fields}


def test_a_lume_vm_needs_no_key_and_runs_a_macos_vm_gateway() -> None:
    settings = vm_host_settings("mac1", vm_host(mac_vm("vm-a"), hypervisor="lume", vm_owner="admin"))
    inside = settings.gateways["vm-a"].settings
    assert (inside.isolation, inside.os_family) == ("macos-vm", "macos")
    found = problems(vm_host(mac_vm("vm-a", gateway={**token("TOKEN_VM_A"), "openclaw_os_family": "linux"}),
                             hypervisor="lume", vm_owner="admin"))  # fmt: skip
    assert any("vms[0].gateway.openclaw_os_family: a VM's gateway here is always 'macos'" in p for p in found), found


@pytest.mark.parametrize(
    ("fields", "vms", "words"),
    [
        ({}, [mac_vm("vm-a")], "openclaw_vm_host.vm_owner: lume keeps VMs per user"),
        ({"vm_owner": "admin", "install_tools": True}, [mac_vm("vm-a")], "lume is a macOS app"),
        ({"vm_owner": "admin"}, [mac_vm("vm-a", base_image="/images/macos.qcow2")], "is not what lume creates"),
        ({"vm_owner": "admin"}, [mac_vm(name) for name in ("vm-a", "vm-b", "vm-c")], "3 macOS VMs (vm-a, vm-b, vm-c)"),
    ],
)
def test_bad_lume_vm_host_data_is_refused(fields: dict[str, Any], vms: list[dict[str, Any]], words: str) -> None:
    assert words in only_problem(vm_host(*vms, hypervisor="lume", **fields))


def test_a_third_macos_vm_that_is_absent_is_allowed() -> None:
    vms = [mac_vm("vm-a"), mac_vm("vm-b"), mac_vm("vm-c", state="absent")]
    assert vm_host_settings("mac1", vm_host(*vms, hypervisor="parallels", vm_owner="admin")).vm_host.macos_guests
