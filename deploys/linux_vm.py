"""The inside of a Linux VM: OpenClaw as a hardened systemd service, Docker sandboxing inside the VM.

    pyinfra inventories/vms.py deploys/linux_vm.py

For hosts with openclaw_isolation "linux-vm" (openclaw_os_family "linux"); any other host is refused before
anything runs.
"""

from openclaw_infra.deploy_context import executed_by_pyinfra, require_deploy
from openclaw_infra.deploys.linux_gateway import linux_gateway

if executed_by_pyinfra(globals()):
    require_deploy("deploys/linux_vm.py")
    linux_gateway()
