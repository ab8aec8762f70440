"""The inside of a Linux VM: OpenClaw as a hardened systemd service, Docker sandboxing inside the VM.

pyinfra inventories/vms.py deploys/linux_vm.py
"""

from openclaw_infra.deploy_context import executed_by_pyinfra
from openclaw_infra.deploys.linux_gateway import linux_gateway

if executed_by_pyinfra(globals()):
    linux_gateway()
