"""Docker for per-agent sandboxes: Debian's engine and the two networks the guide names."""

from __future__ import annotations

from collections.abc import Generator

from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import OperationError
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.facts.deb import DebPackages
from pyinfra.facts.systemd import SystemdEnabled, SystemdStatus
from pyinfra.operations import apt, systemd

from openclaw_infra.facts.batch import read_facts
from openclaw_infra.facts.docker_networks import DockerNetworks
from openclaw_infra.quoting import quoted

PACKAGE = "docker.io"
SERVICE = "docker.service"


@operation()
def docker_engine() -> Generator[StringCommand, None, None]:
    """Debian's ``docker.io``, enabled and running."""
    # One command tells whether there is anything to do; apt.packages and systemd.service read these again
    # (three commands) only when there is. The package list the base packages read is taken as it is, unless an
    # operation has changed the host since.
    packages, running, enabled = read_facts(
        (DebPackages, {}),
        (SystemdStatus, {"services": [SERVICE]}),
        (SystemdEnabled, {"services": [SERVICE]}),
        reuse=True,
    )
    if PACKAGE in packages and running.get(SERVICE) and enabled.get(SERVICE):
        host.noop(f"{PACKAGE} is installed, {SERVICE} running and enabled")
        return
    yield from apt.packages._inner(packages=[PACKAGE], update=False)
    yield from systemd.service._inner(service=SERVICE, running=True, enabled=True)


@operation()
def docker_networks(internal: list[str], external: list[str]) -> Generator[StringCommand, None, None]:
    """
    Bridge networks by name: ``internal`` ones have no route out (``--internal``), ``external`` ones do.

    A network that exists with the other kind is an error, not recreated: containers may be attached to it.

    + internal: e.g. ``["openclaw-sandbox"]``, where sandboxed agents run with no internet access
    + external: e.g. ``["openclaw-egress"]``, joined by the gateway for its own outbound traffic
    """
    present = host.get_fact(DockerNetworks)
    wanted = {name: True for name in internal} | {name: False for name in external}
    for name, is_internal in wanted.items():
        network = present.get(name)
        if network is None:
            flags = ["--internal"] if is_internal else []
            yield StringCommand("docker", "network", "create", "--driver", "bridge", *flags, quoted(name))
        elif network.internal != is_internal:
            raise OperationError(
                f"docker network {name} exists but is {'not ' if is_internal else ''}internal; remove it "
                f"(`docker network rm {name}`) and deploy again"
            )
    if all(name in present for name in wanted):
        host.noop(f"docker networks {', '.join(wanted)} exist")
