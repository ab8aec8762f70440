"""OpenClaw on a Mac: a dedicated standard user, the gateway as a LaunchDaemon (or a LaunchAgent), Docker sandboxes.

    pyinfra inventories/hosts.py deploys/macos_host.py
    pyinfra inventories/vms.py deploys/macos_host.py      # inside macOS VMs: one gateway per VM

For hosts with openclaw_os_family "macos" and openclaw_isolation "docker-isolation" (a Mac host) or "macos-vm"
(the inside of a macOS VM); any other host is refused before anything runs.
"""

from openclaw_infra.deploy_context import executed_by_pyinfra, require_deploy
from openclaw_infra.deploys.macos_gateway import macos_gateway

if executed_by_pyinfra(globals()):
    require_deploy("deploys/macos_host.py")
    macos_gateway()
