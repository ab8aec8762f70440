"""The ports a gateway owns (its own, the browser's, the CDP range) are reachable from loopback only, but for a
gateway's own port where its bind (``lan``, ``tailnet``) makes it listen."""

from __future__ import annotations

from collections.abc import Generator

from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import OperationValueError
from pyinfra.api.operation import operation
from pyinfra.context import host

from openclaw_infra.facts.ports import ListeningPorts
from openclaw_infra.gateway_binds import listens_as_bound
from openclaw_infra.quoting import quoted


@operation()
def foreign_listeners_stopped(
    units: list[str], ports: list[int], binds: dict[int, str] | None = None
) -> Generator[StringCommand, None, None]:
    """
    Stop (SIGTERM) any process outside the gateways' units that listens beyond loopback on one of ``ports``: a
    stray server on the browser port answers for the gateway, from the network. A gateway's own process there
    is its config's business (the config operation puts the bind back and restarts it), so it is left alone;
    whether a process is one is decided on the host, from its cgroup, when the command runs.

    + units: the gateways' systemd units, e.g. ``["openclaw-gateway.service"]``
    + ports: every port the gateways own
    + binds: a gateway's own port -> its bind, for those bound beyond loopback (``{18789: "lan"}``): a listener
      there where that bind listens (0.0.0.0 for ``lan``) is the gateway as configured, not a stray
    """
    if not units:
        raise OperationValueError("units is empty: name the gateways' systemd units")
    wanted = set(ports)
    bound = {int(port): bind for port, bind in (binds or {}).items()}
    sockets = host.get_fact(ListeningPorts)
    pids = sorted(
        {
            socket.pid
            for socket in sockets
            if socket.port in wanted
            and not socket.loopback
            and socket.pid
            and not listens_as_bound(socket.address, bound.get(socket.port, "loopback"))
        }
    )
    if not pids:
        host.noop("nothing but the gateways as bound listens beyond loopback on their ports")
        return
    in_a_gateway = ["grep", "-qsF", *(word for unit in units for word in ("-e", quoted(f"/{unit}")))]
    for pid in pids:
        yield StringCommand("if !", *in_a_gateway, f"/proc/{int(pid)}/cgroup;", "then kill", str(int(pid)), "; fi")
