"""The agents' Docker sandbox settings: written into openclaw.json on a Linux host with the sandbox, refused
without it, and an allowlist of addresses only."""

from __future__ import annotations

import json

import pytest

from openclaw_infra.host_settings import settings_for_host
from openclaw_infra.operations.agent_sandbox import allowlist_entries
from openclaw_infra.operations.gateway_config import content_for
from tests.settings.test_settings_rules import TOKEN, only_problem


@pytest.fixture(autouse=True)
def _token_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_OPENCLAW_TOKEN", "tok-abc-123")


def config_of(data: dict[str, object]) -> dict[str, object]:
    settings = settings_for_host("gw1", {"openclaw_secrets": TOKEN, **data}).settings
    loaded: dict[str, object] = json.loads(content_for(settings, settings.gateways[0]))
    return loaded


def test_the_guides_sandbox_is_written_with_the_image_the_deploy_builds() -> None:
    sandbox = config_of({})["agents"]["defaults"]["sandbox"]  # type: ignore[index]
    assert sandbox == {
        "mode": "non-main",
        "scope": "session",
        "workspaceAccess": "none",
        "docker": {"image": "openclaw-infra/sandbox:bookworm", "network": "openclaw-sandbox"},
    }


def test_the_sandbox_settings_choose_mode_scope_access_and_network() -> None:
    chosen = {"mode": "all", "scope": "agent", "workspace_access": "rw", "network": "openclaw-egress"}
    sandbox = config_of({"openclaw_sandbox": chosen})["agents"]["defaults"]["sandbox"]  # type: ignore[index]
    assert (sandbox["mode"], sandbox["scope"], sandbox["workspaceAccess"], sandbox["docker"]["network"]) == (
        "all",
        "agent",
        "rw",
        "openclaw-egress",
    )


def test_no_sandbox_block_without_the_docker_sandbox_or_on_a_mac() -> None:
    assert "agents" not in config_of({"openclaw_docker_sandbox": False})
    assert "agents" not in config_of({"openclaw_os_family": "macos"})


def test_sandbox_settings_without_the_docker_sandbox_are_refused() -> None:
    problem = only_problem({"openclaw_docker_sandbox": False, "openclaw_sandbox": {"mode": "all"}})
    assert "openclaw_sandbox" in problem and "set openclaw_docker_sandbox to true" in problem


@pytest.mark.parametrize("destination", ["api.example.com", "203.0.113.300", ""])
def test_an_allowlist_entry_that_is_no_address_is_refused(destination: str) -> None:
    problem = only_problem({"openclaw_sandbox": {"egress_allowlist": [{"network": destination}]}})
    assert "openclaw_sandbox.egress_allowlist[0].network" in problem and "203.0.113.10" in problem


def test_the_allowlist_reaches_the_ruleset_by_family_protocol_and_ports() -> None:
    settings = settings_for_host(
        "gw1",
        {
            "openclaw_secrets": TOKEN,
            "openclaw_sandbox": {
                "egress_allowlist": [
                    {"network": "203.0.113.10", "ports": [443, 80, 443]},
                    {"network": "2001:db8::/32", "protocol": "udp"},
                ]
            },
        },
    ).settings
    assert allowlist_entries(settings.sandbox.egress_allowlist) == [
        {"family": "ip", "network": "203.0.113.10/32", "protocol": "tcp", "ports": [80, 443]},
        {"family": "ip6", "network": "2001:db8::/32", "protocol": "udp", "ports": []},
    ]
