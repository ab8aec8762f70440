"""The facts on real sandbox hosts, read through the pyinfra CLI (``pyinfra inventories/sandbox.py fact … --json``)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest

from openclaw_infra.facts.ports import ListeningSocket, Protocol, listeners_on, listening_beyond_loopback
from sandbox_hosts import SandboxHost
from tests.helpers import fact_json, facts_json, run_pyinfra

pytestmark = pytest.mark.sandbox

HERE = Path(__file__).resolve().parent
LISTENER_PROGRAM = "/tmp/my listener"  # a copy of python3: its process name holds a space
BASE_PORT = 41000
LIBVIRT_TEST_NODE = HERE.parent / "fixtures" / "facts" / "libvirt_test_node.xml"
GIB = 1024**3

# listener.py's sockets: port → (protocol, family, address, wildcard, loopback)
LISTENER_SOCKETS = {
    BASE_PORT: ("tcp", "ipv4", "0.0.0.0", True, False),  # noqa: S104 - expected reading, not a bind
    BASE_PORT + 1: ("tcp", "ipv6", "::", True, False),  # IPv6 only
    BASE_PORT + 2: ("tcp", "ipv6", "::", True, False),  # dual-stack
    BASE_PORT + 3: ("tcp", "ipv4", "127.0.0.1", False, True),
    BASE_PORT + 4: ("tcp", "ipv6", "::1", False, True),
    BASE_PORT + 5: ("udp", "ipv4", "127.0.0.1", False, True),
}


def _upload(host: SandboxHost, text: str, path: str) -> None:
    host.run(f"cat > '{path}' <<'OPENCLAW_EOF'\n{text}OPENCLAW_EOF")


@pytest.fixture(scope="module")
def listener(shared_sandbox_host: SandboxHost) -> Iterator[tuple[SandboxHost, int]]:
    """``listener.py`` running as '/tmp/my listener' under systemd; yields the host and the listener's pid."""
    host = shared_sandbox_host
    _upload(host, (HERE / "listener.py").read_text(encoding="utf-8"), "/tmp/listener.py")
    host.run(f"cp /usr/bin/python3 '{LISTENER_PROGRAM}' && rm -f /tmp/listener.ready")
    host.run(
        f"systemd-run --unit=fact-listener --collect -- '{LISTENER_PROGRAM}' /tmp/listener.py "
        f"/tmp/listener.ready {BASE_PORT}"
    )
    try:
        host.run("for i in $(seq 100); do [ -e /tmp/listener.ready ] && exit 0; sleep 0.1; done; exit 1")
        pid = int(host.run("systemctl show -p MainPID --value fact-listener").stdout)
        yield host, pid
    finally:
        host.run("systemctl stop fact-listener", check=False)


@pytest.mark.parametrize(
    ("tool", "udp"), [(None, False), ("ss", True), ("lsof", True), ("lsof", False)], ids=lambda v: str(v)
)
def test_listening_ports(listener: tuple[SandboxHost, int], tool: str | None, udp: bool) -> None:
    host, pid = listener
    args: dict[str, object] = {"udp": udp} if tool is None else {"udp": udp, "tool": tool}
    sockets = [ListeningSocket.from_json(item) for item in fact_json(host, "ports.ListeningPorts", **args)]

    mine = [socket for socket in sockets if socket.pid == pid]
    expected = {(port, *shape) for port, shape in LISTENER_SOCKETS.items() if udp or shape[0] == "tcp"}
    assert {(s.port, s.protocol, s.family, s.address, s.wildcard, s.loopback) for s in mine} == expected
    assert {socket.process for socket in mine} == {"my listener"}
    if tool == "ss":
        # ss tells the dual-stack wildcard ('*') from the IPv6-only one ('[::]'); lsof prints '*' for both.
        assert {s.port: s.raw_address for s in mine if s.port in (BASE_PORT + 1, BASE_PORT + 2)} == {
            BASE_PORT + 1: "[::]",
            BASE_PORT + 2: "*",
        }

    sshd = listeners_on(sockets, 22)
    assert sshd and {socket.process for socket in sshd} == {"sshd"}
    for port, (protocol, *_, loopback) in LISTENER_SOCKETS.items():
        if udp or protocol == "tcp":
            assert listening_beyond_loopback(sockets, port, Protocol(protocol)) is not loopback
    assert not listening_beyond_loopback(sockets, BASE_PORT + 9)


