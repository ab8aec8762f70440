"""The macOS application firewall (``socketfilterfw``): on, in stealth mode (the guide's macOS firewall section)."""

from __future__ import annotations

from collections.abc import Generator

from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import OperationError
from pyinfra.api.operation import operation
from pyinfra.context import host

from openclaw_infra.facts.application_firewall import SOCKETFILTERFW, MacosApplicationFirewall
from openclaw_infra.facts.batch import read_facts


def _switch(option: str, on: bool) -> StringCommand:
    return StringCommand(SOCKETFILTERFW, f"--{option}", "on" if on else "off")


@operation()
def application_firewall(enabled: bool = True, stealth_mode: bool = True) -> Generator[StringCommand, None, None]:
    """
    The application firewall on or off, and stealth mode (no answer to probes such as ICMP pings or connections
    to closed ports) on or off, as asked. Must run as root (socketfilterfw: "Must be root to change settings.").
    "Block all incoming connections" is left as it is: it would also block the gateway's allowed sources.

    + enabled: the firewall's global state
    + stealth_mode: stealth mode
    """
    (state,) = read_facts((MacosApplicationFirewall, {}))
    if state is None:
        raise OperationError(f"{SOCKETFILTERFW} is not on this host: the application firewall is macOS's only.")
    changed = False
    if state.enabled != enabled:
        yield _switch("setglobalstate", enabled)
        changed = True
    # None: the host did not say (a partial answer); set it, which changes nothing if it already was.
    if state.stealth_mode != stealth_mode:
        yield _switch("setstealthmode", stealth_mode)
        changed = True
    if not changed:
        on = "on" if enabled else "off"
        host.noop(f"application firewall {on}, stealth mode {'on' if stealth_mode else 'off'}")
