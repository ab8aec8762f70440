"""Where the sandbox keeps its image, hosts and registry, and the packages its base image carries.

Every location comes from the environment, so a CI run can put all mutable state (hosts' layers, keys, the
registry) in fresh, empty directories and a subnet of its own, and share only the download and image caches.
"""

from __future__ import annotations

import os
from ipaddress import IPv4Network
from pathlib import Path

# Slow to build, safe to keep across sessions and CI runs on the same machine.
CACHE_DIR = Path(os.environ.get("OPENCLAW_SANDBOX_CACHE", "/var/cache/openclaw-infra"))
# Per-host overlay layers and the shared SSH key.
STATE_DIR = Path(os.environ.get("OPENCLAW_SANDBOX_STATE", "/var/lib/openclaw-infra/sandbox"))
# Which hosts are up: on tmpfs, so a reboot of the machine forgets hosts that cannot be running any more.
RUN_DIR = Path(os.environ.get("OPENCLAW_SANDBOX_RUN", "/run/openclaw-infra/sandbox"))

# One /24 per host inside it; a run with its own subnet never meets hosts or the mirror of another run.
SUBNET = IPv4Network(os.environ.get("OPENCLAW_SANDBOX_SUBNET", "10.213.0.0/16"))
if SUBNET.prefixlen != 16:
    raise ValueError(f"OPENCLAW_SANDBOX_SUBNET must be a /16 (one /24 per host), not {SUBNET}")
MAX_HOSTS = 250

DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = os.environ.get("OPENCLAW_SANDBOX_MIRROR", "http://deb.debian.org/debian")

# debootstrap --include: what a host needs to boot, be reached over SSH and be inspected by facts.
BOOTSTRAP_PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "sudo",
    "iproute2",
    "procps",
    "lsof",
    "cron",
    "logrotate",
    "ca-certificates",
    "python3",
    "curl",
    "xz-utils",
)
# Installed once into the image because they are slow, and every deploy test needs them.
IMAGE_PACKAGES = (
    "docker.io",
    "ufw",
    "iptables",
    "libvirt-clients",
    "netcat-openbsd",
)
MASKED_UNITS = ("systemd-modules-load.service", "systemd-remount-fs.service")
# Bump when the image recipe changes in a way the package lists do not show.
IMAGE_RECIPE_VERSION = 1

# The machine verifies HTTPS through these extra CAs; hosts need them too or npm/curl fail inside.
MACHINE_EXTRA_CA_DIR = Path("/usr/local/share/ca-certificates")

# Kernel limits the machine needs for many hosts at once, raised (never lowered) before a host boots. The hosts
# share the machine's kernel and, without user namespaces, its root user: every host's systemd, logind, dbus and
# containerd take ~9 of root's inotify instances, and the kernel's default of 128 stopped the 15th host from
# booting (its units fail with "Too many open files"). Raised values last until the machine reboots.
KERNEL_LIMITS = {
    "fs/inotify/max_user_instances": 8192,
    "fs/inotify/max_user_watches": 1048576,
}

BOOT_TIMEOUT_SECONDS = 90
STOP_TIMEOUT_SECONDS = 30


def state_dir() -> Path:
    """``STATE_DIR``, created (0700: it holds the SSH key and a gateway token) by whoever first needs it."""
    STATE_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    return STATE_DIR


def run_dir() -> Path:
    """``RUN_DIR``, created on first use, like ``state_dir``."""
    RUN_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
    return RUN_DIR
