"""inventories/vms.py against real sandbox hosts: a VM host asked over SSH (paramiko, sudo) with libvirt's test
driver, and a "VM" that is a second sandbox host which only the VM host may reach over SSH, so pyinfra gets to it
through the jump config the inventory writes, or not at all."""

from __future__ import annotations

import json
import os
import secrets
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyinfra.api.config import Config
from pyinfra.api.inventory import Inventory
from pyinfra.api.state import State
from pyinfra.connectors.ssh import SSHConnector

# Imports pyinfra_cli, which gevent-patches this process: at collection, before any SSH thread runs, as the CLI does.
from openclaw_infra.drift.run import EXIT_DRIFT
from openclaw_infra.ssh_tuning import set_tcp_nodelay
from openclaw_infra.vm_discovery import discover_vms
from sandbox_hosts import SandboxHost
from tests.conftest import SandboxFactory
from tests.helpers import PROJECT_ROOT
from tests.inventories.vm_files import FIX, render_node, run_inventory, vm, vm_host, write_vm_hosts

pytestmark = pytest.mark.sandbox

DRIFT = str(Path(sys.executable).parent / "openclaw-infra")
# Readable by root only: listing it proves discovery ran virsh through sudo.
NODE_ON_VM_HOST = "/root/iv-node.xml"


@pytest.fixture(scope="module")
def hosts(
    sandbox_factory: SandboxFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[SandboxHost, SandboxHost, str]]:
    """(the VM host, the "VM", a marker only the VM holds); both logged into as a NOPASSWD sudo user."""
    vm_host_box, vm_box = sandbox_factory.boot(2, login="sudo-nopasswd")
    try:
        # libvirt's client from Debian's mirror (when the image holds it already, apt says so and changes nothing).
        vm_host_box.run(
            "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q libvirt-clients", timeout=900
        )
        node = render_node(tmp_path_factory.mktemp("node") / "iv-node.xml", vm_box.address)
        vm_host_box.run(f"cat > {NODE_ON_VM_HOST} <<'IV_EOF'\n{node.read_text()}IV_EOF\nchmod 600 {NODE_ON_VM_HOST}")
        marker = f"iv-marker-{secrets.token_hex(8)}"
        # New SSH connections to the VM from anywhere but the VM host are dropped: only a jump gets there.
        vm_box.run(
            f"echo {marker} > /etc/iv-marker && iptables -I INPUT -p tcp --dport 22 -m conntrack --ctstate NEW "
            f"! -s {vm_host_box.address} -j DROP"
        )
        yield vm_host_box, vm_box, marker
    finally:
        sandbox_factory.release(vm_host_box, vm_box)


def connection(box: SandboxHost, **data: Any) -> dict[str, Any]:
    return {
        "ssh_hostname": box.address,
        "ssh_user": box.login_user,
        "ssh_key": str(box.ssh_key),
        "ssh_known_hosts_file": str(box.known_hosts),
        "ssh_strict_host_key_checking": "accept-new",
        **data,
    }


def declared(vm_host_box: SandboxHost) -> dict[str, dict[str, Any]]:
    """The VM host with the node (vm-with-address: the VM's address) and two VMs not running there."""
    return {
        vm_host_box.name: connection(
            vm_host_box,
            _sudo=True,
            **vm_host(
                "libvirt", vm("vm-with-address"), vm("vm-off"), vm("vm-gone"), libvirt_uri=f"test://{NODE_ON_VM_HOST}"
            ),
        )
    }


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "openclaw-infra" / "vm-ssh"


def test_discovery_asks_vm_hosts_over_ssh_with_the_facts_commands(
    hosts: tuple[SandboxHost, SandboxHost, str], cache: Path
) -> None:
    vm_host_box, vm_box, _ = hosts
    found = discover_vms(
        [
            *declared(vm_host_box).items(),
            # The same machine again, as its own login (no sudo) and libvirt's built-in node: 'test' at .3.
            (
                f"{vm_host_box.name}-default",
                connection(vm_host_box, **vm_host("libvirt", vm("test"), libvirt_uri="test:///default")),
            ),
            (f"{vm_host_box.name}-nobody", connection(vm_host_box, ssh_user="nobody", **vm_host("libvirt", vm("far")))),
        ]
    )
    vms = {name: data for entries, _ in found.groups.values() for name, data in entries}
    assert {name: data["ssh_hostname"] for name, data in vms.items()} == {
        "vm-with-address": vm_box.address,
        "test": "192.168.122.3",
    }
    data = vms["vm-with-address"]
    assert (data["ssh_user"], data["_sudo"], data["ssh_key"]) == ("admin", True, str(vm_host_box.ssh_key))
    assert Path(data["ssh_config_file"]).parent == cache
    assert [(one.vm_host, one.vm, one.found, one.listed) for one in found.unavailable[:2]] == [
        (vm_host_box.name, "vm-off", "stopped (virsh says 'shut off')", True),
        (vm_host_box.name, "vm-gone", "missing (virsh lists no VM of that name)", True),
    ]
    # A VM host that refuses the login hides none of the others.
    (refused,) = found.unavailable[2:]
    assert (refused.vm, refused.listed) == ("far", False)
    assert (
        refused.found == "its VM host cannot be asked (cannot connect: AuthenticationException: Authentication failed.)"
    )


