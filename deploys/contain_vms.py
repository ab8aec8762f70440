"""Contain the gateways of VMs from their VM host in an emergency: every declared VM shut down and kept from
starting at boot; disks untouched. libvirt VM hosts.

    pyinfra inventories/vm_hosts.py deploys/contain_vms.py

The VM host deploy (deploys/vm_host.py) starts them again.
"""

from openclaw_infra.deploy_context import executed_by_pyinfra
from openclaw_infra.deploys.vm_host_deploy import vms_contained

if executed_by_pyinfra(globals()):
    vms_contained()
