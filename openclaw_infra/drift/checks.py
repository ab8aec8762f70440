"""What "still matches the deploy" means for one host, as checks of expected against found.

Two sources, both read-only: pyinfra's own plan for the deploys (what ``--dry --json`` prints: every operation
that would change something is drift), and the verification facts of ``ExpectedState`` (service, health,
listeners, modes, firewall, versions). ``openclaw_infra.drift.run`` reads both in one pyinfra run.
"""

from __future__ import annotations

import dataclasses

from openclaw_infra.expected_state import Check
from openclaw_infra.vm_discovery import UnavailableVm

HEALTH_WAIT_SECONDS = 5
# What pyinfra prints when a fact could not be read; its --json then shows the fact's default instead.
FACT_FAILURE_MARKERS = ("could not load fact", "could not process fact")


@dataclasses.dataclass(frozen=True)
class HostResult:
    host: str
    checks: tuple[Check, ...] = ()
    # Why the host could not be checked (unreachable, auth failure, a failing fact); None when it was.
    error: str | None = None

    @property
    def status(self) -> str:
        if self.error is not None:
            return "unchecked"
        return "drift" if any(not check.ok for check in self.checks) else "ok"


def fact_failures(stderr: str) -> list[str]:
    """The lines where pyinfra's CLI says a fact could not be read (its --json then shows the fact's default)."""
    return [line for line in stderr.splitlines() if any(marker in line for marker in FACT_FAILURE_MARKERS)]


def plan_refusal(reason: str) -> Check:
    """The deploy would refuse the host as it is (an operation raised ``OperationError`` while planned): drift, named
    in the operation's own words; the fact checks are still read."""
    return Check(check="plan: the deploy refuses this host", expected="deployable", found=reason)


def plan_check(operation_name: str) -> Check:
    """An operation of the deploys' dry-run plan that would change the host: drift."""
    return Check(check=f"plan: {operation_name}", expected="no change", found="would change")


def unavailable_vm_result(vm: UnavailableVm) -> HostResult:
    """A declared VM the inventory could not give as a host: drift when its VM host says it is not as declared
    (stopped, missing, no address), unchecked when its VM host could not be asked (its state is unknown)."""
    if not vm.listed:
        return HostResult(vm.vm, error=f"VM on {vm.vm_host}: {vm.found}")
    return HostResult(
        vm.vm, (Check(check=f"VM on {vm.vm_host}", expected=f"{vm.declared}, as declared", found=vm.found),)
    )
