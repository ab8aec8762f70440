"""Settings of the host a deploy is running for, validated for the whole inventory before any operation."""

from __future__ import annotations

import weakref
from typing import Any

from pyinfra.context import ctx_state, host

from openclaw_infra.host_settings import HostSettings, SettingsError, settings_for_hosts
from openclaw_infra.isolation import refusal
from openclaw_infra.ssh_tuning import set_tcp_nodelay_on_connected
from openclaw_infra.vm_host_settings import VmHostSettings, vm_hosts_settings

_validated: weakref.WeakKeyDictionary[Any, dict[str, HostSettings]] = weakref.WeakKeyDictionary()
_validated_vm_hosts: weakref.WeakKeyDictionary[Any, dict[str, VmHostSettings]] = weakref.WeakKeyDictionary()
_deploys_checked: weakref.WeakKeyDictionary[Any, set[tuple[str, ...]]] = weakref.WeakKeyDictionary()


def inventory_settings(current_state: Any) -> dict[str, HostSettings]:
    """All hosts' settings, validated (and secrets read) once per pyinfra run.

    Validating every host on the first call means one bad host stops the run while operations are still
    being planned, so no host is changed.
    """
    if current_state not in _validated:
        # The first thing every deploy of this project does, once pyinfra has connected its hosts: every remote
        # command after this one is ~45 ms faster (see ssh_tuning).
        set_tcp_nodelay_on_connected(current_state.inventory)
        _validated[current_state] = settings_for_hosts(
            (inventory_host.name, inventory_host.data.dict()) for inventory_host in current_state.inventory
        )
    return _validated[current_state]


def current_settings() -> HostSettings:
    return inventory_settings(ctx_state.get())[host.name]  # type: ignore[no-untyped-call]


def current_vm_host_settings() -> VmHostSettings:
    """The current VM host's ``openclaw_vm_host`` (and its VMs' gateway settings), every host of the inventory
    validated on the first call, so one bad VM host stops the run before any host is changed."""
    current_state = ctx_state.get()  # type: ignore[no-untyped-call]
    if current_state not in _validated_vm_hosts:
        set_tcp_nodelay_on_connected(current_state.inventory)
        _validated_vm_hosts[current_state] = vm_hosts_settings(
            (inventory_host.name, inventory_host.data.dict()) for inventory_host in current_state.inventory
        )
    return _validated_vm_hosts[current_state][host.name]


def require_deploy(*deploy_files: str) -> None:
    """Refuse the whole run, before any operation, when a host's isolation model is not one ``deploy_files``
    implement (a deploy file names itself; a deploy function that several files share names them all).

    Every host of the inventory is checked on the first call, so the refusal names all of them at once.
    """
    current_state = ctx_state.get()  # type: ignore[no-untyped-call]
    checked = _deploys_checked.setdefault(current_state, set())
    if deploy_files in checked:
        return
    problems = [
        f"host {name!r}: {reason}"
        for name, host_settings in inventory_settings(current_state).items()
        if (reason := refusal(host_settings.settings, deploy_files))
    ]
    if problems:
        raise SettingsError(problems)
    checked.add(deploy_files)


def executed_by_pyinfra(module_globals: dict[str, Any]) -> bool:
    """True when pyinfra's CLI runs this file as a deploy (it execs files without ``__name__``), False on import."""
    return "__name__" not in module_globals
