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
    monkeypatch.setenv("TEST_SECOND_TOKEN", "tok-def-456")


# A second gateway's own token (the multi-gateway guide: each instance its own).
SECOND_TOKEN = {"secrets": {"OPENCLAW_GATEWAY_TOKEN": {"env": "TEST_SECOND_TOKEN"}}}


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


def test_a_host_token_every_gateway_inherits_is_refused_naming_both_and_the_way_to_allow_it() -> None:
    problem = only_problem({"openclaw_gateways": [{"profile": "wa"}, {"profile": "sig", "port": 18809}]})
    assert problem.startswith("host 'gw1': openclaw_gateways[1].secrets.OPENCLAW_GATEWAY_TOKEN: ")
    assert (
        "gateways profile 'wa' (port 18789) and profile 'sig' (port 18809) share one OPENCLAW_GATEWAY_TOKEN" in problem
    )
    assert "from openclaw_secrets" in problem and "set openclaw_shared_gateway_token to true" in problem


def test_two_gateways_naming_one_source_are_refused_and_sharing_by_choice_is_accepted() -> None:
    same = {"secrets": {"OPENCLAW_GATEWAY_TOKEN": {"env": "TEST_SECOND_TOKEN"}}}
    gateways = [{"profile": "wa", **same}, {"profile": "sig", "port": 18809, **same}]
    problem = only_problem({"openclaw_gateways": gateways})
    assert "share one OPENCLAW_GATEWAY_TOKEN (environment variable TEST_SECOND_TOKEN)" in problem
    settings_for_host(
        "gw1", {"openclaw_secrets": TOKEN, "openclaw_gateways": gateways, "openclaw_shared_gateway_token": True}
    )
    # Each its own: accepted.
    settings_for_host(
        "gw1",
        {
            "openclaw_secrets": TOKEN,
            "openclaw_gateways": [{"profile": "wa"}, {"profile": "sig", "port": 18809, **same}],
        },
    )


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
            "openclaw_gateways": [{"profile": "a", "port": 18789}, {"profile": "b", "port": 18809, **SECOND_TOKEN}],
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


@pytest.mark.parametrize("bind", ["auto", "custom"])
def test_a_bind_whose_address_the_deploy_cannot_know_is_refused(bind: str) -> None:
    problem = only_problem({"openclaw_gateways": [{"bind": bind}]})
    assert problem.startswith("host 'gw1': openclaw_gateways[0].bind:") and f"has bind {bind!r}" in problem
    assert 'use "loopback", "lan" or "tailnet"' in problem


@pytest.mark.parametrize("bind", ["lan", "tailnet"])
@pytest.mark.parametrize(
    "firewall", [{}, {"gateway_allowed_sources": []}, {"enabled": False, "gateway_allowed_sources": ["192.0.2.10"]}]
)
def test_a_bind_beyond_loopback_needs_a_firewall_naming_its_sources(bind: str, firewall: dict[str, Any]) -> None:
    problem = only_problem({"openclaw_gateways": [{"bind": bind}], "openclaw_firewall": firewall})
    assert problem.startswith("host 'gw1': openclaw_gateways[0].bind:") and "no firewall admits it" in problem
    assert "set openclaw_firewall.gateway_allowed_sources" in problem


@pytest.mark.parametrize("bind", ["lan", "tailnet"])
def test_a_bind_beyond_loopback_with_its_sources_is_accepted(bind: str) -> None:
    settings_for_host(
        "gw1",
        {
            "openclaw_secrets": TOKEN,
            "openclaw_gateways": [{"bind": bind}],
            "openclaw_firewall": {"gateway_allowed_sources": ["100.64.0.0/10"]},
        },
    )


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


def test_model_rules_name_the_data_key_they_are_about() -> None:
    problem = only_problem({"openclaw_gateways": [{"profile": "wa"}, {"profile": "sig", "port": 18800}]})
    assert problem.startswith("host 'gw1': openclaw_gateways[1].port: ")
    assert only_problem({"openclaw_node": {"version": "22.12.0"}}).startswith("host 'gw1': openclaw_node.version: ")


