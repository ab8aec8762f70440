"""Linux VMs under libvirt on a VM host: the tools, the network, and per VM its disk (a qcow2 overlay on a cloud
image), its cloud-init seed, its domain, its state, and its removal.

Every VM keeps its files in ``<image_dir>/<name>/`` (``VmFiles``). The domain definition is rendered from
templates/libvirt/domain.xml.j2 with the checksum of what was rendered in its ``<metadata>``: libvirt rewrites the
rest of the XML (defaults, addresses, machine versions), never foreign metadata, so "differs" means the settings
changed. Snapshots are libvirt's internal ones, kept inside the qcow2 overlay (the seed ISO is left out); see
``snapshot``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import posixpath
from collections.abc import Generator, Mapping
from io import StringIO
from typing import Any, Literal

from pyinfra.api.command import PyinfraCommand, StringCommand
from pyinfra.api.exceptions import OperationValueError
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.facts.deb import DebPackages
from pyinfra.facts.files import Directory, File, FileContents
from pyinfra.facts.server import Which
from pyinfra.operations import apt, files, systemd

from openclaw_infra.facts.batch import read_facts
from openclaw_infra.facts.libvirt import LibvirtVms
from openclaw_infra.facts.libvirt_domain import (
    METADATA_NAMESPACE,
    LibvirtDomain,
    LibvirtNetwork,
    parsed_definition,
    shape_sha256,
)
from openclaw_infra.facts.qemu_image import QemuImage
from openclaw_infra.facts.vm_record import VmRecord, VmState, listed
from openclaw_infra.operations.refusals import refuse
from openclaw_infra.quoting import quoted
from openclaw_infra.rendering import render, render_xml
from openclaw_infra.settings import SAFE_NAME, SSH_PUBLIC_KEY, VM_NAME

# Debian's and Ubuntu's names. qemu-system-x86 also provides qemu-kvm (a separate, transitional package at most).
LIBVIRT_PACKAGES = [
    "libvirt-daemon-system", "libvirt-clients", "qemu-system-x86", "qemu-utils", "dnsmasq-base", "genisoimage",
]  # fmt: skip
# qemu:///system runs each VM's qemu as libvirt-qemu:libvirt-qemu (Debian's qemu.conf). qemu opens the disk by its
# path, so the directories above it must let that group through: root-owned, 0710, group libvirt-qemu (it can
# traverse, not list; nobody else can do either). The files themselves are root's, 0600; libvirt gives the disk and
# seed to qemu while the VM runs and back afterwards.
QEMU_GROUP = "libvirt-qemu"
DIRECTORY_MODE = 710
DISK_FORMATS = ("qcow2", "raw")
GIB = 1024**3

Change = Literal["stop", "resize", "redefine", "restart", "delete"]


@dataclasses.dataclass(frozen=True)
class VmFiles:
    """Where one VM's files live on the VM host: all in its own directory under image_dir."""

    directory: str
    disk: str
    user_data: str
    meta_data: str
    seed: str
    # The checksum of the user-data and meta-data the seed was built from, written once it is built.
    seed_checksum: str
    definition: str
    console_log: str

    @classmethod
    def of(cls, image_dir: str, vm_name: str) -> VmFiles:
        directory = posixpath.join(image_dir, vm_name)
        names = ("disk.qcow2", "user-data", "meta-data", "seed.iso", "seed.iso.sha256", "domain.xml", "console.log")
        return cls(directory, *(posixpath.join(directory, name) for name in names))


def missing_base_image(vm_name: str, base_image: str) -> str:
    return (
        f"VM {vm_name}: base image {base_image} is not a file on the VM host. Fix: put a qcow2 or raw cloud image "
        "there (e.g. Debian's genericcloud qcow2), or set base_image to the path of one."
    )


def _check_vm_name(vm_name: str) -> None:
    if not VM_NAME.fullmatch(vm_name):
        raise OperationValueError(f"{vm_name!r} is not a VM name (a DNS label: a-z, 0-9 and '-')")


