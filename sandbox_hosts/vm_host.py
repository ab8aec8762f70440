"""VM hosts for tests: sandbox hosts that run libvirtd and qemu inside, with the guest image at a fixed path.

A VM host is an ordinary sandbox host (systemd-nspawn, systemd as PID 1, its own network namespace) that also sees
the cached guest image (``guest_image``) read-only at ``IMAGE_DIR``, world-readable so ``libvirt-qemu`` opens it.
libvirtd and qemu need nothing more from nspawn (tried): hosts already run with every capability and the
``@mount`` system calls, nspawn gives every container ``/dev/net/tun`` (the VMs' tap devices), and without
``/dev/kvm`` (not passed in; unusable on these machines anyway) libvirt offers domain type ``qemu`` only, i.e.
software emulation. libvirt sets its cgroups up by itself under the host's systemd; tearing the host down kills
its VMs with it.

libvirt is not in the image: the VM host deploy installs it (``install_tools``), or ``install_libvirt`` here. All
its state (``/etc/libvirt``, ``/var/lib/libvirt``, the VMs' disks and seeds) lives in the host's overlay and goes
with the host. The VMs' network (``default``: virbr0, 192.168.122.0/24, NAT out through the host) lives in the
host's network namespace, so a guest is reached only through its VM host: ``jump_ssh_args``.

    host = up_vm_host("hv1")           # boots in seconds once the guest image is cached (first build ~2 min)
    install_libvirt(host)              # Debian's packages from the mirror, network "default" started
    ... virsh define / start ...       # disks: qcow2 overlays on f"{IMAGE_DIR}/guest.raw"
    address = domain_address(host, "vm1")
    subprocess.run([*jump_ssh_args(host, address, key, known_hosts), "sudo", "-n", "true"])
"""

from __future__ import annotations

import json
import re
import shlex
import time
from pathlib import Path
from typing import Any

from sandbox_hosts import guest_image, hosts
from sandbox_hosts.hosts import Login, SandboxError, SandboxHost

IMAGE_DIR = guest_image.IMAGE_DIR_IN_HOST
# What the VM host deploy's install_tools installs on Debian, plus genisoimage for NoCloud seeds.
LIBVIRT_PACKAGES = ("libvirt-daemon-system", "qemu-system-x86", "qemu-utils", "dnsmasq-base", "genisoimage")
LIBVIRT_NETWORK = "default"
# In the VM host, for guests started by hand: overlay disks, seeds, console logs (libvirt-qemu traverses it: 0755).
WORK_DIR = "/var/lib/openclaw-test/vms"
INSTALL_TIMEOUT_SECONDS = 900
# Under emulation a guest takes its DHCP lease ~35 s after start; ~200 s was seen on a machine busy with other tests.
ADDRESS_TIMEOUT_SECONDS = 600

_IPV4 = re.compile(r"\sipv4\s+(\d+\.\d+\.\d+\.\d+)/\d+")


def up_vm_host(name: str, owner_pid: int = 0, login: Login = "root") -> SandboxHost:
    """Boot a VM host named ``name`` (a sandbox host name: 1-10 characters; ``owner_pid`` and ``login`` as for
    ``hosts.up``) that sees the guest image at ``IMAGE_DIR``; the image is checked first (~5 s, once per process)
    and built when missing or damaged (~2 min)."""
    image = guest_image.ensure_guest_image()
    return hosts.up(name, owner_pid, login, read_only_binds=[(image.directory, IMAGE_DIR)])


def install_libvirt(host: SandboxHost, start_network: bool = True) -> None:
    """Install ``LIBVIRT_PACKAGES`` from Debian's mirror and check libvirtd answers; with ``start_network``,
    also start network ``default`` and mark it autostarted (Debian's packages define it but leave it off)."""
    packages = " ".join(LIBVIRT_PACKAGES)
    host.run(
        f"apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends {packages}",
        timeout=INSTALL_TIMEOUT_SECONDS,
    )
    host.run("systemctl is-active libvirtd && virsh -c qemu:///system version", timeout=60)
    if start_network:
        network = shlex.quote(LIBVIRT_NETWORK)
        host.run(
            f"virsh net-info {network} | grep -q '^Active:.*yes' || virsh net-start {network}; "
            f"virsh net-autostart {network}",
            timeout=60,
        )


def domain_address(host: SandboxHost, domain: str, timeout: float = ADDRESS_TIMEOUT_SECONDS) -> str:
    """The IPv4 address ``virsh domifaddr`` gives for ``domain`` (its DHCP lease), waiting for it to appear."""
    deadline = time.monotonic() + timeout
    while True:
        listing = host.run(f"virsh domifaddr {shlex.quote(domain)}", check=False, timeout=30).stdout
        found = _IPV4.search(listing)
        if found:
            return found.group(1)
        if time.monotonic() > deadline:
            raise SandboxError(f"{host.name}: domain {domain!r} has no address after {timeout:.0f}s:\n{listing}")
        time.sleep(2)


def jump_ssh_args(host: SandboxHost, address: str, key: Path, known_hosts: Path, user: str = "admin") -> list[str]:
    """``ssh`` arguments (append a command) for ``user@address`` inside ``host``'s VM network, jumping through
    ``host`` as its harness login: the guest is not routable from the machine."""
    *jump_options, jump_target = host.ssh_args()
    proxy = shlex.join([*jump_options, "-W", "%h:%p", jump_target])
    return [
        "ssh",
        "-i",
        str(key),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=accept-new",
        "-o",
        f"UserKnownHostsFile={known_hosts}",
        "-o",
        "LogLevel=ERROR",
        "-o",
        "ConnectTimeout=20",
        "-o",
        f"ProxyCommand={proxy}",
        f"{user}@{address}",
    ]