# --- paths ----------------------------------------------------------------------------------------------

PATH_FIELDS = [
    ("openclaw_service_home", None),
    ("openclaw_node", "prefix"),
    ("openclaw_openclaw", "prefix"),
    ("openclaw_drift_schedule", "working_dir"),
    ("openclaw_drift_schedule", "report_dir"),
]


def _path_setting(key: str, field: str | None, path: str) -> dict[str, Any]:
    return {key: path if field is None else {field: path}}


def _data_key(key: str, field: str | None) -> str:
    return key if field is None else f"{key}.{field}"


@pytest.mark.parametrize(("key", "field"), PATH_FIELDS)
@pytest.mark.parametrize("path", ["/srv/open claw;touch x", '/srv/it\'s "quoted"', "/srv/$(id)"])
def test_paths_may_hold_spaces_quotes_and_semicolons(key: str, field: str | None, path: str) -> None:
    # Downstream quotes every path; refusing these would only hide a missing quote. (Except where a reader
    # cannot take a quote in any form: the node prefix is systemd's ExecStart= program, tested below.)
    if (key, field) == ("openclaw_node", "prefix") and "'" in path:
        path = path.replace("'", "").replace('"', "")
    settings_for_host("gw1", {"openclaw_secrets": TOKEN, **_path_setting(key, field, path)})


@pytest.mark.parametrize(("key", "field"), PATH_FIELDS)
@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/srv/open\nclaw", "control character"),
        ("/srv/open\tclaw", "control character"),
        ("/srv/open\x7fclaw", "control character"),
        ("/srv/openclaw\n", "control character"),
        ("srv/openclaw", "not an absolute path"),
        ("~/openclaw", "not an absolute path"),
        ("/srv/../etc/openclaw", "not normalised"),
        ("/srv/./openclaw", "not normalised"),
        ("/srv//openclaw", "not normalised"),
        ("//srv/openclaw", "not normalised"),
        ("/srv/openclaw/", "not normalised"),
    ],
)
def test_bad_paths_are_refused(key: str, field: str | None, path: str, why: str) -> None:
    problem = only_problem(_path_setting(key, field, path))
    assert problem.startswith(f"host 'gw1': {_data_key(key, field)}: ")
    assert why in problem and "Fix:" in problem


def test_unnormalised_path_fix_names_the_normal_form() -> None:
    assert "Fix: write '/srv/openclaw'." in only_problem({"openclaw_service_home": "/srv/x/../openclaw/"})


@pytest.mark.parametrize(
    "url",
    ["ftp://mirror/dist", "nodejs.org/dist", "https://nodejs.org/my dist", "https://nodejs.org/dist\n", "https://"],
)
def test_tarball_base_url_must_be_http_without_spaces(url: str) -> None:
    problem = only_problem({"openclaw_node": {"tarball_base_url": url}})
    assert "openclaw_node.tarball_base_url" in problem and "Fix:" in problem


def test_plain_http_mirror_is_accepted() -> None:
    settings_for_host(
        "gw1", {"openclaw_secrets": TOKEN, "openclaw_node": {"tarball_base_url": "http://10.0.0.1:8080/d"}}
    )


def test_secret_file_must_be_absolute_or_from_home() -> None:
    problem = only_problem({"openclaw_secrets": {"OPENCLAW_GATEWAY_TOKEN": {"file": "secrets/token"}}})
    assert "openclaw_secrets.OPENCLAW_GATEWAY_TOKEN.file" in problem and "not an absolute path" in problem


@pytest.mark.parametrize("env", ["MY-TOKEN", "MY TOKEN", "TOKEN\n", "1TOKEN"])
def test_secret_env_must_be_a_variable_name(env: str) -> None:
    problem = only_problem({"openclaw_secrets": {"OPENCLAW_GATEWAY_TOKEN": {"env": env}}})
    assert "openclaw_secrets.OPENCLAW_GATEWAY_TOKEN.env" in problem and "not an environment variable name" in problem