def _check_path(path: str, what: str) -> None:
    if not posixpath.isabs(path) or posixpath.normpath(path) != path:
        raise OperationValueError(f"{what} {path!r} is not an absolute, normalised path")


def virsh(uri: str, *words: str | StringCommand | object) -> StringCommand:
    """A virsh command on the connection ``uri``."""
    return StringCommand("virsh", "-c", quoted(uri), *words)


def snapshot(uri: str, vm_name: str, change: Change) -> StringCommand:
    """An internal snapshot named ``openclaw-before-<change>-<UTC time>`` (the time the host's clock says when it
    runs). Internal snapshots live in the qcow2 overlay: a raw base image is only its read-only backing file, and a
    direct-kernel-boot VM's kernel and initrd are files outside its disks, so neither stands in the way. Of a
    running VM they include its memory. The read-only seed ISO is left out (``snapshot='no'`` in the template).
    List with ``virsh snapshot-list``, go back with ``virsh snapshot-revert``."""
    return virsh(
        uri, "snapshot-create-as", "--domain", quoted(vm_name),
        "--name", f'"openclaw-before-{change}-$(date -u +%Y%m%d-%H%M%S)"',
        "--description", quoted(f"taken by pyinfra-openclaw before: {change}"),
    )  # fmt: skip


def graceful_stop(uri: str, vm_name: str, wait_seconds: int) -> StringCommand:
    """``virsh shutdown`` (ACPI: the guest shuts down cleanly), then ``virsh destroy`` only if the domain is still not
    shut off after ``wait_seconds``; fails unless it ends shut off."""
    state = StringCommand('"$(LC_ALL=C', virsh(uri, "domstate", "--domain", quoted(vm_name)), ')"')
    return StringCommand(
        virsh(uri, "shutdown", "--domain", quoted(vm_name)), "&& waited=0; while [", state, '!= "shut off" ]; do',
        f'if [ "$waited" -ge {int(wait_seconds)} ]; then', virsh(uri, "destroy", "--domain", quoted(vm_name)),
        '; break; fi; sleep 1; waited=$((waited + 1)); done; [', state, '= "shut off" ]',
    )  # fmt: skip


def _woken(uri: str, vm: VmRecord) -> list[StringCommand]:
    """Commands that bring a suspended domain back to running: paused by libvirt, or suspended by the guest."""
    if vm.raw_state == "pmsuspended":
        return [virsh(uri, "dompmwakeup", "--domain", quoted(vm.name))]
    return [virsh(uri, "resume", "--domain", quoted(vm.name))]


def _owned_directory(path: str) -> Generator[PyinfraCommand, None, None]:
    yield from files.directory._inner(path=path, user="root", group=QEMU_GROUP, mode=str(DIRECTORY_MODE))


def _directory_ok(found: Mapping[str, Any] | bool | None) -> bool:
    """Whether pyinfra's ``Directory`` fact describes a directory as ``_owned_directory`` makes it."""
    if not isinstance(found, Mapping):
        return False
    return (found["user"], found["group"], found["mode"]) == ("root", QEMU_GROUP, DIRECTORY_MODE)


@operation()
def libvirt_tools() -> Generator[PyinfraCommand, None, None]:
    """
    libvirt with qemu, from Debian's or Ubuntu's packages (``LIBVIRT_PACKAGES``), and ``libvirtd`` running and
    started at boot (systemd). A host without apt-get is refused, naming the fix.
    """
    apt_get, installed = read_facts((Which, {"command": "apt-get"}), (DebPackages, {}))
    if not apt_get:
        yield from refuse(
            "install_tools installs libvirt from Debian/Ubuntu packages, and this host has no apt-get. Fix: install "
            "libvirt and qemu with the host's own package manager and set install_tools to false."
        )
        return
    missing = [package for package in LIBVIRT_PACKAGES if package not in (installed or {})]
    if missing:
        yield from apt.packages._inner(packages=LIBVIRT_PACKAGES, update=True, cache_time=3600)
    yield from systemd.service._inner(service="libvirtd.service", running=True, enabled=True)


