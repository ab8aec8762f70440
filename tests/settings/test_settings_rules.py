"""Every validation rule of the settings model: refused with a message naming host, field and fix."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from openclaw_infra.host_settings import SettingsError, settings_for_host, settings_for_hosts
from openclaw_infra.settings import Settings

TOKEN = {"OPENCLAW_GATEWAY_TOKEN": {"env": "TEST_OPENCLAW_TOKEN"}}


@pytest.fixture(autouse=True)
def _token_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_OPENCLAW_TOKEN", "tok-abc-123")


def problems(data: dict[str, Any], host_name: str = "gw1") -> list[str]:
    with pytest.raises(SettingsError) as caught:
        settings_for_host(host_name, {"openclaw_secrets": TOKEN, **data})
    return caught.value.problems


def only_problem(data: dict[str, Any], host_name: str = "gw1") -> str:
    found = problems(data, host_name)
    assert len(found) == 1, found
    return found[0]


def test_defaults_are_valid_and_derive_paths_and_ports() -> None:
    host_settings = settings_for_host("gw1", {"openclaw_secrets": TOKEN})
    settings = host_settings.settings
    (gateway,) = settings.gateways
    assert (gateway.port, gateway.browser_port) == (18789, 18791)
    assert (gateway.cdp_ports.start, gateway.cdp_ports.stop - 1) == (18800, 18899)
    assert gateway.bind == "loopback"
    assert settings.state_dir_of(gateway) == "/home/openclaw/.openclaw"
    assert host_settings.secrets_of(gateway)["OPENCLAW_GATEWAY_TOKEN"].unmask() == "tok-abc-123"


def test_profile_moves_state_dir_and_service_names() -> None:
    settings = settings_for_host(
        "mac", {"openclaw_secrets": TOKEN, "openclaw_os_family": "macos", "openclaw_gateways": [{"profile": "wa"}]}
    ).settings
    (gateway,) = settings.gateways
    assert settings.state_dir_of(gateway) == "/Users/openclaw/.openclaw-wa"
    assert (gateway.service_name, gateway.launchd_label) == ("openclaw-gateway-wa", "ai.openclaw.wa")


# --- secrets --------------------------------------------------------------------------------------------


def test_missing_secret_names_field_and_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_OPENCLAW_TOKEN")
    problem = only_problem({})
    assert "host 'gw1'" in problem
    assert "openclaw_secrets.OPENCLAW_GATEWAY_TOKEN" in problem
    assert "TEST_OPENCLAW_TOKEN is not set" in problem
    assert "Fix:" in problem


@pytest.mark.parametrize("empty", ["", "   ", "\n"])
def test_empty_secret_from_env_is_refused(monkeypatch: pytest.MonkeyPatch, empty: str) -> None:
    monkeypatch.setenv("TEST_OPENCLAW_TOKEN", empty)
    assert "TEST_OPENCLAW_TOKEN is empty" in only_problem({})


def test_empty_secret_from_file_is_refused(tmp_path: Path) -> None:
    secret_file = tmp_path / "token"
    secret_file.write_text("\n")
    problem = only_problem({"openclaw_secrets": {"OPENCLAW_GATEWAY_TOKEN": {"file": str(secret_file)}}})
    assert f"file {secret_file} is empty" in problem


def test_secret_from_command_stdout_is_read_and_masked() -> None:
    command = [sys.executable, "-c", "print('from-command')"]
    host_settings = settings_for_host("gw1", {"openclaw_secrets": {"OPENCLAW_GATEWAY_TOKEN": {"command": command}}})
    token = host_settings.secrets_of(host_settings.settings.gateways[0])["OPENCLAW_GATEWAY_TOKEN"]
    assert token.unmask() == "from-command"
    assert str(token) == "*MASKED*" and "from-command" not in repr(token)


def test_failing_secret_command_reports_stderr_not_stdout() -> None:
    command = [sys.executable, "-c", "import sys; print('half-a-secret'); sys.exit('vault locked')"]
    problem = only_problem({"openclaw_secrets": {"OPENCLAW_GATEWAY_TOKEN": {"command": command}}})
    assert "vault locked" in problem
    assert "half-a-secret" not in problem


def test_secret_source_needs_exactly_one_kind() -> None:
    problem = only_problem({"openclaw_secrets": {"OPENCLAW_GATEWAY_TOKEN": {"env": "A", "file": "/b"}}})
    assert "openclaw_secrets.OPENCLAW_GATEWAY_TOKEN" in problem and "exactly one of env, file, command" in problem


def test_token_auth_without_token_secret_is_refused() -> None:
    problem = only_problem({"openclaw_secrets": {}})
    assert "no secret OPENCLAW_GATEWAY_TOKEN is configured" in problem and "Fix:" in problem


def test_gateway_secret_overrides_host_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_SIG_TOKEN", "sig-token")
    host_settings = settings_for_host(
        "gw1",
        {
            "openclaw_secrets": TOKEN,
            "openclaw_gateways": [
                {"profile": "wa"},
                {"profile": "sig", "port": 18810, "secrets": {"OPENCLAW_GATEWAY_TOKEN": {"env": "TEST_SIG_TOKEN"}}},
            ],
        },
    )
    wa, sig = host_settings.settings.gateways
    assert host_settings.secrets_of(wa)["OPENCLAW_GATEWAY_TOKEN"].unmask() == "tok-abc-123"
    assert host_settings.secrets_of(sig)["OPENCLAW_GATEWAY_TOKEN"].unmask() == "sig-token"


def test_empty_gateway_secret_names_the_gateway_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_SIG_TOKEN", "")
    problem = only_problem(
        {"openclaw_gateways": [{"profile": "sig", "secrets": {"OPENCLAW_GATEWAY_TOKEN": {"env": "TEST_SIG_TOKEN"}}}]}
    )
    assert "openclaw_gateways[0].secrets.OPENCLAW_GATEWAY_TOKEN" in problem


# --- ports ----------------------------------------------------------------------------------------------


def test_gateways_closer_than_20_ports_name_both() -> None:
    problem = only_problem({"openclaw_gateways": [{"profile": "wa", "port": 18789}, {"profile": "sig", "port": 18800}]})
    assert "profile 'wa' (port 18789)" in problem and "profile 'sig' (port 18800)" in problem
    assert "11 ports apart" in problem
    assert "port 18809 or higher" in problem


def test_gateways_exactly_20_apart_are_accepted() -> None:
    settings_for_host(
        "gw1",
        {
            "openclaw_secrets": TOKEN,
            "openclaw_gateways": [{"profile": "a", "port": 18789}, {"profile": "b", "port": 18809}],
        },
    )


@pytest.mark.parametrize("port", [80, 1023, 65536, 70000])
def test_port_outside_unprivileged_range(port: int) -> None:
    problem = only_problem({"openclaw_gateways": [{"port": port}]})
    assert "openclaw_gateways[0].port" in problem and f"port {port} is outside 1024-65535" in problem


def test_port_without_room_for_cdp_range() -> None:
    assert "leaves no room for its CDP range" in only_problem({"openclaw_gateways": [{"port": 65500}]})


# --- names ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["../etc", "Work", "a b", "x;rm", "", "-lead", "a" * 32])
def test_unsafe_profile_names(bad: str) -> None:
    problem = only_problem({"openclaw_gateways": [{"profile": bad}]})
    assert "openclaw_gateways[0].profile" in problem and "not a safe identifier" in problem


@pytest.mark.parametrize("bad", ["root user", "Admin", "$(id)"])
def test_unsafe_user_names(bad: str) -> None:
    assert "openclaw_service_user" in only_problem({"openclaw_service_user": bad})
    assert "openclaw_gateways[0].user" in only_problem({"openclaw_gateways": [{"user": bad}]})


def test_duplicate_profiles_refused() -> None:
    problem = only_problem({"openclaw_gateways": [{"profile": "wa"}, {"profile": "wa", "port": 18900}]})
    assert "share profile 'wa'" in problem


# --- exposure -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bind", ["lan", "auto", "tailnet", "custom"])
def test_exposed_bind_without_auth(bind: str) -> None:
    problem = only_problem({"openclaw_gateways": [{"bind": bind, "auth_mode": "none"}]})
    assert "openclaw_gateways[0]" in problem and f"bind {bind!r}" in problem and "auth_mode" in problem


def test_loopback_without_auth_is_allowed() -> None:
    settings_for_host("gw1", {"openclaw_gateways": [{"auth_mode": "none"}]})


# --- versions -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("node", ["22.12.0", "24.15.9", "25.0.0", "26.0.5"])
def test_node_not_accepted_by_pinned_openclaw(node: str) -> None:
    problem = only_problem({"openclaw_node": {"version": node}})
    assert f"Node {node} is not accepted by OpenClaw 2026.9.6" in problem and ">=24.16.0 <25 || >=26.1.0" in problem


@pytest.mark.parametrize("node", ["24.16.0", "24.21.0", "26.1.0", "27.3.1"])
def test_node_accepted_by_pinned_openclaw(node: str) -> None:
    settings_for_host("gw1", {"openclaw_secrets": TOKEN, "openclaw_node": {"version": node}})


def test_unknown_openclaw_release_needs_its_engines() -> None:
    problem = only_problem({"openclaw_openclaw": {"version": "2027.1.1"}})
    assert "openclaw.node_engines" in problem
    settings_for_host(
        "gw1",
        {"openclaw_secrets": TOKEN, "openclaw_openclaw": {"version": "2027.1.1", "node_engines": ">=24.16.0"}},
    )


@pytest.mark.parametrize("version", ["latest", "next", "2026.9", "^2026.9.6"])
def test_unpinned_openclaw_refused(version: str) -> None:
    assert "is not a pinned version" in only_problem({"openclaw_openclaw": {"version": version}})


@pytest.mark.parametrize("version", ["24", "24.21", "lts"])
def test_inexact_node_refused(version: str) -> None:
    assert "openclaw_node.version" in only_problem({"openclaw_node": {"version": version}})


# --- shape ----------------------------------------------------------------------------------------------


def test_unknown_keys_are_named() -> None:
    found = problems({"openclaw_gateway_prot": 1, "openclaw_firewall": {"enable": True}})
    assert any("openclaw_gateway_prot is not a setting" in problem for problem in found)
    assert any("openclaw_firewall.enable" in problem and "is not a setting" in problem for problem in found)


def test_wrong_literal_lists_choices() -> None:
    problem = only_problem({"openclaw_isolation": "vm"})
    assert "openclaw_isolation" in problem and "'docker-isolation'" in problem


def test_bad_firewall_source() -> None:
    problem = only_problem({"openclaw_firewall": {"gateway_allowed_sources": ["10.0.0.300"]}})
    assert "openclaw_firewall.gateway_allowed_sources" in problem and "not an IP address" in problem


def test_every_host_is_reported_in_one_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError) as caught:
        settings_for_hosts(
            [
                ("good", {"openclaw_secrets": TOKEN}),
                ("bad1", {"openclaw_secrets": TOKEN, "openclaw_gateways": [{"port": 10}]}),
                ("bad2", {"openclaw_secrets": TOKEN, "openclaw_bind": "lan"}),
            ]
        )
    hosts = [problem.split(":")[0] for problem in caught.value.problems]
    assert hosts == ["host 'bad1'", "host 'bad2'"]
    assert str(caught.value).startswith("OpenClaw settings are invalid; nothing was changed on any host")


def test_settings_are_frozen() -> None:
    settings = Settings(secrets=TOKEN)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="frozen"):
        settings.service_user = "root"  # type: ignore[misc]