# --- homes ----------------------------------------------------------------------------------------------

SYSTEM_OR_SHARED_HOMES = [
    "/", "/home", "/Users", "/root", "/tmp", "/var/tmp", "/etc", "/usr", "/usr/local", "/bin", "/sbin", "/lib",
    "/lib64", "/boot", "/dev", "/proc", "/sys", "/run", "/var", "/var/lib", "/var/log", "/opt", "/srv", "/mnt",
    "/media", "/snap", "/System", "/Library", "/Applications", "/private", "/private/var", "/Users/Shared",
    "/etc/openclaw", "/etc/openclaw/home", "/usr/local/openclaw", "/usr/share/openclaw", "/proc/1", "/sys/kernel",
    "/dev/shm/openclaw", "/boot/openclaw", "/run/openclaw", "/root/openclaw", "/tmp/openclaw", "/var/tmp/openclaw",
]  # fmt: skip


@pytest.mark.parametrize("home", SYSTEM_OR_SHARED_HOMES)
def test_system_or_shared_home_is_refused(home: str) -> None:
    problem = only_problem({"openclaw_service_home": home})
    assert problem.startswith("host 'gw1': openclaw_service_home: ")
    assert f"service_home {home!r}" in problem and "Fix:" in problem


@pytest.mark.parametrize("home", ["/home/openclaw", "/srv/openclaw", "/var/lib/openclaw", "/opt/openclaw-home"])
def test_own_home_is_accepted(home: str) -> None:
    settings = settings_for_host("gw1", {"openclaw_secrets": TOKEN, "openclaw_service_home": home}).settings
    assert settings.state_dir_of(settings.gateways[0]) == f"{home}/.openclaw"


@pytest.mark.parametrize(
    ("data", "nested_with"),
    [
        ({"openclaw_service_home": "/opt/node"}, "openclaw_node.prefix (/opt/node)"),
        ({"openclaw_service_home": "/opt/openclaw/home"}, "openclaw_openclaw.prefix (/opt/openclaw)"),
        ({"openclaw_node": {"prefix": "/home/openclaw/node"}}, "openclaw_node.prefix (/home/openclaw/node)"),
    ],
)
def test_home_nested_with_an_install_prefix_is_refused(data: dict[str, Any], nested_with: str) -> None:
    problem = only_problem(data)
    assert problem.startswith("host 'gw1': openclaw_service_home: ") and nested_with in problem


@pytest.mark.parametrize("home", ["/home/bob", "/home/bob/openclaw"])
def test_home_in_another_gateway_users_home_is_refused(home: str) -> None:
    gateways = [{"profile": "wa"}, {"profile": "sig", "user": "bob", "port": 18809, **SECOND_TOKEN}]
    problem = only_problem({"openclaw_service_home": home, "openclaw_gateways": gateways})
    assert problem.startswith("host 'gw1': openclaw_service_home: ")
    assert "the home of gateway user 'bob' (/home/bob)" in problem and "Fix:" in problem


def test_separate_homes_of_several_users_are_accepted() -> None:
    gateways = [{"profile": "wa"}, {"profile": "sig", "user": "bob", "port": 18809, **SECOND_TOKEN}]
    settings_for_host(
        "gw1", {"openclaw_secrets": TOKEN, "openclaw_service_home": "/srv/openclaw", "openclaw_gateways": gateways}
    )


# --- accounts -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["root", "daemon", "sshd", "nobody", "www-data", "systemd-network", "messagebus"])
def test_system_accounts_are_refused_as_service_and_gateway_user(user: str) -> None:
    problem = only_problem({"openclaw_service_user": user})
    assert problem.startswith("host 'gw1': openclaw_service_user: ") and "is a system account" in problem
    problem = only_problem({"openclaw_gateways": [{"user": user}]})
    assert problem.startswith("host 'gw1': openclaw_gateways[0].user: ") and "is a system account" in problem