@operation()
def libvirt_network(uri: str, network: str) -> Generator[PyinfraCommand, None, None]:
    """
    The libvirt network the VMs use, active and started with libvirtd. A network libvirt does not know is
    refused, naming the fix.

    + uri: libvirt connection URI
    + network: the network's name (``default`` is the NAT network Debian's package defines)
    """
    if not SAFE_NAME.fullmatch(network):
        raise OperationValueError(f"{network!r} is not a network name")
    found, virsh_path = read_facts((LibvirtNetwork, {"uri": uri, "network": network}), (Which, {"command": "virsh"}))
    if found is None and virsh_path:
        yield from refuse(
            f"libvirt ({uri}) has no network {network!r}. Fix: define it (virsh net-define), or set libvirt_network "
            "to one that `virsh net-list --all` shows."
        )
        return
    # No virsh yet: libvirt_tools installs it earlier in this run, and this operation is planned again then.
    if found is not None and found.active and found.autostart:
        host.noop(f"network {network} is active and starts with libvirtd")
        return
    if found is None or not found.active:
        yield virsh(uri, "net-start", "--network", quoted(network))
    if found is None or not found.autostart:
        yield virsh(uri, "net-autostart", "--network", quoted(network))


@operation()
def image_directory(path: str) -> Generator[PyinfraCommand, None, None]:
    """
    The directory that holds every VM's files: root's, mode 0710, group ``libvirt-qemu`` (qemu must reach the
    disks through it; see ``QEMU_GROUP``).

    + path: the VM host's ``image_dir``
    """
    _check_path(path, "image_dir")
    (found,) = read_facts((Directory, {"path": path}))
    if _directory_ok(found):
        host.noop(f"{path} is root's, 0{DIRECTORY_MODE}, group {QEMU_GROUP}")
        return
    yield from _owned_directory(path)


