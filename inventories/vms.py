"""The running VMs of your VM hosts, one pyinfra host each: the inventory of the gateways inside them.

    pyinfra inventories/vms.py deploys/linux_vm.py
    openclaw-infra drift inventories/vms.py deploys/linux_vm.py

Reads the VM hosts file of ``inventories/vm_hosts.py`` (``$OPENCLAW_VM_HOSTS_FILE`` or
``inventories/vm_hosts.toml``), validates it before any connection, then asks every VM host at once which of its
VMs run and at which address (``openclaw_infra.vm_discovery``). Each running declared VM is a host named after the
VM, in a group named after its VM host, logged into as the VM's ``admin_user`` with sudo, with the VM's gateway
settings as its data; it is reached through its VM host (an SSH jump) unless the VM host is ``@local`` or sets
``jump = false``. A declared VM that is stopped, missing, without an address, or on a VM host that cannot be
asked is one line on stderr naming it and the fix; the drift command reports it as well.
"""

from pathlib import Path

from openclaw_infra.inventory import vm_hosts_file
from openclaw_infra.vm_discovery import vm_groups

# One group per VM host, named after it (a name need not be a Python identifier to be a group).
globals().update(vm_groups(*vm_hosts_file(Path(__file__).parent)))
