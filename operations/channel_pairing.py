"""DM pairing approval (the guide's "Approve senders"): a sender's pending request approved with the code the bot
sent them, through the gateway's own CLI run as its user (``openclaw_infra.gateway_cli``)."""

from __future__ import annotations

import re
from collections.abc import Generator

from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import OperationError, OperationValueError
from pyinfra.api.operation import operation
from pyinfra.context import host

from openclaw_infra.facts.batch import read_facts
from openclaw_infra.facts.channel_pairing import PairingRequests
from openclaw_infra.gateway_cli import GatewayCli
from openclaw_infra.quoting import quoted

# OpenClaw 2026.9.6's pairing codes: 8 characters of "ABCDEFGHJKLMNPQRSTUVWXYZ23456789" (no 0, O, 1, I).
PAIRING_CODE = re.compile(r"[A-HJ-NP-Z2-9]{8}")
CHANNEL = re.compile(r"[a-z][a-z0-9-]{0,30}")


@operation(is_idempotent=False)
def pairing_approved(
    channel: str, code: str, gateway: GatewayCli, owner_configured: bool
) -> Generator[StringCommand, None, None]:
    """
    Approve the pending DM pairing request of ``channel`` whose code is ``code``: its sender may then talk to the
    agent (DMs only; groups follow their own allowlist).

    + channel: the channel (``signal``)
    + code: the code the bot sent the sender (8 characters, case does not matter)
    + gateway: the gateway as its CLI sees it (its user, state dir, root-only secrets file, port, profile)
    + owner_configured: the gateway's managed openclaw.json names a command owner (``commands.ownerAllowFrom``)

    Nothing happens when no pending request has that code: it was approved already, expired (after an hour) or
    never made; the pending codes are named. Refused while the config names no command owner: the CLI would then
    write the sender into openclaw.json as owner, and the next deploy would take it out again.
    """
    if not CHANNEL.fullmatch(channel):
        raise OperationValueError(f"channel {channel!r} is not a channel id")
    wanted = code.strip().upper()
    if not PAIRING_CODE.fullmatch(wanted):
        raise OperationValueError(f"{code!r} is not a pairing code (8 letters and digits, as the bot sent it)")
    (requests,) = read_facts((PairingRequests, {"channel": channel, **gateway.fact_arguments()}))
    request = next((found for found in requests if found.code == wanted), None)
    if request is None:
        pending = ", ".join(f"{found.code} ({found.sender})" for found in requests) or "none"
        host.noop(
            f"no pending {channel} pairing request has code {wanted} (approved, expired or never made); "
            f"pending: {pending}"
        )
        return
    if not owner_configured:
        raise OperationError(
            f"this gateway's openclaw.json names no command owner, so approving {request.sender} would make "
            "OpenClaw write them into it as owner, which the next deploy takes out again. Fix: set "
            "openclaw_signal.owner (your own number) and deploy, then approve"
        )
    yield StringCommand(
        gateway.command(), "pairing approve", quoted(channel), quoted(wanted),
        "&& echo", quoted(f"{channel} sender {request.sender} approved"),
    )  # fmt: skip