@operation()
def vm_disk(
    uri: str, vm_name: str, image_dir: str, base_image: str, disk_gib: int, snapshot_before_changes: bool = True
) -> Generator[PyinfraCommand, None, None]:
    """
    The VM's disk: a qcow2 overlay on ``base_image`` (never written to) of ``disk_gib`` GiB, made once and never
    overwritten. A larger ``disk_gib`` grows it (live with ``virsh blockresize`` while the VM runs; the guest's
    cloud-init grows its root filesystem at the next boot), after a snapshot; a smaller one is refused, as is a
    disk on another base image. A base image missing on the VM host is refused, naming it.

    + uri: libvirt connection URI (for the snapshot and a running VM's resize)
    + vm_name: the VM's name
    + image_dir: where the VMs' files live (``VmFiles``)
    + base_image: a qcow2 or raw cloud image on the VM host
    + disk_gib: the disk's size
    + snapshot_before_changes: snapshot the VM before its disk is grown
    """
    _check_vm_name(vm_name)
    _check_path(image_dir, "image_dir")
    _check_path(base_image, "base_image")
    if disk_gib < 1:
        raise OperationValueError(f"disk_gib {disk_gib} is not a size")
    paths = VmFiles.of(image_dir, vm_name)
    base_file, base, disk, directory = read_facts(
        (File, {"path": base_image}), (QemuImage, {"path": base_image}), (QemuImage, {"path": paths.disk}),
        (Directory, {"path": paths.directory}),
    )  # fmt: skip
    if not base_file or base is None:
        yield from refuse(missing_base_image(vm_name, base_image))
        return
    # None: qemu-img is not installed yet (libvirt_tools installs it earlier in this run, and this operation is
    # planned again, from fresh facts, when it runs).
    base_format = base.format or "qcow2"
    if base_format not in DISK_FORMATS:
        yield from refuse(f"VM {vm_name}: base image {base_image} is {base_format}, not one of {DISK_FORMATS}.")
        return
    wanted = disk_gib * GIB
    if base.virtual_size is not None and base.virtual_size > wanted:
        yield from refuse(
            f"VM {vm_name}: disk_gib {disk_gib} is smaller than the base image {base_image} "
            f"({base.virtual_size / GIB:.1f} GiB). Fix: raise disk_gib to at least {-(-base.virtual_size // GIB)}."
        )
        return
    if disk is not None and disk.format is not None:
        if disk.backing_file != base_image:
            yield from refuse(
                f"VM {vm_name}: its disk {paths.disk} is an overlay on {disk.backing_file}, not on base_image "
                f"{base_image}; a VM's disk is never overwritten. Fix: set base_image back to {disk.backing_file}, "
                "or remove the VM (state absent with delete_disks) and deploy again."
            )
            return
        if disk.virtual_size is not None and disk.virtual_size > wanted:
            yield from refuse(
                f"VM {vm_name}: its disk {paths.disk} is {disk.virtual_size // GIB} GiB, more than disk_gib "
                f"{disk_gib}; a disk is never shrunk (the guest's filesystem would be cut off). Fix: set disk_gib "
                f"to {-(-disk.virtual_size // GIB)} or more."
            )
            return
    if _directory_ok(directory) and disk is not None and (disk.virtual_size is None or disk.virtual_size == wanted):
        host.noop(f"{paths.disk} is a {disk_gib} GiB overlay on {base_image}")
        return
    if not _directory_ok(directory):
        yield from _owned_directory(paths.directory)
    if disk is None:
        # `test ! -e`: qemu-img create would replace a disk that appeared since the facts were read.
        yield StringCommand(
            "test ! -e", quoted(paths.disk), "&& qemu-img create -q -f qcow2 -b", quoted(base_image),
            "-F", base_format, quoted(paths.disk), f"{disk_gib}G",
        )  # fmt: skip
        yield StringCommand("chmod 600", quoted(paths.disk))
        return
    if disk.virtual_size is None or disk.virtual_size == wanted:
        return
    (vms,) = read_facts((LibvirtVms, {"uri": uri, "address_source": "lease"}))
    domain = listed(vms, vm_name)
    if snapshot_before_changes:
        if domain is not None:
            yield snapshot(uri, vm_name, "resize")
        else:
            yield StringCommand(
                "qemu-img snapshot -c", '"openclaw-before-resize-$(date -u +%Y%m%d-%H%M%S)"', quoted(paths.disk)
            )
    if domain is not None and domain.state == VmState.RUNNING:
        yield virsh(uri, "blockresize", "--domain", quoted(vm_name), "--path", quoted(paths.disk), f"{disk_gib}G")
    else:
        yield StringCommand("qemu-img resize -q", quoted(paths.disk), f"{disk_gib}G")


def cloud_init_content(
    vm_name: str, admin_user: str, ssh_public_key: str, keep_default_user: bool = False
) -> tuple[str, str]:
    """The NoCloud seed's user-data and meta-data: ``admin_user`` with the operator's key and NOPASSWD sudo (as
    cloud images set up their default user), password and root login off, the VM's name as its hostname. The
    image's own default user (``debian``, ``ubuntu``) is made only with ``keep_default_user``."""
    _check_vm_name(vm_name)
    if not SAFE_NAME.fullmatch(admin_user) or admin_user == "root":
        raise OperationValueError(f"{admin_user!r} is not an account name (and never root)")
    if not SSH_PUBLIC_KEY.fullmatch(ssh_public_key):
        raise OperationValueError("ssh_public_key is not one OpenSSH public key line")
    user_data = render(
        "cloud-init/user-data.j2",
        vm_name=vm_name,
        admin_user=admin_user,
        ssh_public_key=ssh_public_key,
        keep_default_user=keep_default_user,
    )
    return user_data, render("cloud-init/meta-data.j2", vm_name=vm_name)


def seed_checksum(user_data: str, meta_data: str) -> str:
    return hashlib.sha256(json.dumps([user_data, meta_data]).encode()).hexdigest()


