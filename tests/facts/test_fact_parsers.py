"""Behaviour of the fact parsers beyond the fixtures: secrets, helpers, CLI serialisation, argument checks."""

from __future__ import annotations

import json
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
from pyinfra.api.exceptions import FactProcessError
from pyinfra_cli.util import json_encode

from openclaw_infra.facts.launchctl import LaunchctlJob
from openclaw_infra.facts.libvirt import LibvirtVms
from openclaw_infra.facts.lume import LumeVms
from openclaw_infra.facts.parallels import ParallelsVms
from openclaw_infra.facts.pf import PfAnchorRules
from openclaw_infra.facts.ports import (
    ListeningPorts,
    ListeningSocket,
    Protocol,
    listeners_on,
    listening_beyond_loopback,
)
from openclaw_infra.facts.ufw import UfwStatus

from .test_fact_fixtures import FIXTURES, _fact_classes

READABLE_FIXTURES = sorted(FIXTURES.glob("*/*.json"))
IPV4_ANY = "0.0.0.0"  # noqa: S104 - an address read from ss, not one bound to


def _fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def _fact_for(fixture: Path) -> Any:
    module_name, class_name = fixture.parent.name.rsplit(".", 1)
    return getattr(import_module(f"openclaw_infra.facts.{module_name}"), class_name)()