def test_pyinfra_reaches_the_vm_through_its_vm_host(
    hosts: tuple[SandboxHost, SandboxHost, str], tmp_path: Path
) -> None:
    vm_host_box, vm_box, marker = hosts
    direct = subprocess.run([*vm_box.ssh_args(), "true"], capture_output=True, text=True, timeout=60, check=False)
    assert direct.returncode == 255, "the VM must not be reachable but through its VM host"

    hosts_file = write_vm_hosts(tmp_path / "vm_hosts.toml", declared(vm_host_box))
    result = run_inventory(
        "inventories/vms.py", hosts_file, "exec", "--", "cat", "/etc/iv-marker",
        env={"XDG_CACHE_HOME": str(tmp_path / "cache")},
    )  # fmt: skip
    printed = result.stdout + result.stderr
    assert result.returncode == 0, printed
    assert f"[vm-with-address] {marker}" in printed
    assert (
        f"VM 'vm-off' on {vm_host_box.name} is declared but stopped (virsh says 'shut off'): {FIX} start it." in printed
    )
    assert f"VM 'vm-gone' on {vm_host_box.name} is declared but missing (virsh lists no VM of that name)" in printed

    directory = tmp_path / "cache" / "openclaw-infra" / "vm-ssh"
    (config,) = directory.glob("*.conf")
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700 and stat.S_IMODE(config.stat().st_mode) == 0o600
    assert f"HostName {vm_host_box.address}" in config.read_text() and f"Host {vm_box.address}" in config.read_text()


def test_nagle_is_off_on_the_jumps_socket(hosts: tuple[SandboxHost, SandboxHost, str], cache: Path) -> None:
    vm_host_box, _, _ = hosts
    found = discover_vms(list(declared(vm_host_box).items()))
    ((name, data),) = found.groups[vm_host_box.name][0]
    inventory = Inventory(([(name, data)], {}))
    State(inventory, Config())  # type: ignore[no-untyped-call]
    (host,) = inventory
    host.connect(raise_exceptions=True)
    try:
        assert isinstance(host.connector, SSHConnector) and host.connector.client is not None
        transport = host.connector.client.get_transport()
        assert transport is not None
        jump_socket = transport.sock.get_transport().sock  # type: ignore[union-attr]  # a channel of the jump's
        assert jump_socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        assert set_tcp_nodelay(host) is True
        assert jump_socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        assert host.run_shell_command("cat /etc/iv-marker")[0]
    finally:
        host.disconnect()


def test_drift_through_the_jump_names_the_vms_that_are_not_running(
    hosts: tuple[SandboxHost, SandboxHost, str], tmp_path: Path
) -> None:
    vm_host_box, _, _ = hosts
    hosts_file = write_vm_hosts(tmp_path / "vm_hosts.toml", declared(vm_host_box))
    result = subprocess.run(
        [DRIFT, "drift", "inventories/vms.py", "deploys/linux_vm.py", "--json"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "OPENCLAW_VM_HOSTS_FILE": str(hosts_file), "XDG_CACHE_HOME": str(tmp_path / "cache")},
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    report = json.loads(result.stdout)
    assert result.returncode == report["exit_code"] == EXIT_DRIFT, result.stdout + result.stderr
    by_host = {host["host"]: host for host in report["hosts"]}
    # The VM itself was checked through the jump (no gateway deployed on it: drift, not "could not be checked").
    assert by_host["vm-with-address"]["status"] == "drift"
    assert any(check["check"] == "service openclaw-gateway.service" for check in by_host["vm-with-address"]["checks"])
    for name, found in (
        ("vm-off", "stopped (virsh says 'shut off')"),
        ("vm-gone", "missing (virsh lists no VM of that name)"),
    ):
        assert by_host[name]["status"] == "drift"
        assert by_host[name]["checks"] == [
            {
                "check": f"VM on {vm_host_box.name}",
                "expected": "running, as declared",
                "found": found,
                "within": None,
                "ok": False,
            }
        ]