@operation()
def cloud_init_seed(
    vm_name: str, image_dir: str, admin_user: str, ssh_public_key: str
) -> Generator[PyinfraCommand, None, None]:
    """
    The VM's cloud-init NoCloud seed ISO (volume ``cidata``): user-data and meta-data uploaded (root, 0600), then
    built on the VM host with genisoimage, only when what it holds would change (their checksum is kept beside the
    ISO once it is built). cloud-init reads it at the VM's first boot; a VM that already booted keeps what it got.

    + vm_name: the VM's name (its hostname and instance-id)
    + image_dir: where the VMs' files live (``VmFiles``)
    + admin_user: the account made with the operator's key
    + ssh_public_key: the operator's OpenSSH public key line
    """
    _check_path(image_dir, "image_dir")
    user_data, meta_data = cloud_init_content(vm_name, admin_user, ssh_public_key)
    paths = VmFiles.of(image_dir, vm_name)
    wanted = seed_checksum(user_data, meta_data)
    seed, built_from = read_facts((File, {"path": paths.seed}), (FileContents, {"path": paths.seed_checksum}))
    if seed and built_from == [wanted]:
        host.noop(f"{paths.seed} holds the wanted user-data and meta-data")
        return
    for content, path in ((user_data, paths.user_data), (meta_data, paths.meta_data)):
        yield from files.put._inner(src=StringIO(content), dest=path, user="root", group="root", mode="600")
    building = f"{paths.seed}.new"
    yield StringCommand(
        "genisoimage -quiet -output", quoted(building), "-volid cidata -joliet -rock",
        quoted(paths.user_data), quoted(paths.meta_data),
        "&& chmod 600", quoted(building), "&& mv -f", quoted(building), quoted(paths.seed),
        "&& echo", wanted, ">", quoted(paths.seed_checksum),
    )  # fmt: skip


def domain_definition_content(
    vm_name: str,
    image_dir: str,
    domain_type: str,
    cpus: int,
    memory_mib: int,
    network: str,
    kernel: str | None = None,
    initrd: str | None = None,
    cmdline: str | None = None,
    uuid: str | None = None,
) -> tuple[str, str]:
    """The domain XML and the checksum it carries in its metadata: of the XML rendered without it and without the
    domain's UUID (libvirt's own, given when an existing domain is redefined)."""
    _check_vm_name(vm_name)
    if domain_type not in ("kvm", "qemu"):
        raise OperationValueError(f"domain_type {domain_type!r} is neither kvm nor qemu")
    if not (0 < cpus <= 1024 and memory_mib > 0):
        raise OperationValueError(f"cpus {cpus} / memory_mib {memory_mib} are not sizes")
    if not SAFE_NAME.fullmatch(network):
        raise OperationValueError(f"{network!r} is not a network name")
    for path, what in ((kernel, "kernel"), (initrd, "initrd")):
        if path is not None:
            _check_path(path, what)
    if initrd and not kernel:
        raise OperationValueError("an initrd needs a kernel (direct kernel boot)")
    paths = VmFiles.of(image_dir, vm_name)
    variables = {
        "vm_name": vm_name, "domain_type": domain_type, "cpus": int(cpus), "memory_mib": int(memory_mib),
        "network": network, "kernel": kernel, "initrd": initrd, "cmdline": cmdline or "",
        "disk_path": paths.disk, "seed_path": paths.seed, "console_log": paths.console_log,
        "metadata_namespace": METADATA_NAMESPACE,
    }  # fmt: skip
    unmarked = render_xml("libvirt/domain.xml.j2", rendered_sha256="", uuid=None, **variables)
    rendered_sha256 = hashlib.sha256(unmarked.encode()).hexdigest()
    return render_xml("libvirt/domain.xml.j2", rendered_sha256=rendered_sha256, uuid=uuid, **variables), rendered_sha256