def test_macos_underscore_accounts_are_not_safe_names() -> None:
    assert "not a safe identifier" in only_problem({"openclaw_service_user": "_openclaw"})


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"openclaw_service_user": "openclaw\n"}, "openclaw_service_user"),
        ({"openclaw_gateways": [{"profile": "wa\n"}]}, "openclaw_gateways[0].profile"),
        ({"openclaw_drift_schedule": {"user": "root\n"}}, "openclaw_drift_schedule.user"),
        ({"openclaw_secrets": {**TOKEN, "EXTRA\n": {"env": "TEST_OPENCLAW_TOKEN"}}}, "openclaw_secrets"),
        ({"openclaw_log_rotation": {"max_size": "50M\n"}}, "openclaw_log_rotation.max_size"),
        ({"openclaw_openclaw": {"version": "2026.9.6\n"}}, "openclaw_openclaw.version"),
    ],
)
def test_a_trailing_newline_does_not_pass_a_name_check(data: dict[str, Any], key: str) -> None:
    problem = only_problem(data)
    assert problem.startswith(f"host 'gw1': {key}") and " is not a" in problem


def test_drift_schedule_may_run_as_root() -> None:
    settings_for_host("gw1", {"openclaw_secrets": TOKEN, "openclaw_drift_schedule": {"user": "root"}})


# --- secrets in extra_config ----------------------------------------------------------------------------


def _extra(extra_config: dict[str, Any], **gateway: Any) -> dict[str, Any]:
    return {"openclaw_gateways": [{"extra_config": extra_config, **gateway}]}


@pytest.mark.parametrize(
    ("extra_config", "where"),
    [
        ({"channels": {"x": {"token": "xoxb-123"}}}, "channels.x.token"),
        ({"channels": {"telegram": {"botToken": "123:abc"}}}, "channels.telegram.botToken"),
        ({"channels": {"slack": {"accounts": [{"appToken": "xapp-1"}]}}}, "channels.slack.accounts[0].appToken"),
        ({"models": {"providers": {"openai": {"apiKey": "sk-1"}}}}, "models.providers.openai.apiKey"),
        ({"tools": {"web": {"api_key": "k-1"}}}, "tools.web.api_key"),
        ({"hooks": {"webhook-secret": "s-1"}}, "hooks.webhook-secret"),
        ({"auth": {"PASSWORD": "p-1"}}, "auth.PASSWORD"),
        ({"sso": {"clientSecret": "c-1", "privateKey": "k"}}, "sso.clientSecret"),
        ({"channels": {"x": {"token": ["t-1", "t-2"]}}}, "channels.x.token[0]"),
        ({"channels": {"x": {"token": "Bearer ${OPENCLAW_GATEWAY_TOKEN}"}}}, "channels.x.token"),
        ({"channels": {"x": {"token": ""}}}, "channels.x.token"),
    ],
)
def test_literal_secret_in_extra_config_is_refused(extra_config: dict[str, Any], where: str) -> None:
    problem = only_problem(_extra(extra_config))
    assert problem.startswith(f"host 'gw1': openclaw_gateways[0].extra_config.{where}: ")
    assert "literal value" in problem and "Fix:" in problem
    # The value is a secret: the message must never show it.
    assert not [
        text for text in ("xoxb-123", "123:abc", "xapp-1", "sk-1", "k-1", "s-1", "p-1", "c-1") if text in problem
    ]


