"""Checks a host must pass before anything is installed on it."""

from __future__ import annotations

from collections.abc import Generator

from pyinfra.api.exceptions import OperationError
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.facts.server import Arch, Os, Which

from openclaw_infra.facts.accounts import Account, PasswdEntry
from openclaw_infra.facts.batch import read_facts
from openclaw_infra.facts.system_state import SystemdSystemState
from openclaw_infra.settings import Settings, data_path

OS_NAMES = {"linux": "Linux", "macos": "Darwin"}
# Tuples, not sets: membership by equality, which pyinfra-testing's fake facts support (they are unhashable).
SUPPORTED_ARCHES = ("x86_64", "amd64", "aarch64", "arm64")
SYSTEMD_USABLE = ("running", "degraded")
# Still booting: a VM whose sshd just answered, a host just restarted. Waited for, not refused.
SYSTEMD_BOOTING = ("initializing", "starting")
BOOT_WAIT_SECONDS = 900
WAIT_FOR_BOOT = (
    f"timeout {BOOT_WAIT_SECONDS} systemctl is-system-running --wait >/dev/null; "
    'state=$(systemctl is-system-running); case "$state" in running|degraded) ;; '
    f'*) echo "systemd state is $state after waiting {BOOT_WAIT_SECONDS} s for the boot to finish; the gateway '
    'service needs systemd running (or degraded). Fix: look at systemctl list-jobs and journalctl -b." >&2; '
    "exit 1 ;; esac"
)


@operation(is_idempotent=True)
def host_ready(settings: Settings) -> Generator[str, None, None]:
    """
    Refuse a host that cannot carry the settings: wrong OS family, unsupported CPU, or (Linux) no systemd, no
    apt, or a service user that exists already but is not one this deploy made.

    Changes nothing; on success it reports what it found and what will be deployed. A host still booting (a VM
    just created) is waited for, up to ``BOOT_WAIT_SECONDS``: the one command this operation may run.
    """
    linux = settings.os_family == "linux"
    # One command for every probe: each would otherwise cost a round trip over SSH.
    os_name, arch, *linux_facts = read_facts(
        (Os, {}),
        (Arch, {}),
        *(
            [(SystemdSystemState, {}), (Which, {"command": "apt-get"})]
            + [(PasswdEntry, {"user": user}) for user in settings.users]
            if linux
            else []
        ),
    )
    if os_name != OS_NAMES[settings.os_family]:
        raise OperationError(
            f"openclaw_os_family is {settings.os_family!r} but the host runs {os_name}; "
            "set openclaw_os_family to match the host."
        )
    if arch not in SUPPORTED_ARCHES:
        raise OperationError(f"CPU architecture {arch!r} has no official Node build; use x86_64 or arm64.")
    found = f"{os_name} {arch}"
    if linux:
        system_state, apt_get, *accounts = linux_facts
        if system_state in SYSTEMD_BOOTING:
            yield WAIT_FOR_BOOT
            system_state = "booted"
        elif system_state not in SYSTEMD_USABLE:
            raise OperationError(
                f"systemd state is {str(system_state)!r}; the gateway service needs systemd as PID 1 "
                "(running or degraded)."
            )
        found += f", systemd {system_state}"
        if not apt_get:
            raise OperationError(
                "apt-get not found: only apt-based distributions (Debian, Ubuntu) are supported for now; "
                "deploy to one of those."
            )
        for user, account in zip(settings.users, accounts, strict=True):
            _refuse_foreign_account(account, user, settings.home_of(user), data_path(settings.user_location(user)))
    gateways = ", ".join(
        f"{gateway.service_name} as {settings.user_of(gateway)} on {gateway.bind}:{gateway.port}"
        for gateway in settings.gateways
    )
    host.noop(f"host ready ({found}); planned: {settings.isolation}, {gateways}")
    yield from ()


def _refuse_foreign_account(account: Account | None, user: str, home: str, key: str) -> None:
    """An existing account is taken over by the deploy (shell, groups, home 0700): it must look like one this
    deploy made, not root under another name nor a person's or a package's account."""
    if account is None:
        return
    if account.uid == 0:
        found = "uid 0 (root's powers)"
    elif account.home != home:
        found = f"home {account.home}, not {home}"
    else:
        return
    raise OperationError(
        f"{key}: user {user!r} already exists on the host with {found}, so it is not one this deploy made; "
        f"deploying would take it over. Fix: choose another {key} (a name not in use on the host)."
    )
