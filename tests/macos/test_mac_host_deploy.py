"""The Mac host deploy (``deploys/macos_host.py``), planned and executed against facts of a Mac (no Mac runs here).

Each scenario under ``tests/fixtures/deploys/macos_host/`` holds the inventory data, the facts of a fresh Mac
(``fresh_facts.json``), those of the Mac as the deploy leaves it (``deployed_facts.json``, what the verification
reads after a run) and the operations a fresh run executes (``fresh_run.json``: each operation's commands, or why
it ran none). The facts come from real captures, named in ``scenario.json``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from openclaw_infra.deploys.macos_gateway import VERIFY_OPERATION, macos_gateway
from openclaw_infra.drift.run import gateway_expected_state
from openclaw_infra.expected_state import ExpectedState
from openclaw_infra.gateway_paths import GatewayPaths
from openclaw_infra.host_settings import settings_for_host
from openclaw_infra.macos_expected_state import MacExpectedState
from openclaw_infra.settings import MACOS_ONLY_FIELDS
from tests.deploy_plans import SCENARIO_FILES, PlannedOperation, Scenarios, as_json, changing

MAC_HOST = Scenarios("macos_host", macos_gateway, VERIFY_OPERATION)


@pytest.fixture(params=MAC_HOST.names())
def scenario(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # The secrets' sources are environment variables on the control machine, as an operator would set them.
    for name, value in MAC_HOST.load(request.param, "scenario.json")["environment"].items():
        monkeypatch.setenv(name, value)
    yield request.param


def _verification(planned: list[PlannedOperation]) -> PlannedOperation:
    (verification,) = [op for op in planned if op.name.endswith(VERIFY_OPERATION)]
    return verification


def _load(scenario: str, name: str) -> Any:
    return MAC_HOST.load(scenario, name)


def _run(scenario: str, facts: dict[str, Any]) -> tuple[list[PlannedOperation], list[str]]:
    return MAC_HOST.run(scenario, facts)


def _deployed_with(scenario: str, **changes: Any) -> dict[str, Any]:
    return MAC_HOST.deployed_with(scenario, **changes)


def test_every_scenario_is_complete() -> None:
    assert MAC_HOST.names(), f"no scenarios under {MAC_HOST.root}"
    for name in MAC_HOST.names():
        assert {path.name for path in (MAC_HOST.root / name).iterdir()} == SCENARIO_FILES, name


def test_a_fresh_mac_gets_everything_once_and_passes_verification(scenario: str) -> None:
    planned, _ = _run(scenario, _load(scenario, "fresh_facts.json"))
    assert as_json(planned) == _load(scenario, "fresh_run.json")
    verification = _verification(planned)
    assert verification.commands == [] and str(verification.noop).startswith("verified: ")


def test_a_deployed_mac_plans_no_command_at_all(scenario: str) -> None:
    planned, raw = _run(scenario, _load(scenario, "deployed_facts.json"))
    assert changing(planned) == {}
    assert raw == []
    assert all(op.noop for op in planned), [op.name for op in planned if not op.noop]


def test_no_secret_reaches_a_command_line_or_a_fixture(scenario: str) -> None:
    secrets = list(_load(scenario, "scenario.json")["environment"].values())
    _, raw = _run(scenario, _load(scenario, "fresh_facts.json"))
    assert raw, "the fresh run ran nothing"
    assert [line for line in raw if any(secret in line for secret in secrets)] == []
    for path in (MAC_HOST.root / scenario).iterdir():
        if path.name != "scenario.json":  # which holds the test values as the environment it sets
            assert not any(secret in path.read_text() for secret in secrets), path.name


# --- what a changed Mac gets: each an intruder's or a careless admin's change, from the deployed facts ---------


CONFIG = "/Users/openclaw/.openclaw/openclaw.json"
AGENT_UID = 502  # the uid deployed_facts.json gives the first service user (accounts.UserId)


@dataclasses.dataclass(frozen=True)
class FirstGateway:
    """The scenario's first gateway as launchd knows it: a LaunchDaemon, or a LaunchAgent of user openclaw."""

    plist: str
    target: str  # launchctl's domain/label, as the deploy's commands name it once the uid is known
    job_fact: str  # the deployed facts' key of its job, for the operations
    verified_job_fact: str  # and for the verification (a LaunchAgent's is read by user name)
    owner: str  # of its plist
    check: str  # the verification's name for the job


