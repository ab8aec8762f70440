"""Sandbox hosts as testinfra sees them: an SSH config an operator would write for them, and testinfra hosts over it."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import testinfra
from testinfra.host import Host

from sandbox_hosts import SandboxHost


def write_ssh_config(hosts: Iterable[SandboxHost], path: Path) -> Path:
    """One ``Host`` entry per sandbox host, by its address: its login user, the harness's key, its own
    known_hosts. Read by OpenSSH (testinfra's ``ssh://``) and by paramiko (``paramiko://``)."""
    entries = [
        f"Host {host.address}\n"
        f"  User {host.login_user}\n"
        f"  IdentityFile {host.ssh_key}\n"
        f"  UserKnownHostsFile {host.known_hosts}\n"
        "  StrictHostKeyChecking accept-new\n"
        "  BatchMode yes\n"
        "  LogLevel ERROR\n"
        for host in hosts
    ]
    path.write_text("".join(entries))
    return path


def as_testinfra_host(host: SandboxHost, ssh_config: Path) -> Host:
    """``host`` over paramiko as its SSH login, through sudo when that login is not root."""
    return testinfra.get_host(f"paramiko://{host.address}", ssh_config=str(ssh_config), sudo=host.login != "root")
