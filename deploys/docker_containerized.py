"""The guide's Docker containerized gateway on a Linux host: each gateway in its own container.

    pyinfra inventories/hosts.py deploys/docker_containerized.py

For hosts with openclaw_isolation "docker-containerized" and openclaw_os_family "linux"; any other host is refused
before anything runs.
"""

from openclaw_infra.deploy_context import executed_by_pyinfra, require_deploy
from openclaw_infra.deploys.containerized_gateway import containerized_gateway

if executed_by_pyinfra(globals()):
    require_deploy("deploys/docker_containerized.py")
    containerized_gateway()
