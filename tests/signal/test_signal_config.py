"""``channels.signal`` in the carrying gateway's openclaw.json, and ``JAVA_HOME`` in its unit: only there, pointing at
the pinned releases. OpenClaw 2026.9.6's own ``openclaw config validate`` judges that config on a sandbox host's real
install: ``tests/linux/test_local_admin_agent.py``."""

from __future__ import annotations

import json
from typing import Any

from openclaw_infra.gateway_paths import GatewayPaths
from openclaw_infra.operations import gateway_config, gateway_service
from openclaw_infra.settings import Settings

ACCOUNT = "+46701234567"


def settings(**signal: Any) -> Settings:
    return Settings.model_validate(
        {
            "gateways": [
                {"secrets": {"OPENCLAW_GATEWAY_TOKEN": {"env": "A"}}},
                {"profile": "work", "port": 18809, "secrets": {"OPENCLAW_GATEWAY_TOKEN": {"env": "B"}}},
            ],
            "signal": {"account": ACCOUNT, **signal},
        }
    )


def config(model: Settings, index: int) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(gateway_config.content_for(model, model.gateways[index]))
    return loaded


def unit(model: Settings, index: int) -> str:
    gateway = model.gateways[index]
    return gateway_service.unit_content(model, gateway, GatewayPaths(model, gateway))


def test_the_carrying_gateway_gets_the_channel_on_the_pinned_signal_cli() -> None:
    model = settings(allow_from=["+46700000002"], owner="+46700000001", gateway="work")
    carrying = config(model, 1)
    assert carrying["channels"]["signal"] == {
        "enabled": True,
        "account": ACCOUNT,
        "dmPolicy": "pairing",
        "allowFrom": ["+46700000002"],
        "groupPolicy": "allowlist",
        "transport": {
            "kind": "managed-native",
            "cliPath": "/opt/signal-cli/0.14.5/bin/signal-cli",
            "configPath": "/home/openclaw/.openclaw-work/signal-cli",
            "socketPath": "/home/openclaw/.openclaw-work/signal-daemon/daemon.sock",
            "startupTimeoutMs": 60000,
        },
    }
    assert carrying["commands"] == {"ownerAllowFrom": ["signal:+46700000001"]}
    # The other gateway of the host has neither.
    other = config(model, 0)
    assert "channels" not in other and "commands" not in other


def test_java_home_only_in_the_carrying_gateways_unit() -> None:
    model = settings()
    assert "Environment=JAVA_HOME=/opt/java/25.0.4+7\n" in unit(model, 0)
    assert "JAVA_HOME" not in unit(model, 1)
    assert "JAVA_HOME" not in unit(Settings.model_validate({"secrets": {"OPENCLAW_GATEWAY_TOKEN": {"env": "A"}}}), 0)


def test_a_new_pin_changes_the_config_and_the_unit() -> None:
    # Both restart the gateway through the deploy's change detection: no separate restart for an upgrade.
    bumped = settings(
        java={"version": "25.0.5+11", "url": "https://example.com/jre.tar.gz", "sha256": "a" * 64},
        signal_cli={"version": "0.14.6", "url": "https://example.com/signal-cli.tar.gz", "sha256": "b" * 64},
    )
    assert config(bumped, 0)["channels"]["signal"]["transport"]["cliPath"] == "/opt/signal-cli/0.14.6/bin/signal-cli"
    assert "Environment=JAVA_HOME=/opt/java/25.0.5+11\n" in unit(bumped, 0)


def test_extra_config_adds_to_the_channel() -> None:
    model = Settings.model_validate(
        {
            "secrets": {"OPENCLAW_GATEWAY_TOKEN": {"env": "A"}},
            "gateways": [{"extra_config": {"channels": {"signal": {"mediaMaxMb": 4}}}}],
            "signal": {"account": ACCOUNT},
        }
    )
    channel = config(model, 0)["channels"]["signal"]
    assert channel["mediaMaxMb"] == 4 and channel["account"] == ACCOUNT
