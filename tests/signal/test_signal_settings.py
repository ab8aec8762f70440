"""``openclaw_signal``: the bot's account, the carrying gateway, the DM and group policies and the pinned
downloads refused, naming the data key and the fix, while the settings are checked (before any host is touched)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from openclaw_infra.host_settings import SettingsError, settings_for_hosts
from openclaw_infra.settings import DEFAULT_JAVA, DEFAULT_SIGNAL_CLI, Settings

ACCOUNT = "+46701234567"


def host_data(tmp_path: Path, signal: dict[str, Any], **more: Any) -> dict[str, Any]:
    tokens = {}
    for name in ("a", "b"):
        token = tmp_path / f"token-{name}"
        token.write_text(name * 40)
        tokens[name] = {"OPENCLAW_GATEWAY_TOKEN": {"file": str(token)}}
    return {
        "openclaw_gateways": [
            {"secrets": tokens["a"]},
            {"profile": "work", "port": 18809, "secrets": tokens["b"]},
        ],
        "openclaw_signal": signal,
        **more,
    }


def refusal(tmp_path: Path, signal: dict[str, Any], **more: Any) -> str:
    with pytest.raises(SettingsError) as refused:
        settings_for_hosts([("gw", host_data(tmp_path, signal, **more))])
    return str(refused.value)


def test_defaults_pin_java_and_signal_cli_with_checksums(tmp_path: Path) -> None:
    (host,) = settings_for_hosts([("gw", host_data(tmp_path, {"account": ACCOUNT}))]).values()
    signal = host.settings.signal
    assert signal is not None
    assert (signal.dm_policy, signal.group_policy, signal.device_name) == ("pairing", "allowlist", "OpenClaw")
    assert signal.java == DEFAULT_JAVA and signal.signal_cli == DEFAULT_SIGNAL_CLI
    # Each pin's URL names its version: a bumped version with a stale URL would install the old release.
    assert "25.0.4_7" in signal.java.url and "v0.14.5/signal-cli-0.14.5.tar.gz" in signal.signal_cli.url
    # The first gateway carries it unless another is named.
    assert host.settings.signal_gateway() == host.settings.gateways[0]


def test_the_carrying_gateway_is_named_by_profile(tmp_path: Path) -> None:
    (host,) = settings_for_hosts([("gw", host_data(tmp_path, {"account": ACCOUNT, "gateway": "work"}))]).values()
    assert host.settings.signal_gateway() == host.settings.gateways[1]


@pytest.mark.parametrize(
    ("signal", "expected"),
    [
        ({"account": "46701234567"}, "openclaw_signal.account: account '46701234567' is not an E.164 phone number"),
        ({"account": "+4670123456789012"}, "is not an E.164 phone number"),
        ({"account": ACCOUNT, "allow_from": ["alice"]}, "openclaw_signal.allow_from[0]: allow_from 'alice' is not a"),
        ({"account": ACCOUNT, "dm_policy": "open"}, "openclaw_signal.dm_policy: dm_policy 'open' lets anyone"),
        ({"account": ACCOUNT, "group_policy": "open"}, "group_policy 'open' lets any group the number is in"),
        ({"account": ACCOUNT, "dm_policy": "allowlist"}, "openclaw_signal.allow_from: dm_policy 'allowlist' with an"),
        ({"account": ACCOUNT, "gateway": "home"}, "openclaw_signal.gateway: no gateway has profile 'home'"),
        ({"account": ACCOUNT, "owner": "me"}, "openclaw_signal.owner: owner 'me' is not a Signal sender"),
        (
            {"account": ACCOUNT, "java": {"version": "25.0.5+11"}},
            "openclaw_signal.java.url: Field required",
        ),
        (
            {"account": ACCOUNT, "signal_cli": {**DEFAULT_SIGNAL_CLI.model_dump(), "sha256": "62D38EBF"}},
            "openclaw_signal.signal_cli.sha256: sha256 '62D38EBF' is not a SHA-256 checksum",
        ),
        (
            {"account": ACCOUNT, "signal_cli": {**DEFAULT_SIGNAL_CLI.model_dump(), "url": "http://example.com/x.tgz"}},
            "openclaw_signal.signal_cli.url: url 'http://example.com/x.tgz' is not an https URL",
        ),
        (
            {"account": ACCOUNT, "signal_cli": {**DEFAULT_SIGNAL_CLI.model_dump(), "version": "../../etc"}},
            "is not a release version",
        ),
    ],
)
def test_bad_signal_settings_are_refused_naming_the_key(tmp_path: Path, signal: dict[str, Any], expected: str) -> None:
    message = refusal(tmp_path, signal)
    assert expected in message
    assert "Fix:" in message


def test_signal_is_only_for_the_linux_systemd_deploy(tmp_path: Path) -> None:
    message = refusal(
        tmp_path, {"account": ACCOUNT}, openclaw_isolation="docker-containerized", openclaw_docker_sandbox=False
    )
    assert "openclaw_signal is set up by the Linux systemd deploy" in message


def test_extra_config_may_not_set_what_openclaw_signal_writes(tmp_path: Path) -> None:
    data = host_data(tmp_path, {"account": ACCOUNT})
    data["openclaw_gateways"][0]["extra_config"] = {"channels": {"signal": {"transport": {"kind": "container"}}}}
    with pytest.raises(SettingsError) as refused:
        settings_for_hosts([("gw", data)])
    assert "extra_config sets channels.signal.transport, which openclaw_signal writes" in str(refused.value)
    # Keys it does not write stay the operator's.
    data["openclaw_gateways"][0]["extra_config"] = {"channels": {"signal": {"mediaMaxMb": 8}}}
    settings_for_hosts([("gw", data)])


def test_a_socket_path_too_long_for_a_unix_socket_is_refused() -> None:
    home = "/srv/" + "h" * 80
    with pytest.raises(ValueError, match=r"signal-cli's socket .* bytes long; a UNIX socket path holds at most 103"):
        Settings.model_validate(
            {
                "service_home": home,
                "secrets": {"OPENCLAW_GATEWAY_TOKEN": {"env": "T"}},
                "signal": {"account": ACCOUNT},
            }
        )
