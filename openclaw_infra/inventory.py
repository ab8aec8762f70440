"""Read the operator's hosts files and validate OpenClaw settings while pyinfra loads an inventory file: before it
connects to any host."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pyinfra.api.exceptions import InventoryError

from openclaw_infra.host_settings import SettingsError, settings_for_hosts
from openclaw_infra.settings import DATA_PREFIX
from openclaw_infra.vm_host_settings import VM_HOST_KEY, VmHostSettings, vm_hosts_settings

HostEntry = tuple[str, Mapping[str, Any]]
# The VM hosts file (inventories/vm_hosts.py and inventories/vms.py read the same one): where, and its example.
VM_HOSTS_FILE_ENV = "OPENCLAW_VM_HOSTS_FILE"
VM_HOSTS_FILE_NAME = "vm_hosts.toml"
VM_HOSTS_EXAMPLE_NAME = "vm_hosts.example.toml"


def hosts_file(path: Path, example: Path, env_name: str, kind: str = "host") -> tuple[list[HostEntry], dict[str, Any]]:
    """The ``(hosts, group_data)`` of an operator's TOML hosts file: ``[all]`` is data every host gets,
    ``[hosts."NAME"]`` one table per host. A missing file, one with no host or an unknown table is refused, naming
    the fix (``kind`` words the messages: "host", "VM host")."""
    try:
        document = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise InventoryError(
            f"no {kind}s file at {path}. Fix: copy {example} there and fill in your {kind}s, "
            f"or point {env_name} at yours."
        ) from None
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise InventoryError(f"{path} cannot be read: {error}") from None
    unknown = sorted(set(document) - {"all", "hosts"})
    if unknown:
        raise InventoryError(f"{path}: unknown table(s) {', '.join(unknown)}. Fix: use only [all] and [hosts.NAME].")
    hosts = document.get("hosts", {})
    if not hosts:
        raise InventoryError(f'{path} names no {kind}. Fix: add a [hosts."NAME"] table for each {kind}.')
    for name, data in hosts.items():
        if not isinstance(data, dict):
            raise InventoryError(f"{path}: hosts.{name} must be a table of host data, not {data!r}.")
    return list(hosts.items()), document.get("all", {})


def vm_hosts_file(inventory_dir: Path) -> tuple[list[HostEntry], dict[str, Any]]:
    """The VM hosts file: ``$OPENCLAW_VM_HOSTS_FILE``, or ``vm_hosts.toml`` in ``inventory_dir``."""
    path = Path(os.environ.get(VM_HOSTS_FILE_ENV) or inventory_dir / VM_HOSTS_FILE_NAME)
    return hosts_file(path, inventory_dir / VM_HOSTS_EXAMPLE_NAME, VM_HOSTS_FILE_ENV, kind="VM host")


def checked_hosts(hosts: list[HostEntry], group_data: Mapping[str, Any] | None = None) -> list[HostEntry]:
    """Return ``hosts`` unchanged after validating each host's settings (host data over ``group_data``).

    For an inventory group written as ``[(name, data), ...]``; raises ``SettingsError`` naming every bad field.
    """
    settings_for_hosts((name, {**(group_data or {}), **data}) for name, data in hosts)
    return hosts


def checked_group(hosts: list[HostEntry], group_data: Mapping[str, Any]) -> tuple[list[HostEntry], Mapping[str, Any]]:
    """The ``(hosts, group_data)`` form of a pyinfra inventory group, validated like ``checked_hosts``."""
    return checked_hosts(hosts, group_data), group_data


def vm_hosts_with_settings(
    hosts: list[HostEntry], group_data: Mapping[str, Any] | None = None
) -> dict[str, VmHostSettings]:
    """Every VM host's ``openclaw_vm_host`` and its VMs' gateway settings, validated (secret sources read); raises one
    ``SettingsError`` naming every problem. A VM host runs no gateway of its own: any other ``openclaw_*`` key on it
    is refused rather than ignored (gateway settings belong in ``gateway_defaults`` or a VM's ``gateway``)."""
    merged = [(name, {**(group_data or {}), **data}) for name, data in hosts]
    stray = [
        f"host {name!r}: {key}: a VM host takes no gateway setting. Fix: move it into {VM_HOST_KEY}.gateway_defaults "
        "(every VM) or a VM's gateway table."
        for name, data in merged
        for key in data
        if key.startswith(DATA_PREFIX) and key != VM_HOST_KEY
    ]
    try:
        settings = vm_hosts_settings(merged)
    except SettingsError as error:
        raise SettingsError(stray + error.problems) from None
    if stray:
        raise SettingsError(stray)
    return settings


def checked_vm_hosts(
    hosts: list[HostEntry], group_data: Mapping[str, Any]
) -> tuple[list[HostEntry], Mapping[str, Any]]:
    """The ``(hosts, group_data)`` form of a pyinfra inventory group of VM hosts, validated by
    ``vm_hosts_with_settings``."""
    vm_hosts_with_settings(hosts, group_data)
    return hosts, group_data