@operation()
def domain_definition(
    uri: str,
    vm_name: str,
    image_dir: str,
    domain_type: str,
    cpus: int,
    memory_mib: int,
    network: str,
    kernel: str | None = None,
    initrd: str | None = None,
    cmdline: str | None = None,
    apply_now: bool = True,
    shutdown_wait_seconds: int = 120,
    snapshot_before_changes: bool = True,
) -> Generator[PyinfraCommand, None, None]:
    """
    The VM's libvirt domain, defined from templates/libvirt/domain.xml.j2 when libvirt holds no definition with
    the same rendered checksum (kept in the domain's metadata). A redefined domain that runs is restarted
    (graceful stop, then start) when ``apply_now``, after a snapshot. A domain of the same name that this
    deploy did not define is refused.

    + uri: libvirt connection URI
    + vm_name: the VM's name
    + image_dir: where the VMs' files live (``VmFiles``)
    + domain_type: ``kvm``, or ``qemu`` (software emulation: CPU model qemu64)
    + cpus, memory_mib: the VM's size
    + network: the libvirt network of its NIC
    + kernel, initrd, cmdline: direct kernel boot (files on the VM host); ``kernel`` None boots from the disk
    + apply_now: restart a running VM whose definition changed, so it runs with it
    + shutdown_wait_seconds: how long a graceful stop may take before the VM is destroyed
    + snapshot_before_changes: snapshot the VM before it is redefined or restarted
    """
    _check_path(image_dir, "image_dir")
    definition = (vm_name, image_dir, domain_type, cpus, memory_mib, network, kernel, initrd, cmdline)
    content, rendered_sha256 = domain_definition_content(*definition)
    paths = VmFiles.of(image_dir, vm_name)
    (domain,) = read_facts((LibvirtDomain, {"uri": uri, "domain": vm_name}))
    if domain is not None:
        # The UUID is kept: libvirt refuses a definition of the same name under another one.
        content, _ = domain_definition_content(*definition, uuid=domain.uuid)
    if domain is not None and domain.rendered_sha256 is None:
        yield from refuse(
            f"libvirt ({uri}) has a domain {vm_name!r} this deploy did not define (no checksum in its metadata); "
            "it is not replaced. Fix: give the VM another name, or remove that domain yourself (virsh undefine)."
        )
        return
    # A hand edit (virsh edit, attach-device) that keeps the metadata changes the definition's shape.
    rendered = parsed_definition(content)
    defined_as_rendered = domain is not None and (domain.rendered_sha256, domain.shape_sha256) == (
        rendered_sha256, shape_sha256(rendered)
    )
    runs_as_rendered = domain is not None and (domain.live_rendered_sha256, domain.live_shape_sha256) == (
        rendered_sha256, shape_sha256(rendered, live=True)
    )
    running = domain is not None and domain.raw_state == "running"
    restart = apply_now and running and not runs_as_rendered
    if defined_as_rendered and not restart:
        host.noop(f"domain {vm_name} is defined as rendered ({rendered_sha256[:12]})")
        return
    if domain is not None and snapshot_before_changes:
        yield snapshot(uri, vm_name, "restart" if defined_as_rendered else "redefine")
    if not defined_as_rendered:
        yield from files.put._inner(src=StringIO(content), dest=paths.definition, user="root", group="root", mode="600")
        yield virsh(uri, "define", "--file", quoted(paths.definition))
    if restart:
        yield graceful_stop(uri, vm_name, shutdown_wait_seconds)
        yield virsh(uri, "start", "--domain", quoted(vm_name))