def first_gateway(scenario: str) -> FirstGateway:
    settings = settings_for_host("mac1", _load(scenario, "scenario.json")["host_data"]).settings
    paths = GatewayPaths(settings, settings.gateways[0])
    label, user = paths.launchd_label, paths.launch_agent_user
    domain = f"gui/{AGENT_UID}" if user else "system"
    job = f"launchctl.LaunchctlJob|domain={domain}, label={label}"
    return FirstGateway(
        plist=paths.plist,
        target=f"{domain}/{label}",
        job_fact=job,
        verified_job_fact=f"launchctl.LaunchctlUserJob|label={label}, user={user}" if user else job,
        owner=":".join(paths.plist_owner),
        check=f"launchd {f'gui ({user})' if user else 'system'} {label}",
    )


def test_a_plist_edited_by_hand_is_rewritten_and_reloaded_not_merely_restarted(scenario: str) -> None:
    gateway = first_gateway(scenario)
    facts = _deployed_with(scenario, **{"files.Sha256File|path=" + gateway.plist: "0" * 64})
    changed = changing(_run(scenario, facts)[0])
    assert set(changed) == {
        "ai.openclaw.gateway: launchd plist (holds its secrets)",
        "ai.openclaw.gateway: reload on plist change",
    }
    bootout, bootstrap = changed["ai.openclaw.gateway: reload on plist change"]
    assert bootout.startswith(f"launchctl bootout {gateway.target} ;")
    assert bootstrap == f"launchctl bootstrap {gateway.target.rpartition('/')[0]} {gateway.plist}"


def test_a_config_edited_by_hand_is_replaced_and_only_that_gateway_restarted(scenario: str) -> None:
    facts = _deployed_with(scenario, **{"files.Sha256File|path=" + CONFIG: "c0ffee" + "0" * 58})
    changed = changing(_run(scenario, facts)[0])
    assert set(changed) == {"ai.openclaw.gateway: openclaw.json", "ai.openclaw.gateway: restart on change"}
    assert changed["ai.openclaw.gateway: restart on change"] == [
        f"launchctl kickstart -k {first_gateway(scenario).target}"
    ]
    assert f"cp -p {CONFIG} {CONFIG}.bak-c0ffee000000" in changed["ai.openclaw.gateway: openclaw.json"]


def test_a_new_node_release_restarts_every_gateway(scenario: str) -> None:
    facts = _deployed_with(scenario, **{"installed_versions.NodeVersion|path=/opt/node/bin/node": "24.16.0"})
    changed = changing(_run(scenario, facts)[0])
    restarted = sorted(name for name in changed if name.endswith(": restart on change"))
    gateways = _load(scenario, "scenario.json")["host_data"].get("openclaw_gateways", [{}])
    assert len(restarted) == len(gateways) and "Node 24.21.0" in changed


def test_a_stopped_gateway_is_kickstarted(scenario: str) -> None:
    gateway = first_gateway(scenario)
    fact, _, key = gateway.job_fact.partition("|")
    running = _load(scenario, "deployed_facts.json")[fact][key]
    stopped = {**running, "state": "not running", "raw_state": "not running", "pid": None}
    facts = _deployed_with(scenario, **{gateway.job_fact: stopped})
    assert changing(_run(scenario, facts)[0]) == {
        "ai.openclaw.gateway: loaded and running": [f"launchctl kickstart {gateway.target}"]
    }


