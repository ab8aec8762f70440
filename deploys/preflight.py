"""Prove the connection and the settings: validates every host's settings, then checks each host, changing nothing.

pyinfra inventories/sandbox.py deploys/preflight.py
"""

from pyinfra.api.deploy import deploy

from openclaw_infra.deploy_context import current_settings, executed_by_pyinfra
from openclaw_infra.operations import preflight


@deploy("OpenClaw preflight")
def check_hosts() -> None:
    preflight.host_ready(name="Check the host can carry the OpenClaw settings", settings=current_settings().settings)


if executed_by_pyinfra(globals()):
    check_hosts()
