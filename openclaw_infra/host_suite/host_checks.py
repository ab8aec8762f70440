"""The checks of each host the suite is run against: which inventory host's settings it was deployed with, its
facts read through testinfra, and ``ExpectedState.checks`` over them. No check of its own is decided here."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from paramiko import SSHException

from openclaw_infra.expected_state import Check
from openclaw_infra.gateway_expected_state import expected_state_of
from openclaw_infra.host_settings import HostSettings, SettingsError, settings_for_hosts
from openclaw_infra.host_suite.fact_reading import CommandRunner, FactUnreadable, read_printed

# A testinfra ``local://`` host is the machine itself: pyinfra's name for it.
LOCAL_INVENTORY_NAME = "@local"
NOT_ROOT = (
    "the facts are read as a user other than root; the expected state includes root-only files. "
    "Fix: log in as root, or pass --sudo (passwordless sudo)"
)


class SuiteRefused(Exception):
    """The suite cannot know what to check: no inventory, one that does not load, or no settings for a host."""


@dataclasses.dataclass(frozen=True)
class HostCheck:
    """One test item: a check of a host, or why the host could not be checked at all."""

    host: str
    check: Check | None = None
    unreadable: str | None = None

    @property
    def test_id(self) -> str:
        return f"{self.host}: {self.check.check if self.check else 'could not be checked'}"


def load_inventory_data(inventory: str, cwd: Path) -> dict[str, dict[str, Any]]:
    """Each inventory host's ``openclaw_*`` data and ``ssh_hostname``, loaded as the pyinfra CLI loads it."""
    result = subprocess.run(
        [sys.executable, "-m", "openclaw_infra.host_suite.inventory_data", inventory],
        capture_output=True, text=True, cwd=cwd, timeout=600, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        said = result.stderr.strip() or f"exit {result.returncode}"
        raise SuiteRefused(f"inventory {inventory} cannot be used: {said}")
    data: dict[str, dict[str, Any]] = json.loads(result.stdout)
    if not data:
        raise SuiteRefused(f"inventory {inventory} gives no hosts")
    return data


def inventory_host_for(address: str, inventory: Mapping[str, Mapping[str, Any]], chosen: str | None) -> str:
    """The inventory host whose settings apply to the testinfra host at ``address``: ``chosen`` when the operator
    named one, else the one whose name or ``ssh_hostname`` is that address."""
    known = ", ".join(
        f"{name} (ssh_hostname {data['ssh_hostname']})" if data.get("ssh_hostname") else name
        for name, data in inventory.items()
    )
    if chosen is not None:
        if chosen not in inventory:
            raise SuiteRefused(f"--openclaw-host {chosen!r} is not a host of the inventory; its hosts: {known}")
        return chosen
    matches = [name for name, data in inventory.items() if address in (name, data.get("ssh_hostname"))]
    if len(matches) != 1:
        problem = (
            "no inventory host has" if not matches else f"{len(matches)} inventory hosts ({', '.join(matches)}) have"
        )
        raise SuiteRefused(
            f"{problem} the name or ssh_hostname {address!r}, so the settings it was deployed with are unknown; "
            f"the inventory's hosts: {known}. Fix: reach the host by one of those names, or pass "
            "--openclaw-host=NAME to say which inventory host's settings it has."
        )
    return matches[0]


def settings_of(inventory: Mapping[str, Mapping[str, Any]], names: Sequence[str]) -> dict[str, HostSettings]:
    """Validated settings (secrets read from their sources on this machine) of the inventory hosts ``names``."""
    try:
        return settings_for_hosts((name, inventory[name]) for name in dict.fromkeys(names))
    except SettingsError as error:
        raise SuiteRefused(str(error)) from None


def checks_of(host: CommandRunner, host_settings: HostSettings, health_wait_seconds: int) -> list[HostCheck]:
    """Every check of ``host``'s expected state, or one item saying why its facts could not be read."""
    expected = expected_state_of(host_settings, health_wait_seconds)
    name = host_settings.host_name
    try:
        if host.run("id -u").stdout.strip() != "0":
            # Not root, facts on root-only files read as "missing" and tools in sbin as "not installed": misleading.
            return [HostCheck(name, unreadable=NOT_ROOT)]
        values = {request: read_printed(host, request) for request in expected.requests()}
    except (FactUnreadable, RuntimeError, OSError, SSHException) as error:
        return [HostCheck(name, unreadable=_why_unreadable(error))]
    return [HostCheck(name, check=check) for check in expected.checks(values)]


def _why_unreadable(error: Exception) -> str:
    # testinfra's ssh backend says "unreachable" as RuntimeError(CommandResult of ssh's exit 255): its stderr is the
    # reason; paramiko raises SSHException or OSError itself.
    result = error.args[0] if error.args else None
    stderr = getattr(result, "stderr", None)
    if isinstance(stderr, str):
        return f"ssh failed: {stderr.strip()}"
    return f"{type(error).__name__}: {error}" if not isinstance(error, FactUnreadable) else str(error)