def test_secret_reference_with_a_source_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_BOT_TOKEN", "bot")
    extra = {
        "channels": {"telegram": {"botToken": "${TELEGRAM_BOT_TOKEN}", "allowFrom": ["${OPENCLAW_GATEWAY_TOKEN}"]}}
    }
    # A host-level source, and one the gateway itself names.
    settings_for_host(
        "gw1", {"openclaw_secrets": {**TOKEN, "TELEGRAM_BOT_TOKEN": {"env": "TEST_BOT_TOKEN"}}, **_extra(extra)}
    )
    settings_for_host(
        "gw1",
        {"openclaw_secrets": TOKEN, **_extra(extra, secrets={"TELEGRAM_BOT_TOKEN": {"env": "TEST_BOT_TOKEN"}})},
    )


@pytest.mark.parametrize(
    ("extra_config", "where"),
    [
        ({"channels": {"x": {"token": "${MISSING}"}}}, "channels.x.token"),
        ({"agents": {"list": [{"workspace": "/srv/${MISSING}/ws"}]}}, "agents.list[0].workspace"),
    ],
)
def test_reference_without_a_source_is_refused(extra_config: dict[str, Any], where: str) -> None:
    problem = only_problem(_extra(extra_config))
    assert problem.startswith(f"host 'gw1': openclaw_gateways[0].extra_config.{where}: ")
    assert "${MISSING}" in problem and "Fix: add MISSING to openclaw_secrets or to the gateway's secrets" in problem


def test_another_gateways_secret_is_no_source() -> None:
    gateways = [
        {"profile": "wa", "secrets": {"WA_TOKEN": {"env": "TEST_OPENCLAW_TOKEN"}}},
        {
            "profile": "sig",
            "port": 18809,
            **SECOND_TOKEN,
            "extra_config": {"channels": {"x": {"token": "${WA_TOKEN}"}}},
        },
    ]
    assert only_problem({"openclaw_gateways": gateways}).startswith(
        "host 'gw1': openclaw_gateways[1].extra_config.channels.x.token: "
    )


def test_ordinary_strings_under_ordinary_keys_are_accepted() -> None:
    extra = {
        "agents": {"defaults": {"model": "anthropic/claude", "maxTokens": 4096, "tokenFile": "/srv/t"}},
        "channels": {"x": {"requireToken": True, "mode": "token", "name": "bot", "key": "ctrl+k"}},
        "tools": {"allow": ["web", "exec"]},
    }
    settings_for_host("gw1", {"openclaw_secrets": TOKEN, **_extra(extra)})


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"openclaw_drift_schedule": {"command": ["openclaw-infra", "drift\nrm -rf /"]}}, "drift_schedule.command[1]"),
        (
            {"openclaw_secrets": {"OPENCLAW_GATEWAY_TOKEN": {"command": ["pass\tshow"]}}},
            "secrets.OPENCLAW_GATEWAY_TOKEN.command[0]",
        ),
    ],
)
def test_command_words_hold_no_control_characters(data: dict[str, Any], key: str) -> None:
    problem = only_problem(data)
    assert problem.startswith(f"host 'gw1': openclaw_{key}: ") and "control character" in problem


# --- characters a consumer cannot be given in any quoting ---------------------------------------------------


@pytest.mark.parametrize("home", ["/srv/open{claw}", "/srv/a}b"])
def test_braces_in_the_service_home_are_refused_for_logrotate(home: str) -> None:
    problem = only_problem({"openclaw_service_home": home})
    assert "openclaw_service_home" in problem and "logrotate" in problem and "Fix:" in problem


@pytest.mark.parametrize("prefix", ["/opt/no'de", '/opt/no"de', "/opt/no\\de"])
def test_quotes_or_backslash_in_the_node_prefix_are_refused_for_systemd(prefix: str) -> None:
    problem = only_problem({"openclaw_node": {"prefix": prefix}})
    assert "openclaw_node.prefix" in problem and "ExecStart" in problem and "Fix:" in problem


def test_spaces_semicolons_and_quotes_stay_allowed_where_every_reader_can_take_them() -> None:
    settings = settings_for_host(
        "gw1",
        {
            "openclaw_secrets": TOKEN,
            "openclaw_service_home": '/srv/it\'s "open" claw;touch x',
            "openclaw_node": {"prefix": "/opt/my node;x"},
            "openclaw_openclaw": {"prefix": "/opt/open 'claw'"},
        },
    ).settings
    assert settings.service_home == '/srv/it\'s "open" claw;touch x'


