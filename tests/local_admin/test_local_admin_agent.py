"""``openclaw_local_admin_agent``: the guide's agent written into its gateway's openclaw.json on OpenClaw 2026.9.6's
schema (an explicit fleet: main owns every channel, the admin agent none), and refused before any host is touched
wherever it could be reached from anything but its gateway's Control UI on the host."""

from __future__ import annotations

import json
from typing import Any

import pytest

from openclaw_infra import firewall_policy
from openclaw_infra.host_settings import SettingsError, settings_for_hosts
from openclaw_infra.local_admin_agent import TOOLS_ALLOWED, paths_of
from openclaw_infra.operations.gateway_config import content_for
from openclaw_infra.settings import Settings

TOKENS = {"a": {"env": "TOKEN_A"}, "b": {"env": "TOKEN_B"}}


def settings(admin: dict[str, Any], first: dict[str, Any] | None = None, **data: Any) -> Settings:
    return Settings.model_validate(
        {
            "gateways": [
                {"secrets": {"OPENCLAW_GATEWAY_TOKEN": TOKENS["a"]}, **(first or {})},
                {"profile": "ops", "port": 18809, "secrets": {"OPENCLAW_GATEWAY_TOKEN": TOKENS["b"]}},
            ],
            "local_admin_agent": admin,
            **data,
        }
    )


def config(model: Settings, index: int) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(content_for(model, model.gateways[index]))
    return loaded


def test_the_agent_is_written_on_its_gateway_alone_with_main_owning_the_channels() -> None:
    channels = {"channels": {"telegram": {"enabled": False}, "discord": {"enabled": False}}}
    model = settings({"gateway": "ops"}, signal={"account": "+46701234567", "gateway": "ops"})
    model = model.model_copy(
        update={"gateways": [model.gateways[0], model.gateways[1].model_copy(update={"extra_config": channels})]}
    )
    ops = config(model, 1)
    agents = ops["agents"]
    assert agents["ownership"] == "explicit"
    assert (
        agents["defaults"]["systemAgent"] == {"agentId": "main"}
        and agents["defaults"]["heartbeat"]["agentId"] == "main"
    )
    admin = agents["entries"]["local-admin"]
    state = "/home/openclaw/.openclaw-ops"
    # Shared workspace (the guide's first choice): main's, pinned so the fleet does not move main elsewhere.
    assert admin["workspace"] == agents["entries"]["main"]["workspace"] == f"{state}/workspace"
    assert admin["agentDir"] == f"{state}/agents/local-admin/agent"
    assert admin["sandbox"] == {"mode": "off"} and admin["subagents"] == {"allowAgents": []}
    assert admin["tools"]["allow"] == TOOLS_ALLOWED and admin["tools"]["elevated"] == {"enabled": False}
    assert {"group:web", "browser", "message", "sessions_send"} <= set(admin["tools"]["deny"])
    # Every channel of the config (the operator's and Signal's) is bound to main; nothing to the admin agent.
    assert sorted(binding["match"]["channel"] for binding in ops["bindings"]) == ["discord", "signal", "telegram"]
    assert {binding["agentId"] for binding in ops["bindings"]} == {"main"}
    # The other gateway is untouched.
    assert "entries" not in config(model, 0).get("agents", {}) and "bindings" not in config(model, 0)


def test_its_own_workspace_and_the_directories_made_for_it() -> None:
    model = settings({"shared_workspace": False, "agent_id": "admin"})
    paths = paths_of(model, model.gateways[0])
    assert paths is not None and paths_of(model, model.gateways[1]) is None
    assert paths.workspace == "/home/openclaw/.openclaw/workspaces/admin"
    assert paths.made == (
        "/home/openclaw/.openclaw/agents", "/home/openclaw/.openclaw/agents/admin",
        "/home/openclaw/.openclaw/agents/admin/agent", "/home/openclaw/.openclaw/workspaces",
        "/home/openclaw/.openclaw/workspaces/admin",
    )  # fmt: skip
    assert config(model, 0)["agents"]["entries"]["admin"]["workspace"] == paths.workspace


def test_its_gateway_ports_are_closed_to_every_source() -> None:
    model = settings({"gateway": "ops"}, firewall={"gateway_allowed_sources": ["192.0.2.0/24"]})
    # Its own port, the browser's and its CDP range.
    assert firewall_policy.localhost_only_ports(model) == {18809, 18810, 18811, *range(18820, 18920)}
    # On the first gateway: all of its ports but the second gateway's own (18809 is inside its CDP range).
    first = settings({}, firewall={"gateway_allowed_sources": ["192.0.2.0/24"]})
    assert firewall_policy.localhost_only_ports(first) == {18789, 18790, 18791, *range(18800, 18900)} - {18809}
    assert firewall_policy.localhost_only_ports(settings({}).model_copy(update={"local_admin_agent": None})) == set()


@pytest.mark.parametrize(
    ("admin", "first", "data", "wanted"),
    [
        ({"gateway": "nope"}, None, {}, "openclaw_local_admin_agent.gateway: no gateway has profile 'nope'"),
        ({"agent_id": "main"}, None, {}, "openclaw_local_admin_agent.agent_id: agent_id 'main' is the gateway's main"),
        (
            {},
            {"bind": "lan"},
            {"firewall": {"gateway_allowed_sources": ["192.0.2.0/24"]}},
            "openclaw_gateways[0].bind: gateway default (port 18789) carries the unsandboxed local admin agent",
        ),
        ({}, None, {"tailscale": {}}, "through Tailscale Serve"),
        (
            {},
            None,
            {"firewall": {"gateway_allowed_sources": ["192.0.2.0/24"]}, "reverse_proxy": {"server_name": "gw.example"}},
            "through openclaw_reverse_proxy",
        ),
        (
            {},
            {"extra_config": {"bindings": [{"agentId": "local-admin", "match": {"channel": "telegram"}}]}},
            {},
            "openclaw_gateways[0].extra_config.bindings[0].agentId: extra_config binds a channel to 'local-admin'",
        ),
        (
            {},
            {"extra_config": {"agents": {"defaults": {"subagents": {"allowAgents": ["*"]}}}}},
            {},
            "extra_config.agents.defaults.subagents.allowAgents: extra_config lets agents spawn 'local-admin'",
        ),
        (
            {},
            {"extra_config": {"agents": {"entries": {"local-admin": {"sandbox": {"mode": "all"}}}}}},
            {},
            "defines agents.entries.local-admin",
        ),
        ({}, {"extra_config": {"talk": {"agentId": "local-admin"}}}, {}, "points Talk at 'local-admin'"),
        (
            {},
            None,
            {"isolation": "docker-containerized", "docker_sandbox": False},
            "is set up by the Linux systemd deploy",
        ),
    ],
)
def test_ways_to_reach_it_from_elsewhere_are_refused(
    admin: dict[str, Any], first: dict[str, Any] | None, data: dict[str, Any], wanted: str
) -> None:
    host_data = {
        "openclaw_gateways": [
            {"secrets": {"OPENCLAW_GATEWAY_TOKEN": {"command": ["echo", "a" * 40]}}, **(first or {})},
        ],
        "openclaw_local_admin_agent": admin,
        **{f"openclaw_{key}": value for key, value in data.items()},
    }
    with pytest.raises(SettingsError) as refused:
        settings_for_hosts([("gw", host_data)])
    assert wanted in str(refused.value)