@pytest.mark.parametrize("fixture", READABLE_FIXTURES, ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_pyinfra_cli_prints_the_fixture_result(fixture: Path) -> None:
    # `pyinfra … fact X --json` encodes with pyinfra_cli's json_encode, which knows no dataclasses: the
    # records must serialise through their to_json to exactly the fixture's JSON.
    data = json.loads(fixture.read_text(encoding="utf-8"))
    fact = _fact_for(fixture)
    # As pyinfra does: the command, then process on the same instance (some facts keep what they were asked).
    fact.command(**data["arg"])
    result = fact.process(data["output"])
    assert json.loads(json.dumps(result, default=json_encode)) == data["fact"]


@pytest.mark.parametrize("fact_path", _fact_classes())
def test_fact_docstring_shows_an_example(fact_path: str) -> None:
    module_name, class_name = fact_path.rsplit(".", 1)
    doc = getattr(import_module(f"openclaw_infra.facts.{module_name}"), class_name).__doc__ or ""
    assert "Runs ``" in doc and ".. code:: python" in doc


# launchctl ---------------------------------------------------------------------------------------------


def test_launchctl_job_keeps_environment_names_never_values() -> None:
    output = list(_fixture("launchctl.LaunchctlJob/gui_agent_not_running_calendar.json")["output"])
    environment = output.index("\tenvironment = {")
    output.insert(environment + 1, "\t\tOPENCLAW_GATEWAY_TOKEN => tok-5f2c9e0a-secret")

    job = LaunchctlJob().process(output)

    assert job is not None
    assert "OPENCLAW_GATEWAY_TOKEN" in job.environment_keys
    printed = json.dumps(job, default=json_encode)
    assert "tok-5f2c9e0a-secret" not in printed
    assert "/usr/local/bin:/System/Cryptexes" not in printed  # the PATH value of the same block


def test_launchctl_job_without_a_header_is_unreadable() -> None:
    with pytest.raises(FactProcessError, match="'state = running'"):
        LaunchctlJob().process(["state = running", "pid = 12"])


@pytest.mark.parametrize(
    ("label", "domain"),
    [("ai.openclaw.gateway", "gui/abc"), ("ai.openclaw.gateway", "pid/12"), ("two words", "system"), ("a/b", "system")],
)
def test_launchctl_job_refuses_bad_targets(label: str, domain: str) -> None:
    with pytest.raises(ValueError):
        LaunchctlJob().command(label=label, domain=domain)


# VM lists ----------------------------------------------------------------------------------------------


def test_lume_finds_its_json_between_log_lines() -> None:
    data = _fixture("lume.LumeVms/json_running_test_fixture.json")
    # Synthetic log lines in lume's '[time] LEVEL: message' form, one of them a valid JSON array.
    noisy = [
        "[2025-06-01T10:00:00Z] INFO: Listing VMs",
        "[1]",
        *data["output"],
        "[2025-06-01T10:00:01Z] INFO: Done",
    ]
    assert json.loads(json.dumps(LumeVms().process(noisy), default=json_encode)) == data["fact"]


def test_prlctl_keeps_only_ipv4() -> None:
    # The value row of shared/fixtures/real-outputs/prlctl_list__ip_configured_only_ipv4_ipv6.txt, trailing spaces kept.
    ip_configured = "10.211.55.3  fdb2:2c26:f4e4:0:34a5:e9e2:a530:d5ff fe80::a22a:acc8:4abd:345c   "
    listed = [
        {
            "uuid": "4eb49f98-7f09-4b43-a3f1-35f285ad4d26",
            "status": "running",
            "ip_configured": ip_configured,
            "name": "vm",
        }
    ]
    (vm,) = ParallelsVms().process(json.dumps(listed, indent="\t").splitlines())
    assert vm.ipv4 == ("10.211.55.3",)


@pytest.mark.parametrize(("uri", "source"), [("qemu:///system'; rm -rf /", "lease"), ("test:///default", "dhcp")])
def test_libvirt_refuses_bad_arguments(uri: str, source: str) -> None:
    with pytest.raises(ValueError):
        LibvirtVms().command(uri=uri, address_source=source)


def test_libvirt_names_outside_ascii_are_kept_and_never_collide() -> None:
    # virsh 9.0's LC_ALL=C 'list --all' table prints both café and cafñ as 'caf\xff\xff' (captured here, see the
    # fixture's note); the fact reads each name from dominfo, listed by UUID.
    vms = LibvirtVms().process(_fixture("libvirt.LibvirtVms/live_test_driver_non_ascii_names.json")["output"])
    by_name = {vm.name: vm.uuid for vm in vms}
    assert len(by_name) == len({vm.uuid for vm in vms}) == 4
    assert by_name["café"] == "4b7a6bde-6c2f-4b8e-9d7a-0a1e2f3c4d5e"
    assert by_name["cafñ"] == "5b7a6bde-6c2f-4b8e-9d7a-0a1e2f3c4d5e"
    assert by_name["caf\\xc3\\xa9"] == "6b7a6bde-6c2f-4b8e-9d7a-0a1e2f3c4d5e"
    assert by_name["日本 vm"] == "7b7a6bde-6c2f-4b8e-9d7a-0a1e2f3c4d5e"


def test_libvirt_domain_without_dominfo_is_unreadable() -> None:
    # dominfo failed (the domain went away between the list and the lookup; virsh's error went to stderr).
    output = _fixture("libvirt.LibvirtVms/live_test_driver_three_states.json")["output"]
    mark = "### vm: 9b7a6bde-6c2f-4b8e-9d7a-0a1e2f3c4d5e"
    with pytest.raises(FactProcessError, match=repr(mark)):
        LibvirtVms().process([*output, mark])


# ports -------------------------------------------------------------------------------------------------


def _sockets(name: str) -> list[ListeningSocket]:
    result: list[ListeningSocket] = ListeningPorts().process(_fixture(name)["output"])
    return result


def test_who_listens_on_a_port() -> None:
    sockets = _sockets("ports.ListeningPorts/tlnp_nonroot_mixed_ipv4_ipv6_scoped.json")
    (gateway,) = listeners_on(sockets, 18791)
    assert (gateway.pid, gateway.process, gateway.address) == (1724057, "openclaw-gatewa", "127.0.0.1")
    assert {socket.address for socket in listeners_on(sockets, 5678)} == {IPV4_ANY, "::"}
    assert listeners_on(sockets, 18791, Protocol.UDP) == []
    assert listeners_on(sockets, 9) == []


@pytest.mark.parametrize(
    ("port", "exposed"),
    [
        (18791, False),  # 127.0.0.1
        (18789, True),  # 0.0.0.0
        (53, False),  # 127.0.0.53%lo and 127.0.0.54
        (54329, False),  # 127.0.0.1 and [::1]
        (3001, True),  # '*', the dual-stack wildcard
        (9, False),  # nothing
    ],
)
def test_listening_beyond_loopback(port: int, exposed: bool) -> None:
    sockets = _sockets("ports.ListeningPorts/tlnp_nonroot_mixed_ipv4_ipv6_scoped.json")
    assert listening_beyond_loopback(sockets, port) is exposed


def test_a_wildcard_bound_to_a_device_is_beyond_loopback_on_that_protocol_only() -> None:
    sockets = _sockets("ports.ListeningPorts/tulpen_sudo_ubuntu1804_users_multi_pid_scoped_addr.json")
    (dhcp,) = listeners_on(sockets, 67, Protocol.UDP)
    assert (dhcp.address, dhcp.interface, dhcp.wildcard, dhcp.loopback) == (IPV4_ANY, "virbr0", True, False)
    assert listening_beyond_loopback(sockets, 67, Protocol.UDP)
    assert not listening_beyond_loopback(sockets, 67, Protocol.TCP)


def test_one_record_per_process_sharing_a_socket() -> None:
    sockets = _sockets("ports.ListeningPorts/tulpen_sudo_ubuntu1804_users_multi_pid_scoped_addr.json")
    apache = listeners_on(sockets, 80)
    assert {socket.process for socket in apache} == {"/usr/sbin/apach"}
    assert sorted(socket.pid for socket in apache) == [2079, 2153, 2154, 2155, 2156, 2157, 24795]


@pytest.mark.parametrize("name", ["live_lsof_fields_debian12.json", "tlnp_nonroot_mixed_ipv4_ipv6_scoped.json"])
def test_listening_socket_json_round_trip(name: str) -> None:
    sockets = _sockets(f"ports.ListeningPorts/{name}")
    assert [ListeningSocket.from_json(socket.to_json()) for socket in sockets] == sockets


def test_ss_connection_rows_are_unreadable() -> None:
    line = 'ESTAB 0      0      10.0.0.2:22   10.0.0.1:51234 users:(("sshd",pid=9,fd=4))'
    with pytest.raises(FactProcessError, match="ESTAB"):
        ListeningPorts().process([line])


@pytest.mark.parametrize("fact", [ListeningPorts(), UfwStatus(), LibvirtVms()], ids=type)
@pytest.mark.parametrize("output", [[""], ["", "  "], ["\t"]])
def test_blank_output_is_unreadable(fact: Any, output: list[str]) -> None:
    # pyinfra calls process() only when the command printed something: blank lines alone are that case. ss -H, lsof,
    # ufw status and the libvirt fact's command never print just that.
    with pytest.raises(FactProcessError, match="only blank lines"):
        fact.process(output)


def test_ss_owner_names_hold_quotes_commas_and_spaces() -> None:
    # iproute2's misc/ss.c (find_entry) prints '("%s",pid=%d,%sfd=%d)' with the comm unescaped, read from
    # /proc/PID/stat with '%[^)]': '"', ',' and spaces come through, ')' ends the name. Captured here, see the fixture.
    sockets = _sockets("ports.ListeningPorts/live_ss_comm_quote_comma_paren_device_scopes_debian12.json")
    owners = {socket.process: socket.pid for socket in sockets if socket.port < 47200}
    assert owners == {
        'a"b': 21521,
        "my": 21522,  # the comm was 'my)srv'
        "a,b c": 21523,
        'x",pid=5,fd=3': 21524,
        'srv"a': 21525,
        'srv","b': 21526,
    }
    assert {socket.process for socket in listeners_on(sockets, 47104)} == {'srv"a', 'srv","b'}


def test_an_ss_owner_it_cannot_read_is_unreadable() -> None:
    # Real `ss -HlntpT` output (iproute2 6.1.0, captured here): -T adds 'tid=' to each entry. The fact never passes
    # -T, but an owner it cannot read must fail the host rather than vanish.
    line = 'LISTEN 0      128    127.0.0.1:47300 0.0.0.0:* users:(("a"b",pid=22630,tid=22630,fd=3))'
    with pytest.raises(FactProcessError, match="expected users"):
        ListeningPorts().process([line])


@pytest.mark.parametrize(
    ("local", "address", "interface", "loopback"),
    [
        # ss since iproute2 4.13 (commit aba9c23a brackets IPv6), captured here: see the live ss fixture.
        ("[fe80::fc:ff:fe00:1]%eth0:47201", "fe80::fc:ff:fe00:1", "eth0", False),
        ("[::1]%lo:47203", "::1", "lo", True),
        ("*%lo:47202", "::", "lo", True),
        # ss before 4.13 printed the address unbracketed, the scope after it (misc/ss.c before aba9c23a).
        ("fe80::1%eth0:22", "fe80::1", "eth0", False),
        # The zone inside the brackets (RFC 6874; BSD sockstat's and Go's form): no tool we read prints it.
        ("[fe80::1%eth0]:22", "fe80::1", "eth0", False),
        ("[fe80::1%lo0]:22", "fe80::1", "lo0", True),
    ],
)
def test_ss_device_scopes(local: str, address: str, interface: str, loopback: bool) -> None:
    (socket,) = ListeningPorts().process([f'LISTEN 0      128    {local} [::]:* users:(("sshd",pid=1,fd=3))'])
    assert (socket.address, socket.interface, socket.loopback) == (address, interface, loopback)


def test_lsof_on_macos_reads_the_interface_inside_a_link_local_address() -> None:
    # miry/samples, experiments/2-tcp-server-port-reuse/README.md (commit 3618e772): `lsof -nP -iTCP:3000 | grep
    # LISTEN` on macOS, under the header of that file's unfiltered `lsof -nP -iTCP:3000`. macOS keeps fe80::1%lo0's
    # interface index (1, lo0) in the address's second word, and lsof prints it so: '[fe80:1::1]'.
    output = [
        "COMMAND     PID USER   FD   TYPE             DEVICE SIZE/OFF NODE NAME",
        "crystal-r 77323 miry   11u  IPv6 0x5ba3efab06a43411      0t0  TCP [::1]:3000 (LISTEN)",
        "crystal-r 77665 miry   11u  IPv6 0x5ba3efab06a45c51      0t0  TCP [fe80:1::1]:3000 (LISTEN)",
        "crystal-r 77911 miry   11u  IPv4 0x5ba3efab11f0a859      0t0  TCP 127.0.0.1:3000 (LISTEN)",
    ]
    sockets = ListeningPorts().process(output)
    assert [(socket.address, socket.interface, socket.loopback) for socket in sockets] == [
        ("::1", None, True),
        ("fe80::1", "lo0", True),
        ("127.0.0.1", None, True),
    ]
    assert not listening_beyond_loopback(sockets, 3000)
    # Another interface keeps its index: a macOS `lsof -i | grep LISTEN` row (public markdown notes, index file id
    # 45641087756, repository not resolvable) with dnsmasq on en0's link-local address.
    line = "dnsmasq 68556 nobody 19u IPv6 0x9f77ff03c04a1ae1 0t0 TCP [fe80:4::aede:48ff:fe00:1122]:53 (LISTEN)"
    (dnsmasq,) = ListeningPorts().process([output[0], line])
    assert (dnsmasq.address, dnsmasq.interface, dnsmasq.loopback) == ("fe80::aede:48ff:fe00:1122", "4", False)


def test_ports_refuses_an_unknown_tool() -> None:
    with pytest.raises(ValueError):
        ListeningPorts().command(tool="netstat")


# firewalls ---------------------------------------------------------------------------------------------


def test_ufw_rule_row_without_an_action_is_unreadable() -> None:
    output = [
        "Status: active",
        "",
        "To                         Action      From",
        "--  ------  ----",
        "22/tcp    PERMIT    Anywhere",
    ]
    with pytest.raises(FactProcessError, match="'22/tcp    PERMIT    Anywhere'"):
        UfwStatus().process(output)


def test_pf_refuses_a_bad_anchor_name() -> None:
    with pytest.raises(ValueError):
        PfAnchorRules().command(anchor="x; pfctl -d")


@pytest.mark.parametrize("output", [["maybe"], ["answers", "silent"], [""]])
def test_tcp_port_answers_refuses_output_it_cannot_read(output: list[str]) -> None:
    from openclaw_infra.facts.tcp_port import TcpPortAnswers

    with pytest.raises(FactProcessError):
        TcpPortAnswers().process(output)


@pytest.mark.parametrize("address", ["host.example", "127.0.0.1; reboot", ""])
def test_tcp_port_answers_takes_addresses_only(address: str) -> None:
    from openclaw_infra.facts.tcp_port import TcpPortAnswers

    with pytest.raises(ValueError):
        TcpPortAnswers().command(address)
