"""The VM host deploy (``deploys/vm_host.py``) on a Mac with Lume or Parallels, planned and executed against facts
of a Mac (no Mac runs here), as ``test_mac_host_deploy.py`` does for the gateway inside: a fresh run, a deployed
Mac planning nothing, and what an operator or an intruder changes put right. Scenarios:
``tests/fixtures/deploys/vm_host/``; the facts come from real ``lume ls`` captures, named in each ``scenario.json``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from openclaw_infra.deploys.vm_host_deploy import vm_host
from openclaw_infra.host_settings import SettingsError
from openclaw_infra.vm_host_settings import vm_hosts_settings
from tests.deploy_plans import SCENARIO_FILES, Scenarios, as_json, changing

VM_HOST = Scenarios("vm_host", vm_host, "Every VM as declared")


@pytest.fixture(params=VM_HOST.names())
def scenario(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name, value in VM_HOST.load(request.param, "scenario.json")["environment"].items():
        monkeypatch.setenv(name, value)
    yield request.param


def test_every_scenario_is_complete() -> None:
    assert VM_HOST.names(), f"no scenarios under {VM_HOST.root}"
    for name in VM_HOST.names():
        assert {path.name for path in (VM_HOST.root / name).iterdir()} == SCENARIO_FILES, name


def test_a_fresh_mac_creates_and_starts_its_vms_once(scenario: str) -> None:
    planned, raw = VM_HOST.run(scenario, VM_HOST.load(scenario, "fresh_facts.json"))
    assert as_json(planned) == VM_HOST.load(scenario, "fresh_run.json")
    assert planned[-1].commands == [] and str(planned[-1].noop).startswith("verified: ")
    secrets = list(VM_HOST.load(scenario, "scenario.json")["environment"].values())
    assert [line for line in raw if any(secret in line for secret in secrets)] == []


def test_a_deployed_mac_plans_no_command_at_all(scenario: str) -> None:
    planned, raw = VM_HOST.run(scenario, VM_HOST.load(scenario, "deployed_facts.json"))
    assert changing(planned) == {} and raw == []


def test_a_stopped_vm_is_started_and_a_resized_one_stopped_cloned_set_and_started(scenario: str) -> None:
    facts = VM_HOST.deployed_with(scenario)
    one, two = facts["lume.LumeVms"]
    stopped = {**one, "state": "stopped", "raw_state": "stopped", "ipv4": []}
    shrunk = {**two, "cpus": 2}
    changed = changing(VM_HOST.run(scenario, VM_HOST.deployed_with(scenario, **{"lume.LumeVms": [stopped, shrunk]}))[0])
    assert changed["gw-one: running (lume)"] == ["lume run gw-one --no-display --detach"]
    stop, clone, resize, start = changed["gw-two: running (lume)"]
    assert (stop, resize, start) == (
        "lume stop gw-two",
        "lume set gw-two --cpu 4",
        "lume run gw-two --no-display --detach",
    )
    assert clone.startswith("lume clone gw-two gw-two-openclaw-before-resize-")


def test_a_boot_job_edited_by_hand_is_put_back(scenario: str) -> None:
    plist = "/Library/LaunchDaemons/ai.openclaw.vm.gw-one.plist"
    facts = VM_HOST.deployed_with(scenario, **{f"files.Sha1File|path={plist}": "0" * 40})
    changed = changing(VM_HOST.run(scenario, facts)[0])
    assert list(changed) == ["gw-one: started at boot (LaunchDaemon)"]
    assert ["upload", plist] == changed["gw-one: started at boot (LaunchDaemon)"][0][:2]


def test_a_third_macos_vm_is_refused_before_any_host_is_touched(scenario: str) -> None:
    data = VM_HOST.load(scenario, "scenario.json")["host_data"]
    vms = data["openclaw_vm_host"]["vms"]
    third = {**vms[0], "name": "gw-three", "gateway": {}}
    with pytest.raises(SettingsError) as refused:
        vm_hosts_settings([("mac1", {"openclaw_vm_host": {**data["openclaw_vm_host"], "vms": [*vms, third]}})])
    assert "openclaw_vm_host.vms: 3 macOS VMs (gw-one, gw-two, gw-three) on one Mac" in str(refused.value)
