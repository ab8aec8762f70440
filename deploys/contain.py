"""Contain the gateways of a host in an emergency: stopped, not started at boot, their ports closed in the
firewall, and that verified. State, config and secrets are left as they are.

    pyinfra inventories/hosts.py deploys/contain.py

Running the host's gateway deploy again (deploys/docker_isolation.py, deploys/linux_vm.py) brings them back.
For VMs, deploys/contain_vms.py stops them from their VM host.
"""

from openclaw_infra.deploy_context import executed_by_pyinfra
from openclaw_infra.deploys.incident_response import gateway_contained

if executed_by_pyinfra(globals()):
    gateway_contained()
