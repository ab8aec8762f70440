"""The one definition of a deployed host's expected state, on fact values in the form pyinfra's --json prints."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from openclaw_infra.expected_state import ExpectedState, FactRequest
from openclaw_infra.host_settings import settings_for_host
from openclaw_infra.secrets_file import environment_file_content

TOKEN = {"OPENCLAW_GATEWAY_TOKEN": {"env": "TEST_OPENCLAW_TOKEN"}}
GROUP_MEMBERS = "openclaw_infra.facts.accounts.GroupMembers"
FACT_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "facts"


@pytest.fixture(autouse=True)
def _token_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_OPENCLAW_TOKEN", "tok-abc-123")
    monkeypatch.setenv("TEST_WA_TOKEN", "tok-wa-456")


# Profile wa's own token (each gateway its own).
WA = {"profile": "wa", "port": 18809, "secrets": {"OPENCLAW_GATEWAY_TOKEN": {"env": "TEST_WA_TOKEN"}}}


def expected(**data: Any) -> ExpectedState:
    return ExpectedState(settings_for_host("gw1", {"openclaw_secrets": TOKEN, **data}), health_wait_seconds=5)


WILDCARD = "0.0.0.0"  # noqa: S104 - an address read from ss, not one bound to
# What systemd said of the unit this deploy wrote, on a sandbox host (the fact's own fixture).
DEPLOYED_UNIT = json.loads(
    (FACT_FIXTURES / "systemd_unit.SystemdUnitState" / "as_deployed.json").read_text(encoding="utf-8")
)["fact"]


# The digest of the egress table as the deploy loaded it, and as the kernel still lists it.
LOADED_TABLE = "a" * 64
SANDBOX_NET = {"id": "3f1c0e9a2b7d", "name": "openclaw-sandbox", "driver": "bridge", "internal": True}
EGRESS_NET = {"id": "8d2e4b6a0c1f", "name": "openclaw-egress", "driver": "bridge", "internal": False}


def healthy_values(state: ExpectedState) -> dict[FactRequest, Any]:
    """What a freshly deployed default host answers (shapes as `pyinfra … fact … --json` prints them)."""
    secrets_sha = hashlib.sha256(
        environment_file_content(state.host_settings.secrets_of(state.settings.gateways[0])).encode()
    ).hexdigest()
    by_fact: dict[str, Any] = {
        "openclaw_infra.facts.ports.ListeningPorts": [
            {"protocol": "tcp", "family": "ipv4", "address": "127.0.0.1", "port": 18789, "pid": 10,
             "process": "openclaw-gatewa", "raw_address": "127.0.0.1", "interface": None,
             "wildcard": False, "loopback": True},
            {"protocol": "tcp", "family": "ipv4", "address": WILDCARD, "port": 22, "pid": 1, "process": "sshd",
             "raw_address": WILDCARD, "interface": None, "wildcard": True, "loopback": False},
        ],
        "openclaw_infra.facts.installed_versions.NodeVersion": "24.21.0",
        "openclaw_infra.facts.installed_versions.OpenClawVersion": "2026.9.6",
        "openclaw_infra.facts.ufw.UfwStatus": {
            "active": True, "logging": "on (low)", "default_incoming": "deny", "default_outgoing": "allow",
            "default_routed": "disabled", "rules": [],
        },
        "systemd.SystemdStatus": {"openclaw-gateway.service": True},
        "openclaw_infra.facts.gateway_health.GatewayHealthCheck": {
            "healthy": True, "answer": '{"ok":true,"status":"live"}', "waited_seconds": 0,
        },
        "files.Directory": {"user": "openclaw", "group": "openclaw", "mode": 700},
        "files.Sha256File": secrets_sha,
        "openclaw_infra.facts.accounts.GroupMembers": ["openclaw"],
        "openclaw_infra.facts.file_tree.ForeignEntries": {"count": 0, "sample": []},
        "openclaw_infra.facts.systemd_unit.SystemdUnitState": DEPLOYED_UNIT,
        "openclaw_infra.facts.systemd_unit.SystemdSecurityExposure": 1.3,
        "openclaw_infra.facts.stray_secrets.FilesHoldingSecrets": [],
        "openclaw_infra.facts.docker_networks.DockerNetworks": {
            "openclaw-sandbox": SANDBOX_NET, "openclaw-egress": EGRESS_NET,
        },
        "openclaw_infra.facts.docker_containers.DockerImage": {"id": "sha256:" + "5" * 64, "labels": {}},
        "openclaw_infra.facts.nftables.NftTableDigest": LOADED_TABLE,
        "files.FileContents": [LOADED_TABLE],
    }  # fmt: skip
    values = {}
    for request in state.requests():
        if request.fact == "files.File":
            path = dict(request.args)["path"]
            owner = ("root", "root") if str(path).startswith("/etc/") else ("openclaw", "openclaw")
            values[request] = {"user": owner[0], "group": owner[1], "mode": 600}
        else:
            values[request] = by_fact[request.fact]
    return values


def failing(state: ExpectedState, values: dict[FactRequest, Any]) -> dict[str, str]:
    return {check.check: check.found for check in state.checks(values) if not check.ok}


def test_a_healthy_host_passes_every_check() -> None:
    state = expected()
    checks = state.checks(healthy_values(state))
    assert len(checks) == 22 and all(check.ok for check in checks), [c for c in checks if not c.ok]


def test_requests_are_what_pyinfras_cli_takes() -> None:
    requests = expected(openclaw_gateways=[{"port": 18789}, WA]).requests()
    facts = [request.fact for request in requests]
    # Health first (it waits for gateways just restarted), and what listens only after every gateway answered.
    assert facts[:2] == ["openclaw_infra.facts.gateway_health.GatewayHealthCheck"] * 2
    assert facts[2] == "openclaw_infra.facts.ports.ListeningPorts"
    words = [word for request in requests for word in request.cli_words()]
    assert "services=openclaw-gateway.service" in words and "path=/etc/openclaw/secrets.env" in words
    fact_class, kwargs = FactRequest("files.File", (("path", "/srv/open claw/x"),)).resolve()
    assert (fact_class.__module__, fact_class.__name__, kwargs) == (
        "pyinfra.facts.files",
        "File",
        {"path": "/srv/open claw/x"},
    )


@pytest.mark.parametrize(
    ("fact", "value", "check", "found"),
    [
        (
            "systemd.SystemdStatus",
            {"openclaw-gateway.service": False},
            "service openclaw-gateway.service",
            "not active",
        ),
        (
            "openclaw_infra.facts.gateway_health.GatewayHealthCheck",
            {"healthy": False, "answer": "no-answer: curl: (7) Failed to connect", "waited_seconds": 5},
            "health 127.0.0.1:18789",
            "no answer (no-answer: curl: (7) Failed to connect)",
        ),
        ("openclaw_infra.facts.installed_versions.OpenClawVersion", "2026.9.5", "openclaw version", "2026.9.5"),
        ("openclaw_infra.facts.installed_versions.NodeVersion", None, "node version", "not installed"),
        ("openclaw_infra.facts.ufw.UfwStatus", None, "firewall (ufw)", "not installed"),
        ("files.Sha256File", "0" * 64, "checksum /etc/openclaw/secrets.env", "sha256 000000000000"),
        ("files.Directory", None, "mode /home/openclaw/.openclaw", "missing"),
        (
            "openclaw_infra.facts.accounts.GroupMembers",
            ["admin", "openclaw"],
            "docker group members",
            "admin, openclaw",
        ),
        ("openclaw_infra.facts.accounts.GroupMembers", None, "docker group members", "no docker group"),
        (
            "openclaw_infra.facts.file_tree.ForeignEntries",
            {"count": 4, "sample": [
                {"path": "/home/openclaw/.openclaw/x.db", "user": "root", "group": "root", "mode": "600", "kind": "f"},
                {"path": "/home/openclaw/.profile", "user": "openclaw", "group": "openclaw", "mode": "644",
                 "kind": "f"},
            ]},
            "owners and modes under /home/openclaw",
            "root:root 600 /home/openclaw/.openclaw/x.db; openclaw:openclaw 644 /home/openclaw/.profile; "
            "and 2 more",
        ),
        (
            "openclaw_infra.facts.systemd_unit.SystemdUnitState",
            {**DEPLOYED_UNIT, "properties": {**DEPLOYED_UNIT["properties"], "User": "root", "NoNewPrivileges": "no"}},
            "effective settings openclaw-gateway.service",
            "User=root (deployed: openclaw); NoNewPrivileges=no (deployed: yes)",
        ),
        (
            "openclaw_infra.facts.systemd_unit.SystemdUnitState",
            {**DEPLOYED_UNIT, "drop_in_files": ["/etc/systemd/system/openclaw-gateway.service.d/zz.conf"]},
            "drop-ins openclaw-gateway.service",
            "/etc/systemd/system/openclaw-gateway.service.d/zz.conf",
        ),
        ("openclaw_infra.facts.systemd_unit.SystemdSecurityExposure", 9.6, "hardening openclaw-gateway.service",
         "exposure 9.6"),
        ("openclaw_infra.facts.systemd_unit.SystemdSecurityExposure", None, "hardening openclaw-gateway.service",
         "unit not loaded"),
        (
            "openclaw_infra.facts.stray_secrets.FilesHoldingSecrets",
            ["/home/openclaw/.openclaw/secrets.bak"],
            "copies of /etc/openclaw/secrets.env under /home/openclaw",
            "/home/openclaw/.openclaw/secrets.bak",
        ),
        # The agents' sandbox: the egress table flushed or changed by hand, deleted; a network gone; no image.
        (
            "openclaw_infra.facts.nftables.NftTableDigest",
            "b" * 64,
            "egress rules inet openclaw_egress",
            "changed since loaded (sha256 bbbbbbbbbbbb, loaded aaaaaaaaaaaa)",
        ),
        ("openclaw_infra.facts.nftables.NftTableDigest", None, "egress rules inet openclaw_egress", "no such table"),
        (
            "openclaw_infra.facts.docker_networks.DockerNetworks",
            {"openclaw-egress": EGRESS_NET},
            "docker networks",
            "openclaw-sandbox missing, openclaw-egress routed",
        ),
        (
            "openclaw_infra.facts.docker_containers.DockerImage",
            None,
            "sandbox image openclaw-infra/sandbox:bookworm",
            "missing",
        ),
    ],
)
def test_each_departure_is_named(fact: str, value: Any, check: str, found: str) -> None:
    state = expected()
    values = healthy_values(state)
    values.update({request: value for request in values if request.fact == fact})
    assert failing(state, values) == {check: found}


def test_a_listener_beyond_loopback_is_named_with_its_address() -> None:
    state = expected()
    values = healthy_values(state)
    (ports,) = [request for request in values if request.fact.endswith("ListeningPorts")]
    values[ports] = [*values[ports], {**values[ports][0], "address": WILDCARD, "loopback": False}]
    assert failing(state, values) == {"listening :18789": "0.0.0.0:18789"}


@pytest.mark.parametrize(
    ("port", "check"),
    [(18790, "listening :18790-18791 (browser)"), (18791, "listening :18790-18791 (browser)"),
     (18899, "listening :18800-18899 (CDP)")],
)  # fmt: skip
def test_every_port_the_gateway_owns_is_loopback_only(port: int, check: str) -> None:
    state = expected()
    values = healthy_values(state)
    (ports,) = [request for request in values if request.fact.endswith("ListeningPorts")]
    stray = {**values[ports][0], "address": WILDCARD, "loopback": False, "port": port, "process": "nc"}
    values[ports] = [*values[ports], stray]
    assert failing(state, values) == {check: f"0.0.0.0:{port}"}


def test_another_gateways_own_port_is_not_judged_as_this_ones_cdp_port() -> None:
    state = expected(
        openclaw_gateways=[{"port": 18789}, {**WA, "bind": "lan"}],
        openclaw_firewall={"gateway_allowed_sources": ["192.0.2.10"]},
    )
    values = healthy_values(state)
    (ports,) = [request for request in values if request.fact.endswith("ListeningPorts")]
    values[ports] = [*values[ports], {**values[ports][0], "address": WILDCARD, "loopback": False, "port": 18809}]
    assert failing(state, values).get("listening :18800-18899 (CDP)") is None


def bound(bind: str, *addresses: str) -> dict[str, str]:
    """The failing checks of a gateway bound as ``bind`` whose own port is listened on at ``addresses`` only."""
    state = expected(
        openclaw_gateways=[{"bind": bind}], openclaw_firewall={"gateway_allowed_sources": ["192.0.2.10"]}
    )
    values = healthy_values(state)
    (ports,) = [request for request in values if request.fact.endswith("ListeningPorts")]
    gateway_socket, ssh = values[ports]
    values[ports] = [
        *({**gateway_socket, "address": address, "loopback": address in ("127.0.0.1", "::1")} for address in addresses),
        ssh,
    ]
    return failing(state, values)


@pytest.mark.parametrize(
    ("bind", "addresses", "found"),
    [
        ("lan", [WILDCARD], None),  # where OpenClaw listens with bind lan (seen live)
        ("lan", ["127.0.0.1"], None),
        ("lan", [WILDCARD, "::"], ":::18789"),  # IPv6 too: wider than lan
        ("lan", ["10.9.8.7"], "10.9.8.7:18789"),
        ("tailnet", ["100.101.102.103"], None),  # the host's Tailscale address
        ("tailnet", ["127.0.0.1"], None),  # no tailnet address: OpenClaw falls back to loopback
        ("tailnet", [WILDCARD], "0.0.0.0:18789"),
        ("tailnet", ["192.168.1.20"], "192.168.1.20:18789"),
        ("loopback", [WILDCARD], "0.0.0.0:18789"),
    ],
)
def test_the_gateway_port_is_held_to_exactly_its_bind(bind: str, addresses: list[str], found: str | None) -> None:
    failures = bound(bind, *addresses)
    assert failures.get("listening :18789") == found, failures
    assert set(failures) <= {"listening :18789"}, failures


def test_a_lan_bind_widens_only_the_gateways_own_port() -> None:
    state = expected(
        openclaw_gateways=[{"bind": "lan"}], openclaw_firewall={"gateway_allowed_sources": ["192.0.2.10"]}
    )
    values = healthy_values(state)
    (ports,) = [request for request in values if request.fact.endswith("ListeningPorts")]
    cdp = {**values[ports][0], "address": WILDCARD, "loopback": False, "port": 18800}
    values[ports] = [*values[ports], cdp]
    assert failing(state, values) == {"listening :18800-18899 (CDP)": "0.0.0.0:18800"}


def rule(to: str, source: str, action: str = "ALLOW", comment: str | None = None) -> dict[str, Any]:
    endpoint = {"interface": None, "app": None}
    return {"to": {"address": to, **endpoint}, "action": action, "direction": "IN",
            "source": {"address": source, **endpoint}, "ipv6": False, "comment": comment}  # fmt: skip


@pytest.mark.parametrize(
    ("rules", "found"),
    [
        ([rule("18789/tcp", "Anywhere")], "rule 1: 18789/tcp ALLOW IN from Anywhere"),
        ([rule("22/tcp", "Anywhere"), rule("18791", "10.9.0.0/16", "LIMIT")],
         "rule 2: 18791 LIMIT IN from 10.9.0.0/16"),
        ([rule("18700:18900/tcp", "Anywhere")], "rule 1: 18700:18900/tcp ALLOW IN from Anywhere"),
        ([rule("Anywhere", "192.168.1.5")], "rule 1: Anywhere ALLOW IN from 192.168.1.5"),
        ([rule("18789/tcp", "10.1.2.3"), rule("18789/udp", "Anywhere"), rule("18789", "Anywhere", "DENY"),
          rule("8080/tcp", "Anywhere")], None),
    ],
)  # fmt: skip
def test_firewall_rules_admitting_the_gateway_ports_from_elsewhere_are_named(
    rules: list[dict[str, Any]], found: str | None
) -> None:
    state = expected(openclaw_firewall={"gateway_allowed_sources": ["10.1.0.0/16"]})
    values = healthy_values(state)
    (ufw,) = [request for request in values if request.fact.endswith("UfwStatus")]
    values[ufw] = {**values[ufw], "rules": rules}
    assert failing(state, values).get("firewall rules for the gateway ports") == found


def test_the_clis_own_secrets_copy_is_not_a_stray_one_when_asked_for() -> None:
    state = expected(openclaw_cli_secrets_copy=True)
    values = healthy_values(state)
    (holding,) = [request for request in values if request.fact.endswith("FilesHoldingSecrets")]
    values[holding] = ["/home/openclaw/.openclaw/.env"]
    assert failing(state, values) == {}


def test_docker_group_is_not_checked_without_the_docker_sandbox() -> None:
    state = expected(openclaw_docker_sandbox=False)
    assert not [request for request in state.requests() if request.fact.endswith("GroupMembers")]
    assert "docker group members" not in {check.check for check in state.checks(healthy_values(state))}


def test_firewall_is_not_checked_when_the_settings_turn_it_off() -> None:
    state = expected(openclaw_firewall={"enabled": False})
    assert not [request for request in state.requests() if request.fact.endswith("UfwStatus")]
    assert "firewall (ufw)" not in {check.check for check in state.checks(healthy_values(state))}


PARITY_SCRIPT = """
import os
from pyinfra_cli.commands import get_facts_and_args
from openclaw_infra.host_settings import settings_for_host
from openclaw_infra.expected_state import ExpectedState
os.environ["TOKEN"] = "t"
os.environ["TOKEN_WA"] = "w"
host_settings = settings_for_host("h", {
    "openclaw_secrets": {"OPENCLAW_GATEWAY_TOKEN": {"env": "TOKEN"}},
    "openclaw_service_home": "/srv/open claw",
    "openclaw_gateways": [
        {"port": 18789}, {"profile": "wa", "port": 18809, "secrets": {"OPENCLAW_GATEWAY_TOKEN": {"env": "TOKEN_WA"}}},
    ],
})
for request in ExpectedState(host_settings, 5).requests():
    ((cli_class, _, cli_kwargs),) = get_facts_and_args(request.cli_words())
    fact_class, kwargs = request.resolve()
    assert (fact_class, kwargs) == (cli_class, cli_kwargs), (request, cli_class, cli_kwargs)
print("same")
"""


def test_facts_are_read_in_operations_as_pyinfras_cli_reads_them() -> None:
    # In a child: importing pyinfra_cli monkey-patches the whole process with gevent.
    result = subprocess.run([sys.executable, "-c", PARITY_SCRIPT], capture_output=True, text=True, check=False)
    assert result.stdout.strip() == "same", result.stderr


def test_importing_the_package_does_not_monkey_patch_the_importer() -> None:
    imports = "import openclaw_infra.deploys.linux_gateway, openclaw_infra.drift.checks, openclaw_infra.inventory"
    check = (
        "import sys, gevent.monkey; print('pyinfra_cli' in sys.modules, gevent.monkey.is_module_patched('threading'))"
    )
    result = subprocess.run([sys.executable, "-c", f"{imports}; {check}"], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]
