"""The deploy's last step: prove the host is as deployed, or fail the deploy with the gateway's own evidence."""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from typing import Any, Protocol

from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactBase
from pyinfra.api.operation import operation
from pyinfra.context import host, state
from pyinfra.facts.systemd import SystemdEnabled, SystemdStatus

from openclaw_infra.container_expected_state import ContainerExpectedState
from openclaw_infra.expected_state import Check, ExpectedState, FactRequest, as_printed
from openclaw_infra.facts.batch import read_facts
from openclaw_infra.facts.gateway_health import MAX_WAIT_SECONDS, GatewayHealthCheck
from openclaw_infra.facts.ports import ListeningPorts
from openclaw_infra.gateway_paths import GatewayPaths
from openclaw_infra.host_settings import HostSettings
from openclaw_infra.macos_expected_state import MacExpectedState
from openclaw_infra.quoting import quoted
from openclaw_infra.vm_host_expected_state import VmHostExpectedState
from openclaw_infra.vm_host_settings import VmHostSettings

EVIDENCE_LINES = 20
# The name of the step that ends every gateway deploy (and a restore).
VERIFY_OPERATION = "Verify the gateways and the host against their expected state"


def gateway_evidence(paths: GatewayPaths) -> list[object]:
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


def _following_the_gateway(
    request: FactRequest, units: Mapping[int, str], max_wait_seconds: int
) -> tuple[type[FactBase[Any]], dict[str, Any]]:
    """A request as the deploy reads it: a health check follows its gateway's unit while it starts (the drift
    checks read the same request as a short, fixed wait)."""
    fact_class, kwargs = request.resolve()
    if fact_class is GatewayHealthCheck:
        kwargs = {**kwargs, "service": units[kwargs["port"]], "max_wait_seconds": max_wait_seconds}
    return fact_class, kwargs


class _Expected(Protocol):
    def requests(self) -> list[FactRequest]: ...

    def checks(self, values: Mapping[FactRequest, Any]) -> list[Check]: ...


def _failing_checks(
    expected: _Expected, as_read: Callable[[FactRequest], tuple[type[FactBase[Any]], dict[str, Any]]]
) -> list[Check]:
    """The checks of ``expected`` that fail, its facts read in one command (``as_read``: how each request is
    read). What the operations of this run read, while none has changed the host since, is not read again."""
    requests = expected.requests()
    found = read_facts(*(as_read(request) for request in requests), reuse=True)
    values = {request: as_printed(value) for request, value in zip(requests, found, strict=True)}
    return [check for check in expected.checks(values) if not check.ok]


@operation(is_idempotent=True)
def host_verified(
    host_settings: HostSettings,
    health_wait_seconds: int = 60,
    health_max_wait_seconds: int = MAX_WAIT_SECONDS,
) -> Generator[StringCommand, None, None]:
    """
    Fail unless the host passes every check of its expected state (``openclaw_infra.expected_state``, the same
    checks the drift command runs): each gateway's service active and ``/health`` answering ``{"ok": true}``,
    its port listened on by loopback only, modes of state dir, config and secrets as set, the secrets'
    checksum, the pinned Node and OpenClaw, the firewall. Changes nothing. Every fact is read in one command,
    but for those the run's operations read while none has changed the host since (``read_facts(reuse=True)``).

    The health wait follows each gateway (``GatewayHealthCheck`` with its unit): it ends as soon as the unit
    failed or restarted, and lasts beyond ``health_wait_seconds`` while the gateway is still starting (active,
    not yet listening, its CPU time growing), up to ``health_max_wait_seconds``: a cold start takes ~10 s of CPU,
    and ten at once on two cores took ~3 min.

    Checks run while the deploy executes (after restarts), never while it is planned: a dry run or a fresh host
    has nothing to verify yet. On failure the gateway's unit state, journal and error log end the output.

    + host_settings: the host's validated settings and secrets
    + health_wait_seconds: how long a gateway that is not visibly starting may take to answer
    + health_max_wait_seconds: the longest a starting gateway is waited for
    """
    if not state.is_executing:
        host.noop("the gateways are verified when the deploy runs")
        return
    settings = host_settings.settings
    expected = ExpectedState(host_settings, health_wait_seconds)
    units = {gateway.port: GatewayPaths(settings, gateway).unit_name for gateway in settings.gateways}
    failing = _failing_checks(expected, lambda request: _following_the_gateway(request, units, health_max_wait_seconds))
    if failing:
        evidence = [word for gateway in settings.gateways for word in gateway_evidence(GatewayPaths(settings, gateway))]
        yield failure_report(failing, evidence)
        return
    services = ", ".join(gateway.service_name for gateway in settings.gateways)
    host.noop(f"verified: {services} active, healthy, loopback only; files, versions and firewall as deployed")


@operation(is_idempotent=True)
def vm_host_verified(vm_host_settings: VmHostSettings) -> Generator[StringCommand, None, None]:
    """
    Fail unless every declared VM is as declared (``openclaw_infra.vm_host_expected_state``, the same checks the
    drift command runs on a VM host): running with an address, stopped, or absent. Changes nothing; checked while
    the deploy executes, never while it is planned.

    + vm_host_settings: the VM host's validated settings
    """
    if not state.is_executing:
        host.noop("the VMs are verified when the deploy runs")
        return
    expected = VmHostExpectedState(vm_host_settings.host_name, vm_host_settings.vm_host)
    requests = expected.requests()
    found = read_facts(*(request.resolve() for request in requests))
    values = {request: as_printed(value) for request, value in zip(requests, found, strict=True)}
    failing = [check for check in expected.checks(values) if not check.ok]
    if failing:
        yield failure_report(failing, [])
        return
    host.noop(f"verified: {len(vm_host_settings.vm_host.vms)} VMs as declared")


