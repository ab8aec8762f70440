"""Docker isolation on a Linux host: a dedicated user, OpenClaw as a hardened systemd service, Docker sandboxes.

    pyinfra inventories/hosts.py deploys/docker_isolation.py

(The macOS variant, with a LaunchDaemon, is a separate deploy.)
"""

from openclaw_infra.deploy_context import executed_by_pyinfra
from openclaw_infra.deploys.linux_gateway import linux_gateway

if executed_by_pyinfra(globals()):
    linux_gateway()
