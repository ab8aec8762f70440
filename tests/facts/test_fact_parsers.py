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
    result = _fact_for(fixture).process(data["output"])
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
