"""The gateway as a systemd system service: its hardened unit, rendered from templates/systemd/."""

from __future__ import annotations

import posixpath
from collections.abc import Generator
from io import StringIO

from pyinfra.api.command import PyinfraCommand, StringCommand
from pyinfra.api.exceptions import OperationValueError
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.operations import files

from openclaw_infra.gateway_paths import GatewayPaths
from openclaw_infra.operations.file_ownership import file_is_current
from openclaw_infra.rendering import render
from openclaw_infra.settings import Gateway, Settings

DOCKER_SOCKET = "/run/docker.sock"


def unit_content(settings: Settings, gateway: Gateway, paths: GatewayPaths) -> str:
    """The unit file of ``gateway``: its user, state dir, secrets file, port, and the hardening of the template."""
    return render(
        "systemd/openclaw-gateway.service.j2",
        description=f"OpenClaw Gateway ({gateway.profile})" if gateway.profile else "OpenClaw Gateway",
        user=paths.user,
        group=paths.user,
        home=paths.home,
        state_dir=paths.state_dir,
        logs_dir=paths.logs_dir,
        node_bin=posixpath.join(paths.node_bin_dir, "node"),
        openclaw_entry=paths.openclaw_entry,
        port=gateway.port,
        profile=gateway.profile,
        service_name=gateway.service_name,
        secrets_env_file=paths.secrets,
        docker_sandbox=settings.docker_sandbox,
        docker_socket=DOCKER_SOCKET,
        extra_rw_paths=[],
    )


@operation()
def systemd_unit(path: str, content: str) -> Generator[PyinfraCommand, None, None]:
    """
    Install a system unit file (root:root 644) and reload systemd when, and only when, it changed.

    Restarting the service is the caller's: it also depends on config, secrets and binaries (``_if=any_changed``).

    + path: ``/etc/systemd/system/<name>.service``
    + content: the whole unit, e.g. from ``unit_content``
    """
    if not (posixpath.isabs(path) and path.endswith(".service")):
        raise OperationValueError(f"{path!r} is not the absolute path of a .service unit")
    if file_is_current(path, content, "root", "root", 644):
        host.noop(f"{path} is up to date")
        return
    upload = list(files.put._inner(src=StringIO(content), dest=path, user="root", group="root", mode="644"))
    yield from upload
    if upload:
        yield StringCommand("systemctl", "daemon-reload")