def test_an_intruder_in_the_docker_group_the_firewall_off_and_an_opened_home_are_put_back(scenario: str) -> None:
    facts = _deployed_with(scenario)
    group = {**facts["directory_services.MacosGroup"]["group=docker"]}
    group["members"] = [*group["members"], "mallory"]
    firewall = {"enabled": False, "raw_state": 0, "stealth_mode": False, "block_all": None}
    facts = _deployed_with(
        scenario,
        **{
            "directory_services.MacosGroup|group=docker": group,
            "application_firewall.MacosApplicationFirewall": firewall,
            "files.Directory|path=/Users/openclaw": {"user": "openclaw", "group": "staff", "mode": 755},
        },
    )
    changed = changing(_run(scenario, facts)[0])
    assert changed["Docker group: only the service users"] == ["dseditgroup -o edit -d mallory -t user docker"]
    assert changed["Application firewall on, stealth mode"] == [
        "/usr/libexec/ApplicationFirewall/socketfilterfw --setglobalstate on",
        "/usr/libexec/ApplicationFirewall/socketfilterfw --setstealthmode on",
    ]
    assert "chmod 700 /Users/openclaw" in changed["Service user openclaw"][-1]


# --- the verification (and the drift checks: the same MacExpectedState) see what was changed after the run -------


def _verification_after(scenario: str, **changes: Any) -> PlannedOperation:
    """The verification of a run on a deployed Mac changed by ``changes``, which the run did not put right (as
    when a repair failed, or the change came back at once)."""
    changed = _deployed_with(scenario, **changes)
    planned, _ = MAC_HOST.run(scenario, changed, changed)
    return _verification(planned)


def _failure(verification: PlannedOperation) -> str:
    (report,) = verification.commands
    assert report.endswith("} >&2 ; exit 1"), report
    return str(report)


def test_verification_fails_on_a_plist_others_can_read(scenario: str) -> None:
    gateway = first_gateway(scenario)
    user, group = gateway.owner.split(":")
    report = _failure(_verification_after(scenario, **{
        "files.File|path=" + gateway.plist: {"user": user, "group": group, "mode": 644}}))  # fmt: skip
    assert f"mode {gateway.plist}: expected {gateway.owner} 600, found {gateway.owner} 644" in report
    # launchd's word, as evidence: the domain found by user name for a LaunchAgent
    evidence = gateway.target.replace(f"gui/{AGENT_UID}", 'gui/"$(id -u -- openclaw )"')
    assert f"launchctl print {evidence} 2>&1 | head -n 20" in report


def test_verification_fails_on_a_gateway_listening_beyond_loopback(scenario: str) -> None:
    sockets = _load(scenario, "deployed_facts.json")["ports.ListeningPorts"]
    wide = {**sockets[0], "address": "0.0.0.0", "raw_address": "*", "wildcard": True, "loopback": False}  # noqa: S104
    report = _failure(_verification_after(scenario, **{"ports.ListeningPorts": [*sockets, wide]}))
    assert "listening :18789: expected loopback only, found 0.0.0.0:18789" in report


def test_verification_fails_on_a_job_not_loaded_and_a_stranger_in_docker(scenario: str) -> None:
    group = {**_load(scenario, "deployed_facts.json")["directory_services.MacosGroup"]["group=docker"]}
    group["members"] = [*group["members"], "mallory"]
    gateway = first_gateway(scenario)
    report = _failure(_verification_after(scenario, **{
        gateway.verified_job_fact: None,
        "directory_services.MacosGroup|group=docker": group,
    }))  # fmt: skip
    assert f"{gateway.check}: expected running from {gateway.plist}, found not loaded" in report
    members = ", ".join(sorted(group["members"]))
    assert f"docker group members: expected {members.replace('mallory, ', '')}, found {members}" in report


def test_drift_checks_a_mac_with_the_mac_expected_state(scenario: str) -> None:
    host_settings = settings_for_host("mac1", _load(scenario, "scenario.json")["host_data"])
    assert isinstance(gateway_expected_state(host_settings), MacExpectedState)
    data = _load(scenario, "scenario.json")["host_data"]
    linux_data = {key: value for key, value in data.items() if key.removeprefix("openclaw_") not in MACOS_ONLY_FIELDS}
    linux = settings_for_host("gw1", {**linux_data, "openclaw_os_family": "linux"})
    assert type(gateway_expected_state(linux)) is ExpectedState