# A minimal domain and seed, written by hand as a person would (no project code): the harness's own check of the
# image, and the floor the VM flow benchmark measures the VM host deploy against.
BY_HAND_DOMAIN_XML = """\
<domain type='qemu'>
  <name>{domain}</name>
  <memory unit='MiB'>1024</memory>
  <vcpu>2</vcpu>
  <cpu mode='custom' match='exact'><model fallback='forbid'>qemu64</model></cpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{image.kernel}</kernel>
    <initrd>{image.initrd}</initrd>
    <cmdline>{image.cmdline}</cmdline>
  </os>
  <features><acpi/></features>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='{work}/{domain}.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source file='{work}/{domain}-seed.iso'/>
      <target dev='hdc' bus='ide'/>
      <readonly/>
    </disk>
    <interface type='network'>
      <source network='default'/>
      <model type='virtio'/>
    </interface>
    <serial type='file'>
      <source path='{work}/{domain}-console.log'/>
      <target port='0'/>
    </serial>
  </devices>
</domain>
"""

BY_HAND_USER_DATA = """\
#cloud-config
users:
  - name: admin
    shell: /bin/bash
    sudo: "ALL=(ALL) NOPASSWD:ALL"
    lock_passwd: true
    ssh_authorized_keys:
      - {public_key}
"""


def start_guest_by_hand(host: SandboxHost, image: guest_image.GuestImage, domain: str, public_key: str) -> None:
    """Define and start ``domain`` on ``host`` from ``image`` with a NoCloud seed making user ``admin`` with
    ``public_key``: a qcow2 overlay, genisoimage, ``virsh define`` and ``start``, by hand in ``WORK_DIR``."""
    work = host.root / WORK_DIR.lstrip("/")
    work.mkdir(mode=0o755, parents=True, exist_ok=True)
    (work / "user-data").write_text(BY_HAND_USER_DATA.format(public_key=public_key))
    (work / "meta-data").write_text(f"instance-id: {domain}-1\nlocal-hostname: {domain}\n")
    (work / f"{domain}.xml").write_text(BY_HAND_DOMAIN_XML.format(domain=domain, image=image, work=WORK_DIR))
    overlay_gib = -(-image.size_bytes // (1 << 30)) + 2
    host.run(
        f"cd {WORK_DIR} && genisoimage -quiet -output {domain}-seed.iso -volid cidata -joliet -rock user-data meta-data"
        f" && qemu-img create -q -f qcow2 -b {image.raw} -F raw {domain}.qcow2 {overlay_gib}G"
        f" && virsh define {domain}.xml && virsh start {domain}"
    )


def toml_value(value: Any) -> str:
    """``value`` as an inline TOML value (a JSON string is a valid TOML basic string)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return "{ " + ", ".join(f"{json.dumps(key)} = {toml_value(item)}" for key, item in value.items()) + " }"


def toml_table(header: str, data: dict[str, Any]) -> list[str]:
    """The lines of a TOML table ``[header]`` holding ``data``, each value inline."""
    return [f"[{header}]", *(f"{json.dumps(key)} = {toml_value(value)}" for key, value in data.items())]


def vm_host_data(
    host: SandboxHost, image: guest_image.GuestImage, vm: str, public_key: str, token_file: Path, state: str
) -> dict[str, Any]:
    """A VM hosts file's table for ``host`` as an operator writes it: libvirt installed by the deploy, software
    emulation, one VM booting ``image`` with its own token file and no Docker sandbox (minutes of CPU under
    emulation; the sandbox is proven on sandbox hosts)."""
    return {
        **host.pyinfra_data(),
        "openclaw_vm_host": {
            "hypervisor": "libvirt",
            "install_tools": True,
            "libvirt_domain_type": "qemu",
            "shutdown_wait_seconds": 180,
            "address_wait_seconds": ADDRESS_TIMEOUT_SECONDS,
            "vms": [
                {
                    "name": vm,
                    "cpus": 2,
                    "memory_mib": 1536,
                    "disk_gib": max(4, -(-image.size_bytes // 1024**3)),
                    "base_image": image.raw,
                    "boot": image.boot(),
                    # The VMs are logged into with the VM host's key: the inventory passes its ssh_key on.
                    "ssh_public_key": public_key,
                    "state": state,
                    "gateway": {
                        "openclaw_secrets": {"OPENCLAW_GATEWAY_TOKEN": {"file": str(token_file)}},
                        "openclaw_docker_sandbox": False,
                    },
                }
            ],
        },
    }


def write_vm_hosts_file(
    path: Path,
    host: SandboxHost,
    image: guest_image.GuestImage,
    vm: str,
    public_key: str,
    token_file: Path,
    state: str = "running",
) -> Path:
    """``path`` written as a VM hosts file (``inventories/vm_hosts.toml``'s shape) declaring ``host`` and its VM."""
    data = vm_host_data(host, image, vm, public_key, token_file, state)
    lines = [
        f"[hosts.{json.dumps(host.name)}]",
        *(f"{json.dumps(key)} = {toml_value(value)}" for key, value in data.items()),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path
