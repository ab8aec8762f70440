"""Signal on a Linux gateway host (the guide's "Signal Setup"): what the Linux deploy installs, the interactive
link (``deploys/signal_link.py``) and sender approval (``deploys/signal_pairing.py``)."""

from __future__ import annotations

import json
from typing import Any

from pyinfra.api.deploy import deploy
from pyinfra.api.operation import OperationMeta
from pyinfra.context import ctx_state, host
from pyinfra.operations import systemd
from pyinfra.operations.util import any_changed

from openclaw_infra import signal_channel
from openclaw_infra.deploy_context import current_settings
from openclaw_infra.deploys.gateway_lifecycle import current_settings_of, require_systemd_gateways
from openclaw_infra.deploys.incident_response import gateway_cli
from openclaw_infra.gateway_paths import GatewayPaths
from openclaw_infra.host_settings import SettingsError
from openclaw_infra.operations import channel_pairing, gateway_config
from openclaw_infra.operations import signal_cli as signal_cli_operations
from openclaw_infra.settings import Settings, data_key

APPROVE_KEY = data_key("approve_signal_pairing")  # one of settings.LIFECYCLE_REQUESTS


def signal_software(settings: Settings) -> list[OperationMeta]:
    """With ``openclaw_signal``: the pinned Java and signal-cli installed (before any gateway starts on them)."""
    signal = settings.signal
    if signal is None:
        return []
    java, cli = signal.java, signal.signal_cli
    return [
        signal_cli_operations.java_runtime(
            name=f"Signal: Java {java.version} in {signal_channel.JAVA_DIR}",
            version=java.version,
            url=java.url,
            sha256=java.sha256,
        ),
        signal_cli_operations.signal_cli(
            name=f"Signal: signal-cli {cli.version} in {signal_channel.SIGNAL_CLI_DIR}",
            version=cli.version,
            url=cli.url,
            sha256=cli.sha256,
        ),
    ]


def signal_link_state(settings: Settings, link: bool = False) -> OperationMeta | None:
    """Whether signal-cli is linked to the bot's account; with ``link``, linked now (the operator scans)."""
    cli = signal_channel.signal_cli_of(settings)
    if settings.signal is None or cli is None:
        return None
    account = settings.signal.account
    return signal_cli_operations.device_linked(
        name=f"Signal: signal-cli linked to {account}" if link else f"Signal: is signal-cli linked to {account}?",
        account=account,
        cli=cli,
        device_name=settings.signal.device_name,
        timeout_seconds=settings.signal.link_timeout_seconds,
        link=link,
    )


def _require_signal(deploy_file: str) -> None:
    """Refuse the run, before any host is touched, when a host has no ``openclaw_signal``."""
    require_systemd_gateways(deploy_file)
    inventory = ctx_state.get().inventory  # type: ignore[no-untyped-call]
    problems = [
        f"host {inventory_host.name!r}: {deploy_file} needs {data_key('signal')}, which this host does not set. "
        f"Fix: set it, or leave the host out (--limit)."
        for inventory_host in inventory
        if current_settings_of(inventory_host.name).signal is None
    ]
    if problems:
        raise SettingsError(problems)


@deploy("OpenClaw Signal link")
def signal_link() -> None:
    """signal-cli linked as a device of the bot's Signal account (the operator scans the URI it logs), then the
    gateway carrying the channel restarted so it starts signal-cli's daemon on the account."""
    _require_signal("deploys/signal_link.py")
    settings = current_settings().settings
    signal_software(settings)
    linked = signal_link_state(settings, link=True)
    gateway = settings.signal_gateway()
    if linked is None or gateway is None:
        return
    systemd.service(
        name=f"{gateway.service_name}: restarted on the new link",
        service=GatewayPaths(settings, gateway).unit_name,
        running=True,
        restarted=True,
        _if=any_changed(linked),
    )


def requested_codes(data: Any) -> tuple[list[str], str | None]:
    """The codes ``--data openclaw_approve_signal_pairing=CODE[,CODE…]`` names, or why the request is bad."""
    wanted = data.get(APPROVE_KEY)
    values = wanted.split(",") if isinstance(wanted, str) else wanted if isinstance(wanted, list) else []
    codes = [str(code).strip().upper() for code in values if str(code).strip()]
    bad = [code for code in codes if not channel_pairing.PAIRING_CODE.fullmatch(code)]
    if not codes or bad:
        return [], (
            f"{APPROVE_KEY} {wanted!r} is not one or more pairing codes ({', '.join(bad) or 'none given'}). "
            "Fix: give the 8-character code(s) the bot sent, comma-separated, e.g. "
            f"--data {APPROVE_KEY}=5X9JSF56 (`openclaw pairing list signal` on the host lists them)."
        )
    return codes, None


def _owner_configured(settings: Settings) -> bool:
    gateway = settings.signal_gateway()
    if gateway is None:
        return False
    return signal_channel.owner_configured(json.loads(gateway_config.content_for(settings, gateway)))


def _check_requests() -> None:
    inventory = ctx_state.get().inventory  # type: ignore[no-untyped-call]
    problems = []
    for inventory_host in inventory:
        _, problem = requested_codes(inventory_host.data)
        if problem is None and not _owner_configured(current_settings_of(inventory_host.name)):
            problem = (
                "the Signal gateway's openclaw.json names no command owner, so the first approval would make "
                "OpenClaw write the sender into it as owner, and the next deploy would take it out again. Fix: set "
                f"{data_key('signal')}.owner (your own number) and deploy first"
            )
        if problem:
            problems.append(f"host {inventory_host.name!r}: {problem}")
    if problems:
        raise SettingsError(problems)


@deploy("OpenClaw Signal pairing approval")
def signal_pairing_approved() -> None:
    """Each requested pairing code approved on the gateway carrying the Signal channel."""
    _require_signal("deploys/signal_pairing.py")
    _check_requests()
    settings = current_settings().settings
    gateway = settings.signal_gateway()
    if gateway is None:
        return
    codes, _ = requested_codes(host.data)
    for code in codes:
        channel_pairing.pairing_approved(
            name=f"Signal: pairing code {code} approved on {gateway.service_name}",
            channel="signal",
            code=code,
            gateway=gateway_cli(settings, gateway),
            owner_configured=_owner_configured(settings),
        )