@operation()
def domain_state(
    uri: str,
    vm_name: str,
    running: bool,
    autostart: bool,
    shutdown_wait_seconds: int = 120,
    snapshot_before_changes: bool = True,
) -> Generator[PyinfraCommand, None, None]:
    """
    The VM running or shut off, and started with libvirtd (at the VM host's boot) or not. A stop is graceful
    (``virsh shutdown``, ``virsh destroy`` only after ``shutdown_wait_seconds``), after a snapshot; a suspended VM
    is resumed first. A domain in any other state (crashed, …) is refused, naming it.

    + uri: libvirt connection URI
    + vm_name: the VM's name (defined by ``domain_definition``)
    + running: running (True) or shut off (False)
    + autostart: started when libvirtd starts
    + shutdown_wait_seconds: how long a graceful stop may take before the VM is destroyed
    + snapshot_before_changes: snapshot the VM before it is stopped
    """
    _check_vm_name(vm_name)
    vms, domain = read_facts(
        (LibvirtVms, {"uri": uri, "address_source": "lease"}), (LibvirtDomain, {"uri": uri, "domain": vm_name})
    )
    vm = listed(vms, vm_name)
    if vm is None or domain is None:
        # Not defined yet: domain_definition defines it earlier in this run, and this is planned again then.
        if running:
            yield virsh(uri, "start", "--domain", quoted(vm_name))
        yield virsh(uri, "autostart", "--domain", quoted(vm_name), *([] if autostart else ["--disable"]))
        return
    if vm.state == VmState.OTHER:
        yield from refuse(
            f"domain {vm_name} is {vm.raw_state!r}. Fix: read its console log and `virsh domstate --reason "
            f"{vm_name}`; once it is shut off (virsh destroy), deploy again."
        )
        return
    commands = []
    if running and vm.state != VmState.RUNNING:
        woken = _woken(uri, vm) if vm.state == VmState.SUSPENDED else None
        commands += woken or [virsh(uri, "start", "--domain", quoted(vm_name))]
    elif not running and vm.state != VmState.STOPPED:
        if snapshot_before_changes:
            commands.append(snapshot(uri, vm_name, "stop"))
        if vm.state == VmState.SUSPENDED:
            commands += _woken(uri, vm)
        commands.append(graceful_stop(uri, vm_name, shutdown_wait_seconds))
    if domain.autostart != autostart:
        commands.append(virsh(uri, "autostart", "--domain", quoted(vm_name), *([] if autostart else ["--disable"])))
    if not commands:
        wanted = "running" if running else "shut off"
        host.noop(f"domain {vm_name} is {wanted}, autostart {'on' if autostart else 'off'}")
        return
    yield from commands


@operation()
def domain_absent(
    uri: str,
    vm_name: str,
    image_dir: str,
    delete_disks: bool = False,
    shutdown_wait_seconds: int = 120,
    snapshot_before_changes: bool = True,
) -> Generator[PyinfraCommand, None, None]:
    """
    No domain ``vm_name``: stopped gracefully if it runs, then undefined with its snapshots' metadata (the
    snapshots themselves stay inside the kept disk: ``qemu-img snapshot -l``) and its NVRAM kept. Its files
    (``<image_dir>/<name>/``: disk, seed, console log) are kept unless ``delete_disks``, which also removes
    the NVRAM file. A snapshot is taken first unless the disk goes too (or the domain has NVRAM: libvirt takes no
    internal snapshot of a UEFI domain).

    + uri: libvirt connection URI
    + vm_name: the VM's name
    + image_dir: where the VMs' files live (``VmFiles``)
    + delete_disks: also delete the VM's directory under image_dir
    + shutdown_wait_seconds: how long a graceful stop may take before the VM is destroyed
    + snapshot_before_changes: snapshot the VM before it is removed (only while its disk is kept)
    """
    _check_vm_name(vm_name)
    _check_path(image_dir, "image_dir")
    paths = VmFiles.of(image_dir, vm_name)
    vms, domain, directory = read_facts(
        (LibvirtVms, {"uri": uri, "address_source": "lease"}),
        (LibvirtDomain, {"uri": uri, "domain": vm_name}),
        (Directory, {"path": paths.directory}),
    )
    vm = listed(vms, vm_name)
    if domain is None and not (delete_disks and directory):
        kept = f"; its files are kept in {paths.directory}" if directory else ""
        host.noop(f"libvirt has no domain {vm_name}{kept}")
        return
    if domain is not None:
        # libvirt takes no internal snapshot of a domain with UEFI NVRAM (pflash); this deploy defines none, so such
        # a domain was made by hand.
        if snapshot_before_changes and not delete_disks and not domain.nvram:
            yield snapshot(uri, vm_name, "delete")
        if vm is not None and vm.state != VmState.STOPPED:
            if vm.state == VmState.SUSPENDED:
                yield from _woken(uri, vm)
            yield graceful_stop(uri, vm_name, shutdown_wait_seconds)
        nvram = ["--nvram" if delete_disks else "--keep-nvram"] if domain.nvram else []
        yield virsh(uri, "undefine", "--domain", quoted(vm_name), "--snapshots-metadata", *nvram)
    if delete_disks and directory:
        yield StringCommand("rm -rf --", quoted(paths.directory))
