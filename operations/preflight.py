"""Checks a host must pass before anything is installed on it."""

from __future__ import annotations

from collections.abc import Generator

from pyinfra.api.exceptions import OperationError
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.facts.server import Arch, Os

from openclaw_infra.facts.system_state import SystemdSystemState
from openclaw_infra.settings import Settings

OS_NAMES = {"linux": "Linux", "macos": "Darwin"}
SUPPORTED_ARCHES = frozenset({"x86_64", "amd64", "aarch64", "arm64"})


@operation(is_idempotent=True)
def host_ready(settings: Settings) -> Generator[str, None, None]:
    """
    Refuse a host that cannot carry the settings: wrong OS family, unsupported CPU, or (Linux) no systemd.

    Changes nothing; on success it reports what it found and what will be deployed.
    """
    os_name = host.get_fact(Os)
    if os_name != OS_NAMES[settings.os_family]:
        raise OperationError(
            f"openclaw_os_family is {settings.os_family!r} but the host runs {os_name}; "
            "set openclaw_os_family to match the host."
        )
    arch = host.get_fact(Arch)
    if arch not in SUPPORTED_ARCHES:
        raise OperationError(f"CPU architecture {arch!r} has no official Node build; use x86_64 or arm64.")
    found = f"{os_name} {arch}"
    if settings.os_family == "linux":
        system_state = host.get_fact(SystemdSystemState)
        if system_state not in {"running", "degraded"}:
            raise OperationError(
                f"systemd state is {system_state!r}; the gateway service needs systemd as PID 1 (running or degraded)."
            )
        found += f", systemd {system_state}"
    gateways = ", ".join(
        f"{gateway.service_name} as {settings.user_of(gateway)} on {gateway.bind}:{gateway.port}"
        for gateway in settings.gateways
    )
    host.noop(f"host ready ({found}); planned: {settings.isolation}, {gateways}")
    yield from ()
