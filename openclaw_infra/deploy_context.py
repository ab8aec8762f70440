"""Settings of the host a deploy is running for, validated for the whole inventory before any operation."""

from __future__ import annotations

import weakref
from typing import Any

from pyinfra.context import ctx_state, host

from openclaw_infra.host_settings import HostSettings, settings_for_hosts

_validated: weakref.WeakKeyDictionary[Any, dict[str, HostSettings]] = weakref.WeakKeyDictionary()


def inventory_settings(current_state: Any) -> dict[str, HostSettings]:
    """All hosts' settings, validated (and secrets read) once per pyinfra run.

    Validating every host on the first call means one bad host stops the run while operations are still
    being planned, so no host is changed.
    """
    if current_state not in _validated:
        _validated[current_state] = settings_for_hosts(
            (inventory_host.name, inventory_host.data.dict()) for inventory_host in current_state.inventory
        )
    return _validated[current_state]


def current_settings() -> HostSettings:
    return inventory_settings(ctx_state.get())[host.name]  # type: ignore[no-untyped-call]


def executed_by_pyinfra(module_globals: dict[str, Any]) -> bool:
    """True when pyinfra's CLI runs this file as a deploy (it execs files without ``__name__``), False on import."""
    return "__name__" not in module_globals
