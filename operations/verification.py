"""The deploy's last step: prove the gateway runs as intended, or fail the deploy with the evidence."""

from __future__ import annotations

from collections.abc import Generator, Mapping

from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import OperationError
from pyinfra.api.operation import operation
from pyinfra.context import host, state
from pyinfra.facts.files import Directory, File
from pyinfra.facts.systemd import SystemdStatus

from openclaw_infra.facts.gateway_health import GatewayHealthCheck
from openclaw_infra.facts.ports import ListeningPorts, ListeningSocket, listeners_on

# path -> (user, group, mode) as pyinfra's File/Directory facts report them (mode as octal digits).
ExpectedModes = Mapping[str, tuple[str, str, int]]


@operation(is_idempotent=True)
def gateway_verified(
    service: str, port: int, expected_modes: ExpectedModes, health_wait_seconds: int = 90
) -> Generator[StringCommand, None, None]:
    """
    Fail unless: the systemd service is active, ``/health`` on loopback answers ``{"ok": true}`` within
    ``health_wait_seconds``, the port is listened on by loopback addresses only, and every path in
    ``expected_modes`` has its owner and mode. Changes nothing.

    Checks run while the deploy executes (after restarts), never while it is planned: a dry run or a fresh host
    has nothing to verify yet.

    + service: systemd unit name without ``.service``
    + port: the gateway port
    + expected_modes: path -> (user, group, mode), e.g. ``{"/etc/openclaw/secrets.env": ("root", "root", 600)}``
    + health_wait_seconds: how long the gateway may take to answer after a (re)start
    """
    if not state.is_executing:
        host.noop(f"{service} is verified when the deploy runs")
        return
    problems = []
    running = host.get_fact(SystemdStatus, services=[f"{service}.service"]).get(f"{service}.service")
    if not running:
        problems.append(f"service {service} is not active")
    health = host.get_fact(GatewayHealthCheck, port=port, wait_seconds=health_wait_seconds)
    if not health.healthy:
        problems.append(
            f"/health on 127.0.0.1:{port} did not answer ok after {health.waited_seconds}s: {health.answer}"
        )
    sockets: list[ListeningSocket] = host.get_fact(ListeningPorts)
    listeners = listeners_on(sockets, port)
    if not listeners:
        problems.append(f"nothing listens on port {port}")
    exposed = [f"{socket.raw_address}:{socket.port} ({socket.process})" for socket in listeners if not socket.loopback]
    if exposed:
        problems.append(f"port {port} is reachable beyond loopback: {', '.join(exposed)}")
    for path, (user, group, mode) in expected_modes.items():
        found = host.get_fact(File, path=path) or host.get_fact(Directory, path=path)
        if not found:
            problems.append(f"{path} is missing")
        elif (found["user"], found["group"], found["mode"]) != (user, group, mode):
            problems.append(
                f"{path} is {found['user']}:{found['group']} {found['mode']}, expected {user}:{group} {mode}"
            )
    if problems:
        raise OperationError(f"{service} failed verification: " + "; ".join(problems))
    host.noop(f"{service} verified: active, healthy after {health.waited_seconds}s, loopback only, modes as set")
    yield from ()
