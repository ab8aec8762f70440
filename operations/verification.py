"""The deploy's last step: prove the host is as deployed, or fail the deploy with the gateway's own evidence."""

from __future__ import annotations

from collections.abc import Generator

from pyinfra.api.command import StringCommand
from pyinfra.api.operation import operation
from pyinfra.context import host, state

from openclaw_infra.expected_state import Check, ExpectedState, as_printed
from openclaw_infra.gateway_paths import GatewayPaths
from openclaw_infra.host_settings import HostSettings
from openclaw_infra.quoting import quoted

EVIDENCE_LINES = 20


def _evidence(paths: GatewayPaths) -> list[object]:
    """Shell words printing what the gateway itself says: its unit's state, journal and error log tails."""
    return [
        "echo", quoted(f"--- {paths.unit_name}:"), ";",
        "systemctl", "status", "--no-pager", "--lines=0", quoted(paths.unit_name), ";",
        "journalctl", "--no-pager", "-o", "cat", "-n", str(EVIDENCE_LINES), "-u", quoted(paths.unit_name), ";",
        "echo", quoted(f"--- last lines of {paths.error_log}:"), ";",
        "tail", "-n", str(EVIDENCE_LINES), quoted(paths.error_log), ";",
    ]  # fmt: skip


def failure_report(failing: list[Check], evidence: list[object]) -> StringCommand:
    """A command that prints why verification failed, then the evidence, to stderr, and fails: the user's last
    lines are the reason and the gateway's own words, not a traceback."""
    reasons = [f"{check.check}: expected {check.expected}, found {check.found}" for check in failing]
    return StringCommand(
        "{", *evidence,
        "echo", quoted("verification failed: " + "; ".join(reasons)), ";",
        "}", ">&2", ";", "exit", "1",
    )  # fmt: skip


@operation(is_idempotent=True)
def host_verified(host_settings: HostSettings, health_wait_seconds: int = 90) -> Generator[StringCommand, None, None]:
    """
    Fail unless the host passes every check of its expected state (``openclaw_infra.expected_state``, the same
    checks the drift command runs): each gateway's service active and ``/health`` answering ``{"ok": true}``
    within ``health_wait_seconds``, its port listened on by loopback only, modes of state dir, config and
    secrets as set, the secrets' checksum, the pinned Node and OpenClaw, the firewall. Changes nothing.

    Checks run while the deploy executes (after restarts), never while it is planned: a dry run or a fresh host
    has nothing to verify yet. On failure the gateway's unit state, journal and error log end the output.

    + host_settings: the host's validated settings and secrets
    + health_wait_seconds: how long a gateway may take to answer after a (re)start
    """
    if not state.is_executing:
        host.noop("the gateways are verified when the deploy runs")
        return
    expected = ExpectedState(host_settings, health_wait_seconds)
    values = {}
    for request in expected.requests():
        fact_class, kwargs = request.resolve()
        values[request] = as_printed(host.get_fact(fact_class, **kwargs))
    failing = [check for check in expected.checks(values) if not check.ok]
    settings = host_settings.settings
    if failing:
        evidence = [word for gateway in settings.gateways for word in _evidence(GatewayPaths(settings, gateway))]
        yield failure_report(failing, evidence)
        return
    services = ", ".join(gateway.service_name for gateway in settings.gateways)
    host.noop(f"verified: {services} active, healthy, loopback only; files, versions and firewall as deployed")
