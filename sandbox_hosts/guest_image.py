"""A bootable Debian 12 guest image for libvirt VMs in tests, built locally and cached.

Built from the sandbox base image (a copy of its root file system) plus a kernel, initramfs-tools and cloud-init
(NoCloud only: an ISO labelled ``cidata`` holding ``user-data`` and ``meta-data`` creates the admin user and puts
the operator's key in), systemd-networkd DHCP, sshd with password login off, and Node and OpenClaw at the
project's pins, installed by the project's own operations (``guest_deploy.py`` through pyinfra's ``@chroot``
connector) because ``npm install`` under software emulation takes far too long. Docker is purged: the VM test
deploys with ``openclaw_docker_sandbox: false``, and idle daemons cost CPU under emulation. No SSH key, host key
or user beyond the base image's is baked in.

Output, in ``<cache>/guest-images/<recipe hash>/``: ``guest.raw`` (ext4 of the whole disk, no partition table:
``root=/dev/vda``), ``vmlinuz`` and ``initrd.img`` for direct kernel boot, and ``manifest.json`` with their
SHA-256 sums, checked before use (once per process); a missing or damaged image is rebuilt (~5 min).
VMs never write to it: each gets a qcow2 overlay. A VM host (``vm_host.up_vm_host``) sees the directory
read-only at ``IMAGE_DIR_IN_HOST``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from openclaw_infra.deploys.linux_gateway import BASE_PACKAGES
from openclaw_infra.settings import DirectKernelBoot, NodeRuntime, OpenClawPackage
from sandbox_hosts import config, image, mirror_service
from sandbox_hosts.image import ImageBuildError
from sandbox_hosts.node_mirror import sha256_of

# Where a VM host sees the image (bind-mounted read-only; world-readable, so libvirt-qemu can open it).
IMAGE_DIR_IN_HOST = "/var/lib/openclaw-test/images"
RAW_NAME = "guest.raw"
KERNEL_NAME = "vmlinuz"
INITRD_NAME = "initrd.img"
MANIFEST_NAME = "manifest.json"
KERNEL_CMDLINE = DirectKernelBoot.model_fields["cmdline"].default

GUEST_PACKAGES = ("linux-image-amd64", "initramfs-tools", "cloud-init", "systemd-resolved")
# In the base image for Docker-isolation hosts; a VM test deploys without the Docker sandbox.
GUEST_PURGED = ("docker.io", "containerd", "runc")
# The base image masks these for containers; a VM has its own kernel and root mount.
GUEST_UNMASKED = config.MASKED_UNITS
GUEST_SERVICES = ("systemd-networkd.service", "systemd-resolved.service", "ssh.service")
# An apt run at boot would hold the dpkg lock a deploy needs, and takes minutes under emulation.
GUEST_MASKED = ("apt-daily.timer", "apt-daily-upgrade.timer")
GUEST_FILES = {
    "etc/cloud/cloud.cfg.d/90-openclaw-test.cfg": "guest-cloud.cfg",
    "etc/systemd/network/20-wired.network": "guest-wired.network",
    # Before anything cloud-init may write (sshd keeps the first value it reads).
    "etc/ssh/sshd_config.d/00-openclaw-guest.conf": "guest-sshd.conf",
    "etc/systemd/system/ssh.service.d/host-keys.conf": "ssh-host-keys.conf",
    "etc/environment": "environment",
    "etc/sudoers.d/00-sandbox-ca": "sudoers-keep-ca",
}
# Free space left in the file system (the overlay a VM gets may be larger; cloud-init grows the file system).
FREE_SPACE_BYTES = 768 << 20
# Bump when the recipe changes in a way the rest of the key does not show.
GUEST_RECIPE_VERSION = 1

_HERE = Path(__file__).resolve().parent
_PROJECT_ROOT = _HERE.parent
_DEPLOY = _HERE / "guest_deploy.py"
# How the image's Node and OpenClaw are installed: a change there is a change of the image.
_INSTALLERS = (_DEPLOY, _PROJECT_ROOT / "operations/node_runtime.py", _PROJECT_ROOT / "operations/openclaw_package.py")


@dataclass(frozen=True)
class GuestImage:
    """A verified guest image. ``raw``, ``kernel`` and ``initrd`` are paths inside a VM host (what a domain or
    ``openclaw_vm_host`` names); ``directory`` is where the files are on the machine."""

    directory: Path
    node_version: str
    openclaw_version: str
    node_prefix: str
    openclaw_prefix: str
    # The raw image's size: a VM's disk (its overlay) must be at least this large.
    size_bytes: int
    raw: str = f"{IMAGE_DIR_IN_HOST}/{RAW_NAME}"
    kernel: str = f"{IMAGE_DIR_IN_HOST}/{KERNEL_NAME}"
    initrd: str = f"{IMAGE_DIR_IN_HOST}/{INITRD_NAME}"
    cmdline: str = KERNEL_CMDLINE

    def boot(self) -> dict[str, str]:
        """``openclaw_vm_host`` ``vms[].boot`` for this image (``DirectKernelBoot``'s fields)."""
        return {"kernel": self.kernel, "initrd": self.initrd, "cmdline": self.cmdline}


def guest_key() -> str:
    node, package = NodeRuntime(), OpenClawPackage()
    recipe = {
        "base": image.image_key(),
        "packages": GUEST_PACKAGES,
        "deploy_packages": BASE_PACKAGES,
        "purged": GUEST_PURGED,
        "unmasked": GUEST_UNMASKED,
        "services": GUEST_SERVICES,
        "masked": GUEST_MASKED,
        "files": {target: image.harness_file(source) for target, source in GUEST_FILES.items()},
        "node": [node.version, node.install_method, node.prefix],
        "openclaw": [package.version, package.prefix],
        "installers": [path.read_text() for path in _INSTALLERS],
        "recipe": GUEST_RECIPE_VERSION,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def guest_images_dir() -> Path:
    return config.CACHE_DIR / "guest-images"


def guest_dir() -> Path:
    return guest_images_dir() / f"debian-{config.DEBIAN_SUITE}-{guest_key()}"


def _manifest(directory: Path) -> dict[str, object]:
    loaded: dict[str, object] = json.loads((directory / MANIFEST_NAME).read_text())
    return loaded


def guest_damage(directory: Path) -> str | None:
    """Why a cached guest image cannot be trusted, or None: every file there with the SHA-256 its build wrote,
    readable by everyone (libvirt-qemu opens them)."""
    try:
        manifest = _manifest(directory)
    except (OSError, ValueError) as error:
        return f"no readable {MANIFEST_NAME} ({error})"
    sums = manifest.get("sha256")
    if not isinstance(sums, dict) or set(sums) != {RAW_NAME, KERNEL_NAME, INITRD_NAME}:
        return f"{MANIFEST_NAME} does not list the image's files"
    for name, expected in sums.items():
        path = directory / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_mode & 0o444 != 0o444:
            return f"{name} is not readable by everyone"
        if sha256_of(path) != expected:
            return f"{name} does not match its SHA-256 in {MANIFEST_NAME}"
    return None


def in_use(directory: Path) -> bool:
    """Whether a running VM host has ``directory`` bind-mounted (its mount table names the source)."""
    needle = f" {directory} "
    for mountinfo in Path("/proc").glob("[0-9]*/mountinfo"):
        try:
            if needle in mountinfo.read_text():
                return True
        except OSError:
            continue  # the process ended meanwhile
    return False


def _chroot(rootfs: Path, *command: str) -> list[str]:
    return ["chroot", str(rootfs), *command]


def _install_packages(rootfs: Path, log: Path) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
    apt = ["apt-get", "-y", "-q", "-o", "Dpkg::Options::=--force-confold"]
    image._run(_chroot(rootfs, "apt-get", "update", "-q"), log, env)
    image._run(_chroot(rootfs, *apt, "install", "--no-install-recommends", *GUEST_PACKAGES), log, env)
    image._run(_chroot(rootfs, *apt, "purge", "--autoremove", *GUEST_PURGED), log, env)
    image._run(_chroot(rootfs, "apt-get", "clean"), log, env)


def _configure(rootfs: Path, log: Path) -> None:
    for target, source in GUEST_FILES.items():
        path = rootfs / target
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(image.harness_file(source))
    (rootfs / "etc/sudoers.d/00-sandbox-ca").chmod(0o440)
    # The base image's container settings (root login with a key) give way to the guest's.
    (rootfs / "etc/ssh/sshd_config.d/sandbox.conf").unlink(missing_ok=True)
    (rootfs / "etc/fstab").write_text("/dev/vda / ext4 rw,errors=remount-ro 0 1\n")
    (rootfs / "etc/hostname").write_text("localhost\n")
    for unit in GUEST_UNMASKED:
        mask = rootfs / "etc/systemd/system" / unit
        if mask.is_symlink():
            mask.unlink()
    image._run(_chroot(rootfs, "systemctl", "enable", *GUEST_SERVICES), log)
    image._run(_chroot(rootfs, "systemctl", "mask", *GUEST_MASKED), log)
    # DNS from the DHCP lease (libvirt's dnsmasq) through resolved's stub.
    resolv = rootfs / "etc/resolv.conf"
    resolv.unlink(missing_ok=True)
    resolv.symlink_to("../run/systemd/resolve/stub-resolv.conf")
    # Generated at first boot: every VM its own.
    (rootfs / "etc/machine-id").write_text("")
    for host_key in (rootfs / "etc/ssh").glob("ssh_host_*"):
        host_key.unlink()
    # Caches of the build (npm's, Node's compile cache in /tmp) and what a test VM never reads. The package lists
    # go too, as in cloud images: the deploy's packages are all installed (checked below), and stale lists
    # would point apt at files the mirror no longer has.
    for leftover in ("root/.npm", "root/.cache", "var/lib/apt/lists", "usr/share/doc", "usr/share/man"):
        shutil.rmtree(rootfs / leftover, ignore_errors=True)
    (rootfs / "var/lib/apt/lists/partial").mkdir(parents=True)
    for entry in (rootfs / "tmp").iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def recipe_problem(rootfs: Path) -> str | None:
    """What the built root file system lacks, or None: the guest's packages and every package the Linux deploy
    installs (so a deploy into the VM needs no apt run), without Docker."""
    installed = image._installed_packages(rootfs)
    for package in (*GUEST_PACKAGES, *BASE_PACKAGES):
        if package not in installed:
            return f"package {package} is not installed"
    for package in GUEST_PURGED:
        if package in installed:
            return f"package {package} is still installed"
    return None


def _machine_resolv_conf(rootfs: Path) -> None:
    resolv = rootfs / "etc/resolv.conf"
    resolv.unlink(missing_ok=True)
    shutil.copy2("/etc/resolv.conf", resolv)


def _install_node_and_openclaw(rootfs: Path, log: Path) -> None:
    """The project's own Node and OpenClaw operations, run by pyinfra into the root file system."""
    mirror = mirror_service.ensure_running()
    pyinfra = str(Path(sys.executable).parent / "pyinfra")
    env = {
        **os.environ,
        "OPENCLAW_GUEST_NODE_MIRROR": mirror,
        # npm inside the chroot goes through the machine's TLS inspection (see files/environment).
        "NODE_EXTRA_CA_CERTS": "/etc/ssl/certs/ca-certificates.crt",
        "HOME": "/root",
    }
    # Again: installing systemd-resolved pointed it at a stub that does not run in the chroot.
    _machine_resolv_conf(rootfs)
    with log.open("a") as out:
        out.write(f"$ pyinfra @chroot/{rootfs} {_DEPLOY.name}\n")
        out.flush()
        result = subprocess.run(
            [pyinfra, "-y", f"@chroot{rootfs}", str(_DEPLOY)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=_PROJECT_ROOT,
            check=False,
        )
    if result.returncode != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-30:])
        raise ImageBuildError(f"installing Node and OpenClaw into the guest failed; last lines of {log}:\n{tail}")


def _make_raw(rootfs: Path, raw: Path, log: Path) -> None:
    du = subprocess.run(["du", "-sxb", str(rootfs)], capture_output=True, text=True, check=True)
    used = int(du.stdout.split()[0])
    # ext4's own metadata (inode tables, journal) takes ~10% on top of the files.
    size = (used * 11 // 10 + FREE_SPACE_BYTES + (64 << 20) - 1) // (64 << 20) * (64 << 20)
    image._run(["mkfs.ext4", "-q", "-F", "-L", "openclaw-guest", "-d", str(rootfs), str(raw), str(size // 1024)], log)


def _build(target: Path) -> None:
    base = image.ensure_image()
    work = target.with_name(f".build-{target.name}")
    shutil.rmtree(work, ignore_errors=True)  # a build that died half-way
    rootfs, output = work / "rootfs", work / "output"
    output.mkdir(parents=True)
    log = work / "build.log"
    started = time.monotonic()
    image._run(["cp", "-a", f"{base}/.", str(rootfs)], log)
    with image._chroot_mounts(rootfs):
        _machine_resolv_conf(rootfs)
        _install_packages(rootfs, log)
        _install_node_and_openclaw(rootfs, log)
    _configure(rootfs, log)
    problem = recipe_problem(rootfs)
    if problem is not None:
        raise ImageBuildError(f"the guest root file system fails its recipe: {problem}; see {log}")
    for name, link in ((KERNEL_NAME, "vmlinuz"), (INITRD_NAME, "initrd.img")):
        # Debian links /vmlinuz and /initrd.img to the installed kernel's files in /boot.
        source = rootfs / os.readlink(rootfs / link).lstrip("/")
        shutil.copyfile(source, output / name)
    _make_raw(rootfs, output / RAW_NAME, log)
    shutil.rmtree(rootfs)
    node, package = NodeRuntime(), OpenClawPackage()
    manifest = {
        "sha256": {name: sha256_of(output / name) for name in (RAW_NAME, KERNEL_NAME, INITRD_NAME)},
        "node_version": node.version,
        "openclaw_version": package.version,
        "node_prefix": node.prefix,
        "openclaw_prefix": package.prefix,
        "built_seconds": round(time.monotonic() - started, 1),
    }
    for path in output.iterdir():
        path.chmod(0o644)
    (output / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
    (output / MANIFEST_NAME).chmod(0o644)
    shutil.move(log, output / "build.log")
    output.chmod(0o755)
    output.rename(target)
    shutil.rmtree(work)


# Images checked by this process: hashing ~2 GB once is enough.
_verified: set[Path] = set()


def ensure_guest_image() -> GuestImage:
    """The cached guest image, checked (once per process) and built first when it is missing or damaged."""
    target = guest_dir()
    if target not in _verified:
        with image._locked(guest_images_dir() / ".build.lock"):
            damage = guest_damage(target) if target.exists() else "not built yet"
            if damage is not None:
                if target.exists():
                    if in_use(target):
                        raise ImageBuildError(f"the guest image {target} is damaged ({damage}) and a VM host uses it")
                    print(f"the guest image {target} is damaged ({damage}): rebuilding it", flush=True)
                    shutil.rmtree(target)
                _build(target)
                prune_old_guest_images(keep=target)
            _verified.add(target)
    manifest = _manifest(target)
    return GuestImage(
        directory=target,
        node_version=str(manifest["node_version"]),
        openclaw_version=str(manifest["openclaw_version"]),
        node_prefix=str(manifest["node_prefix"]),
        openclaw_prefix=str(manifest["openclaw_prefix"]),
        size_bytes=(target / RAW_NAME).stat().st_size,
    )


def prune_old_guest_images(keep: Path) -> None:
    """Drop guest images of earlier recipes (~2 GB each) that no running VM host has mounted."""
    for candidate in guest_images_dir().glob("debian-*"):
        if candidate != keep and candidate.is_dir() and not in_use(candidate):
            shutil.rmtree(candidate, ignore_errors=True)


def build_seconds() -> float | None:
    try:
        return float(str(_manifest(guest_dir())["built_seconds"]))
    except (OSError, ValueError, KeyError):
        return None
