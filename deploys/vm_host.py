"""The VM host: the hypervisor's tools where asked, and the Linux VMs of ``openclaw_vm_host`` made, started,
stopped or removed as declared; then each running VM's address.

    pyinfra inventories/vm_hosts.py deploys/vm_host.py

Every VM host's settings (and its VMs' gateway settings) are validated before any host is touched. Then
``pyinfra inventories/vms.py deploys/linux_vm.py`` deploys the gateway inside the VMs.
"""

from openclaw_infra.deploy_context import executed_by_pyinfra
from openclaw_infra.deploys.vm_host_deploy import vm_host

__all__ = ["vm_host"]

if executed_by_pyinfra(globals()):
    vm_host()