def test_ufw_before_and_after_enabling(sandbox_host: SandboxHost) -> None:
    before = fact_json(sandbox_host, "ufw.UfwStatus")
    assert before["active"] is False
    assert before["rules"] == []

    sandbox_host.run(
        "ufw allow 22/tcp && ufw deny proto tcp from 192.0.2.0/24 to any port 41000 comment 'test net' "
        "&& ufw --force enable"
    )
    after = fact_json(sandbox_host, "ufw.UfwStatus")

    assert after["active"] is True
    assert (after["default_incoming"], after["default_outgoing"]) == ("deny", "allow")
    assert after["logging"] is not None and after["logging"].startswith("on")
    rules = {
        (r["to"]["address"], r["action"], r["direction"], r["source"]["address"], r["ipv6"], r["comment"])
        for r in after["rules"]
    }
    assert rules == {
        ("22/tcp", "ALLOW", "IN", "Anywhere", False, None),
        ("22/tcp", "ALLOW", "IN", "Anywhere", True, None),
        ("41000/tcp", "DENY", "IN", "192.0.2.0/24", False, "test net"),
    }


def test_libvirt_test_driver_default(shared_sandbox_host: SandboxHost) -> None:
    (vm,) = fact_json(shared_sandbox_host, "libvirt.LibvirtVms", uri="test:///default")

    uuid = shared_sandbox_host.run("virsh -c test:///default domuuid test").stdout.strip()
    assert (vm["name"], vm["state"], vm["raw_state"], vm["uuid"]) == ("test", "running", "running", uuid)
    assert vm["cpus"] == 2 and vm["memory_bytes"] == 8 * GIB  # the test driver's built-in domain
    assert vm["ipv4"] and all(ipaddress.ip_address(address).version == 4 for address in vm["ipv4"])


def test_libvirt_names_with_spaces_and_every_state(shared_sandbox_host: SandboxHost) -> None:
    _upload(shared_sandbox_host, LIBVIRT_TEST_NODE.read_text(encoding="utf-8"), "/tmp/libvirt-test-node.xml")

    vms = fact_json(shared_sandbox_host, "libvirt.LibvirtVms", uri="test:///tmp/libvirt-test-node.xml")

    # What libvirt_test_node.xml defines: runstate 5 is shut off, 3 paused; memory in MiB/GiB there.
    by_name = {vm["name"]: (vm["state"], vm["raw_state"], vm["cpus"], vm["memory_bytes"]) for vm in vms}
    assert by_name == {
        "gateway vm": ("running", "running", 2, 2 * GIB),
        "paused-vm": ("suspended", "paused", 1, GIB // 2),
        "stopped-vm": ("stopped", "shut off", 4, 4 * GIB),
    }
    gateway = next(vm for vm in vms if vm["name"] == "gateway vm")
    network = ipaddress.ip_network("192.168.122.0/24")
    assert gateway["ipv4"] and all(ipaddress.ip_address(address) in network for address in gateway["ipv4"])


def test_macos_and_absent_tools_give_empty_results(shared_sandbox_host: SandboxHost) -> None:
    values = facts_json(
        shared_sandbox_host,
        ("lume.LumeVms", {}),
        ("parallels.ParallelsVms", {}),
        ("multipass.MultipassVms", {}),
        ("utm.UtmVms", {}),
        ("launchctl.LaunchctlJob", {"label": "ai.openclaw.gateway"}),
        ("launchctl.LaunchctlList", {}),
        ("application_firewall.MacosApplicationFirewall", {}),
        ("pf.PfEnabled", {}),
        ("pf.PfAnchorRules", {}),
    )
    assert values == [[], [], [], [], None, {}, None, None, []]


def test_a_missing_cli_is_empty_but_a_broken_one_fails(sandbox_host: SandboxHost) -> None:
    # libvirtd is not running: virsh is there, the hypervisor is not. That must fail, not read as "no VMs".
    broken = run_pyinfra([sandbox_host], "fact", "openclaw_infra.facts.libvirt.LibvirtVms", "--json")
    assert "could not load fact: openclaw_infra.facts.libvirt.LibvirtVms" in broken.stderr

    sandbox_host.run("rm /usr/bin/virsh /usr/sbin/ufw")
    assert facts_json(sandbox_host, ("libvirt.LibvirtVms", {}), ("ufw.UfwStatus", {})) == [[], None]