def _mac_evidence(paths: GatewayPaths) -> list[object]:
    """Shell words printing what launchd and the gateway say: the job's state and the error log's tail."""
    user = paths.launch_agent_user
    domain = StringCommand('gui/"$(id -u --', quoted(user), ')"') if user else "system"
    return [
        "echo", quoted(f"--- {paths.launchd_label}:"), ";",
        "launchctl", "print", StringCommand(domain, "/", quoted(paths.launchd_label), _separator=""),
        "2>&1", "|", "head", "-n", str(EVIDENCE_LINES), ";",
        "echo", quoted(f"--- last lines of {paths.error_log}:"), ";",
        "tail", "-n", str(EVIDENCE_LINES), quoted(paths.error_log), ";",
    ]  # fmt: skip


@operation(is_idempotent=True)
def mac_host_verified(
    host_settings: HostSettings, health_wait_seconds: int = 120
) -> Generator[StringCommand, None, None]:
    """
    Fail unless the Mac passes every check of its expected state (``openclaw_infra.macos_expected_state``, the
    same checks the drift command runs): each gateway's launchd job running from its plist, ``/health``
    answering, its port listened on by loopback only (lsof), modes of homes, state dirs, configs and plists, the
    plist's checksum, the pinned releases, the application firewall, pf and the docker group. Changes nothing;
    checked while the deploy executes, never while it is planned. On failure launchd's view of each job and its
    error log end the output.

    + host_settings: the host's validated settings and secrets
    + health_wait_seconds: how long a gateway may take to answer ``/health`` (launchd gives no start progress
      to follow, unlike systemd)
    """
    if not state.is_executing:
        host.noop("the gateways are verified when the deploy runs")
        return
    settings = host_settings.settings
    failing = _failing_checks(MacExpectedState(host_settings, health_wait_seconds), FactRequest.resolve)
    if failing:
        evidence = [word for gateway in settings.gateways for word in _mac_evidence(GatewayPaths(settings, gateway))]
        yield failure_report(failing, evidence)
        return
    labels = ", ".join(GatewayPaths(settings, gateway).launchd_label for gateway in settings.gateways)
    host.noop(f"verified: {labels} running, healthy, loopback only; files, versions and firewall as deployed")


def _container_evidence(paths: GatewayPaths) -> list[object]:
    """Shell words printing what Docker and the gateway say: the container's state and its log's tail."""
    name = quoted(paths.container_name)
    return [
        "echo", quoted(f"--- container {paths.container_name}:"), ";",
        "docker", "container", "inspect", "--format",
        quoted("{{.State.Status}} exit={{.State.ExitCode}} restarts={{.RestartCount}} {{.State.Error}}"), name, ";",
        "docker", "logs", "--tail", str(EVIDENCE_LINES), name, "2>&1", ";",
    ]  # fmt: skip


@operation(is_idempotent=True)
def container_host_verified(
    host_settings: HostSettings, health_wait_seconds: int = 180
) -> Generator[StringCommand, None, None]:
    """
    Fail unless the host passes every check of its expected state (``openclaw_infra.container_expected_state``,
    the same checks the drift command runs): each gateway's container running as deployed, ``/health`` answering
    on the host's loopback, nothing beyond loopback on its ports, modes of state dir, config and secrets, the
    secrets' checksum, the pinned releases and the firewall. Changes nothing; checked while the deploy executes,
    never while it is planned. On failure Docker's view of each container and its log's tail end the output.

    + host_settings: the host's validated settings and secrets
    + health_wait_seconds: how long a gateway may take to answer ``/health`` after its container (re)started
    """
    if not state.is_executing:
        host.noop("the gateways are verified when the deploy runs")
        return
    settings = host_settings.settings
    failing = _failing_checks(ContainerExpectedState(host_settings, health_wait_seconds), FactRequest.resolve)
    if failing:
        paths = [GatewayPaths(settings, gateway) for gateway in settings.gateways]
        yield failure_report(failing, [word for each in paths for word in _container_evidence(each)])
        return
    names = ", ".join(GatewayPaths(settings, gateway).container_name for gateway in settings.gateways)
    host.noop(f"verified: containers {names} running as deployed, healthy, loopback only; files as deployed")


@operation(is_idempotent=True)
def contained_verified(units: list[str], ports: list[int]) -> Generator[StringCommand, None, None]:
    """
    Fail unless the gateways are contained: each unit of ``units`` stopped and not enabled, and nothing listening
    on any of ``ports`` (the gateways' own and derived ports), on any address. Read while the run executes.

    + units: the gateways' systemd units
    + ports: every port the gateways own
    """
    if not state.is_executing:
        host.noop("containment is verified when the run executes")
        return
    sockets, running, enabled = read_facts((ListeningPorts, {}), (SystemdStatus, {}), (SystemdEnabled, {}))
    wanted = set(ports)
    problems = [f"{unit} is running" for unit in units if running.get(unit)]
    problems += [f"{unit} is enabled at boot" for unit in units if enabled.get(unit)]
    problems += [
        f"{socket['address']}:{socket['port']} is listened on by {socket['process'] or 'an unknown process'}"
        for socket in as_printed(sockets)  # the records as JSON, as every check reads them
        if socket["port"] in wanted
    ]
    if problems:
        yield StringCommand("echo", quoted("not contained: " + "; ".join(problems)), ">&2;", "exit 1")
        return
    host.noop(f"contained: {', '.join(units)} stopped and disabled, nothing listening on the gateway ports")
