"""What "still matches the deploy" means for one host, as checks of expected against found.

Two sources, both read-only: pyinfra's own plan for the deploys (``--dry --json``: every operation that would
change something is drift), and the verification facts (service, health, listeners, modes, firewall, versions),
read through the real ``pyinfra … fact … --json``.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from openclaw_infra.expected_state import Check, ExpectedState
from openclaw_infra.host_settings import HostSettings

# The pyinfra CLI of this environment (benchmarks/drift_check.py swaps in an instrumented one).
PYINFRA_COMMAND = [str(Path(sys.executable).parent / "pyinfra")]
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


class HostUnchecked(RuntimeError):
    pass


def fact_failures(stderr: str) -> list[str]:
    """The lines where pyinfra says a fact could not be read (its --json then shows the fact's default)."""
    return [line for line in stderr.splitlines() if any(marker in line for marker in FACT_FAILURE_MARKERS)]


def _pyinfra(inventory: str, host_name: str, args: Sequence[str], cwd: Path) -> str:
    result = subprocess.run(
        [*PYINFRA_COMMAND, inventory, "--limit", host_name, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=900,
        check=False,
    )
    if result.returncode != 0 or fact_failures(result.stderr) or not result.stdout.strip():
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        reason = next((line for line in lines if "rror" in line or "Could not" in line), lines[-1] if lines else "")
        raise HostUnchecked(f"pyinfra {' '.join(args[:1])} exited {result.returncode}: {reason}")
    return result.stdout


def plan_checks(inventory: str, host_name: str, deploys: Sequence[str], cwd: Path) -> list[Check]:
    """One check per operation of ``deploys`` that would change the host (no ``-y``: pyinfra must detect)."""
    plan = json.loads(_pyinfra(inventory, host_name, ["--dry", "--json", *deploys], cwd))["plan"]
    return [
        Check(check=f"plan: {operation['name']}", expected="no change", found="would change")
        for operation in plan
        if host_name in operation.get("hosts_with_change", ())
    ]


def fact_checks(inventory: str, host_settings: HostSettings, cwd: Path) -> list[Check]:
    """The host's expected state (the deploy's verification checks), its facts read in one pyinfra run."""
    expected = ExpectedState(host_settings, HEALTH_WAIT_SECONDS)
    requests = expected.requests()
    words = [word for request in requests for word in request.cli_words()]
    printed = json.loads(_pyinfra(inventory, host_settings.host_name, ["fact", *words, "--json"], cwd))
    if len(printed) != len(requests):
        raise HostUnchecked(f"pyinfra printed {len(printed)} facts for {len(requests)} requested")
    values = [by_host.get(host_settings.host_name) for by_host in printed.values()]
    return expected.checks(dict(zip(requests, values, strict=True)))


def check_host(inventory: str, host_settings: HostSettings, deploys: Sequence[str], cwd: Path) -> HostResult:
    try:
        checks = plan_checks(inventory, host_settings.host_name, deploys, cwd) if deploys else []
        checks += fact_checks(inventory, host_settings, cwd)
    except (HostUnchecked, subprocess.TimeoutExpired, ValueError) as error:
        return HostResult(host_settings.host_name, error=str(error))
    return HostResult(host_settings.host_name, tuple(checks))