# --- macOS ----------------------------------------------------------------------------------------------

MAC = {"openclaw_os_family": "macos"}


@pytest.mark.parametrize("field", ["macos_admins", "macos_temporary_sudoers"])
def test_macos_only_settings_on_a_linux_host_are_refused(field: str) -> None:
    problem = only_problem({f"openclaw_{field}": ["someone"]})
    assert f"openclaw_{field}: openclaw_{field} only applies to macOS hosts" in problem
    assert "Fix: remove" in problem


def test_an_admin_given_access_may_not_run_a_gateway() -> None:
    problem = only_problem({**MAC, "openclaw_macos_admins": ["alice", "openclaw"]})
    assert problem.startswith("host 'gw1': openclaw_macos_admins[1]: 'openclaw' runs a gateway"), problem


@pytest.mark.parametrize("name", ["setup.bak", "setup~", "../sudoers", "a b", ""])
def test_a_sudoers_file_sudo_would_skip_or_outside_sudoers_d_is_refused(name: str) -> None:
    problem = only_problem({**MAC, "openclaw_macos_temporary_sudoers": [name]})
    assert "openclaw_macos_temporary_sudoers[0]" in problem and "is not a file name in /etc/sudoers.d" in problem


def test_a_mac_refuses_the_cli_secrets_copy_and_node_from_apt() -> None:
    assert "openclaw_cli_secrets_copy" in only_problem({**MAC, "openclaw_cli_secrets_copy": True})
    problem = only_problem({**MAC, "openclaw_node": {"install_method": "nodesource"}})
    assert problem.startswith("host 'gw1': openclaw_node.install_method:") and "darwin tarball" in problem


def test_mac_settings_are_accepted_with_their_defaults() -> None:
    settings = settings_for_host(
        "mac", {"openclaw_secrets": TOKEN, **MAC, "openclaw_macos_admins": ["alice"],
                "openclaw_macos_temporary_sudoers": ["setup-nopasswd"]},
    ).settings  # fmt: skip
    assert (settings.macos_service, settings.macos_docker_runtime) == ("launch-daemon", "orbstack")
    assert settings.macos_admins == ["alice"] and settings.macos_temporary_sudoers == ["setup-nopasswd"]


def test_the_lume_admin_password_is_for_a_macos_vm_only_and_is_read_like_a_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    password = {"openclaw_macos_vm_admin_password": {"env": "TEST_LUME_PASSWORD"}}
    assert "set openclaw_isolation to 'macos-vm'" in only_problem({**MAC, **password})
    assert "openclaw_macos_vm_admin_password only applies to macOS hosts" in only_problem(password)
    vm = {**MAC, **password, "openclaw_isolation": "macos-vm"}
    assert "openclaw_macos_vm_admin_password: environment variable TEST_LUME_PASSWORD is not set" in only_problem(vm)
    monkeypatch.setenv("TEST_LUME_PASSWORD", "Xk4-vT9.qLw2_Rz8mNp3")
    read = settings_for_host("vm1", {"openclaw_secrets": TOKEN, **vm})
    assert read.macos_vm_admin_password is not None and read.macos_vm_admin_password.unmask() == "Xk4-vT9.qLw2_Rz8mNp3"


def test_a_mac_home_newsyslog_cannot_name_is_refused_unless_rotation_is_off() -> None:
    home = {**MAC, "openclaw_service_home": "/Users/open claw"}
    problem = only_problem(home)
    assert problem.startswith("host 'gw1': openclaw_service_home: home /Users/open claw") and "newsyslog" in problem
    settings_for_host("gw1", {"openclaw_secrets": TOKEN, **home, "openclaw_log_rotation": {"enabled": False}})
