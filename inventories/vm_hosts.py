"""Your VM hosts: the machines that run a hypervisor (libvirt, Multipass, UTM) and the VMs each keeps.

    pyinfra inventories/vm_hosts.py deploys/vm_host.py     # create, start, stop the declared VMs
    pyinfra inventories/vms.py deploys/linux_vm.py         # then the gateway inside each running VM

The VM hosts are not written here but in a TOML file you keep beside your SSH keys: ``$OPENCLAW_VM_HOSTS_FILE``,
or ``inventories/vm_hosts.toml`` (ignored by git). ``inventories/vm_hosts.example.toml`` shows its shape:

    [all]                              # data every VM host gets (pyinfra's group data)
    ssh_user = "admin"

    [hosts."hyper1.example.net"]       # one table per VM host: pyinfra connection data (or the name "@local")
    _sudo = true
    openclaw_vm_host = { hypervisor = "libvirt", vms = [{ name = "openclaw-a", ... }] }

Every VM host's ``openclaw_vm_host`` and every VM's gateway settings are validated (and the VMs' secret sources
read) while this file loads, before pyinfra connects to any host; an error names the VM host, the key and the fix.
``inventories/vms.py`` reads the same file.
"""

from pathlib import Path

from openclaw_infra.inventory import checked_vm_hosts, vm_hosts_file

vm_hosts = checked_vm_hosts(*vm_hosts_file(Path(__file__).parent))
