"""Where Signal's pieces live on a host, and the ``channels.signal`` they make: derived from the settings alone, so
the deploy that installs them, the gateway's config and unit, and the link and pairing deploys never disagree.

Java and signal-cli are root's, under /opt, one directory per version (``current`` points at the one in use). The
gateway's hardened unit may write only its state dir, and the daemon signal-cli runs under it inherits that: the
account's keys (signal-cli's ``--config``) and the daemon's private socket both live there.
"""

from __future__ import annotations

import dataclasses
import posixpath
from typing import Any

from openclaw_infra.settings import SIGNAL_CLI_CONFIG, SIGNAL_SOCKET, Gateway, Settings, Signal

JAVA_DIR = "/opt/java"
SIGNAL_CLI_DIR = "/opt/signal-cli"
# The stable name of the release in use, beside the versions.
CURRENT = "current"


def java_home(signal: Signal) -> str:
    return posixpath.join(JAVA_DIR, signal.java.version)


def signal_cli_bin(signal: Signal) -> str:
    """The pinned release's own launcher (not ``current``'s): a new version changes the config, which restarts the
    gateway on it."""
    return posixpath.join(SIGNAL_CLI_DIR, signal.signal_cli.version, "bin", "signal-cli")


@dataclasses.dataclass(frozen=True)
class SignalCli:
    """signal-cli as the gateway carrying the channel runs it: its user, home, ``--config`` directory, launcher
    and Java."""

    user: str
    home: str
    config_dir: str
    bin: str
    java_home: str


def signal_cli_of(settings: Settings) -> SignalCli | None:
    gateway = settings.signal_gateway()
    if settings.signal is None or gateway is None:
        return None
    user = settings.user_of(gateway)
    return SignalCli(
        user=user,
        home=settings.home_of(user),
        config_dir=posixpath.join(settings.state_dir_of(gateway), SIGNAL_CLI_CONFIG),
        bin=signal_cli_bin(settings.signal),
        java_home=java_home(settings.signal),
    )


def java_home_of(settings: Settings, gateway: Gateway) -> str | None:
    """The ``JAVA_HOME`` of ``gateway``'s service: the pinned Java when it carries Signal, else none."""
    if settings.signal is None or settings.signal_gateway() != gateway:
        return None
    return java_home(settings.signal)


def channel_config(settings: Settings, gateway: Gateway) -> dict[str, Any]:
    """What ``openclaw_signal`` adds to ``gateway``'s openclaw.json (nothing unless it carries the channel): the
    guide's ``channels.signal`` on OpenClaw 2026.9.6's schema (``cliPath`` moved under ``transport``), and the
    command owner."""
    signal = settings.signal
    if signal is None or settings.signal_gateway() != gateway:
        return {}
    state_dir = settings.state_dir_of(gateway)
    channel: dict[str, Any] = {
        "enabled": True,
        "account": signal.account,
        "dmPolicy": signal.dm_policy,
        "allowFrom": list(signal.allow_from),
        "groupPolicy": signal.group_policy,
        "transport": {
            # OpenClaw starts signal-cli's daemon itself, as the gateway's user and inside its sandbox.
            "kind": "managed-native",
            "cliPath": signal_cli_bin(signal),
            "configPath": posixpath.join(state_dir, SIGNAL_CLI_CONFIG),
            # A UNIX socket in a 0700 directory instead of an HTTP port on loopback, which every local user could
            # reach (signal-cli's daemon has no authentication).
            "socketPath": posixpath.join(state_dir, SIGNAL_SOCKET),
            "startupTimeoutMs": signal.startup_timeout_seconds * 1000,
        },
    }
    config: dict[str, Any] = {"channels": {"signal": channel}}
    if signal.owner:
        config["commands"] = {"ownerAllowFrom": [f"signal:{signal.owner}"]}
    return config


def owner_configured(config: dict[str, Any]) -> bool:
    """Whether an openclaw.json names a command owner: without one, ``openclaw pairing approve`` writes the sender
    it approves into the file (its first-owner bootstrap)."""
    commands = config.get("commands")
    return isinstance(commands, dict) and bool(commands.get("ownerAllowFrom"))
