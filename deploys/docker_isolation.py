"""Docker isolation on a Linux host: a dedicated user, OpenClaw as a hardened systemd service, Docker sandboxes.

    pyinfra inventories/hosts.py deploys/docker_isolation.py

For hosts with openclaw_isolation "docker-isolation" and openclaw_os_family "linux"; any other host is refused
before anything runs. (A Mac host is deploys/macos_host.py.)
"""

from openclaw_infra.deploy_context import executed_by_pyinfra, require_deploy
from openclaw_infra.deploys.linux_gateway import linux_gateway

if executed_by_pyinfra(globals()):
    require_deploy("deploys/docker_isolation.py")
    linux_gateway()
