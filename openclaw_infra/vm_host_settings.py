"""A VM host's validated ``openclaw_vm_host`` and the validated settings of the gateway inside each of its VMs.

Read by the VM host deploy and by ``inventories/vms.py`` before any host is touched; errors name the VM host, the
data key down to the VM's gateway setting, and the fix, for every VM host at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from openclaw_infra.host_settings import HostSettings, SettingsError, section_for_host, settings_for_hosts
from openclaw_infra.settings import AUTH_SECRET, DATA_PREFIX, VirtualMachine, VmHost, data_key

VM_HOST_KEY = data_key("vm_host")


@dataclass(frozen=True)
class VmHostSettings:
    """One VM host: its section, and for each VM not being removed the settings of the gateway inside."""

    host_name: str
    vm_host: VmHost
    gateways: dict[str, HostSettings]

    def vm(self, name: str) -> VirtualMachine:
        return next(vm for vm in self.vm_host.vms if vm.name == name)


def _gateway_key_problems(host_name: str, where: str, data: Mapping[str, Any], fixed: Mapping[str, str]) -> list[str]:
    problems = []
    for key in data:
        place = f"host {host_name!r}: {VM_HOST_KEY}.{where}.{key}"
        if not key.startswith(DATA_PREFIX):
            problems.append(
                f"{place}: is not gateway data. Fix: use only openclaw_* settings there; the inventory "
                "makes the connection data from the VM's address."
            )
        elif key in fixed and data[key] != fixed[key]:
            problems.append(f"{place}: a VM's gateway here is always {fixed[key]!r}. Fix: remove it.")
    return problems


def _shared_token_problems(hosts: list[VmHostSettings]) -> list[str]:
    """The guide's VM variants: one gateway per VM, each with a token of its own."""
    problems = []
    seen: dict[str, str] = {}
    for settings in hosts:
        for index, vm in enumerate(settings.vm_host.vms):
            gateway = settings.gateways.get(vm.name)
            if gateway is None:
                continue
            for secret_name in sorted(set(AUTH_SECRET.values())):
                found = (gateway.settings.secrets_for(one).get(secret_name) for one in gateway.settings.gateways)
                # Sources hold lists (a command): keyed by their JSON, which also makes them comparable.
                sources = {source.model_dump_json(): source for source in found if source is not None}
                for source_json, source in sources.items():
                    key = f"{secret_name}={source_json}"
                    owner = f"{settings.host_name}/{vm.name}"
                    if key in seen:
                        problems.append(
                            f"host {settings.host_name!r}: {VM_HOST_KEY}.vms[{index}].gateway: VM {vm.name!r} reads "
                            f"{secret_name} from the same {source.describe()} as VM {seen[key]}. Fix: give each "
                            "VM's gateway its own token source (one gateway per VM, no shared secret)."
                        )
                    else:
                        seen[key] = owner
    return problems


def vm_hosts_settings(hosts: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, VmHostSettings]:
    """Validate every VM host's ``openclaw_vm_host`` and each VM's gateway settings (secrets read on the control
    machine); raise one ``SettingsError`` listing every problem of every VM host."""
    problems: list[str] = []
    result: dict[str, VmHostSettings] = {}
    for host_name, data in hosts:
        raw = data.get(VM_HOST_KEY)
        if raw is None:
            problems.append(
                f"host {host_name!r}: {VM_HOST_KEY} is missing. Fix: declare the hypervisor and the VMs, e.g. "
                '{"hypervisor": "libvirt", "vms": [{"name": "openclaw-vm", ...}]}.'
            )
            continue
        try:
            vm_host = section_for_host(host_name, "vm_host", VmHost, raw)
        except SettingsError as error:
            problems += error.problems
            continue
        gateways: dict[str, HostSettings] = {}
        default_problems = _gateway_key_problems(
            host_name, "gateway_defaults", vm_host.gateway_defaults, vm_host.fixed_gateway_data
        )
        problems += default_problems
        for index, vm in enumerate(vm_host.vms):
            if vm.state == "absent" or default_problems:
                continue
            key_problems = _gateway_key_problems(
                host_name, f"vms[{index}].gateway", vm.gateway, vm_host.fixed_gateway_data
            )
            if key_problems:
                problems += key_problems
                continue
            try:
                gateways[vm.name] = settings_for_hosts([(vm.name, vm_host.gateway_data(vm))])[vm.name]
            except SettingsError as error:
                place = f"host {host_name!r}: {VM_HOST_KEY}.vms[{index}].gateway (VM {vm.name!r}): "
                problems += [place + problem.removeprefix(f"host {vm.name!r}: ") for problem in error.problems]
        result[host_name] = VmHostSettings(host_name, vm_host, gateways)
    problems += _shared_token_problems(list(result.values()))
    if problems:
        raise SettingsError(problems)
    return result


def vm_host_settings(host_name: str, data: Mapping[str, Any]) -> VmHostSettings:
    return vm_hosts_settings([(host_name, data)])[host_name]
