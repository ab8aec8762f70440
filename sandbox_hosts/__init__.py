"""Disposable Debian 12 hosts with systemd as PID 1, booted by systemd-nspawn and reached over real SSH."""

from sandbox_hosts.hosts import (
    Login,
    SandboxError,
    SandboxHost,
    down,
    down_all,
    get_host,
    list_hosts,
    prune_orphans,
    up,
    up_many,
)
from sandbox_hosts.image import ensure_image

__all__ = [
    "Login",
    "SandboxError",
    "SandboxHost",
    "down",
    "down_all",
    "ensure_image",
    "get_host",
    "list_hosts",
    "prune_orphans",
    "up",
    "up_many",
]
