"""The DM pairing requests a gateway holds for one channel, as its own CLI lists them
(``openclaw pairing list <channel> --json``): who asked to talk to the agent, and the code that approves them."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactBase
from typing_extensions import override

from openclaw_infra.gateway_cli import GatewayCli
from openclaw_infra.quoting import quoted

from .parsing import unreadable
from .records import JsonRecord


@dataclasses.dataclass(frozen=True)
class PairingRequest(JsonRecord):
    # The sender: an E.164 number, or "uuid:<id>" for a Signal sender known by its UUID only.
    sender: str
    code: str
    # The channel account it came in on ("default" for a channel of one account).
    account_id: str | None
    created_at: str | None


class PairingRequests(FactBase[list[PairingRequest]]):
    """
    The pending DM pairing requests of one channel of a gateway (they expire after an hour). Needs root: the CLI
    runs as the gateway's user with the gateway's environment through ``systemd-run``
    (``openclaw_infra.gateway_cli``).

    Runs ``systemd-run … openclaw pairing list <channel> --json``.

    .. code:: python

        [{"sender": "+15557654321", "code": "5X9JSF56", "account_id": "default",
          "created_at": "2026-12-06T04:23:33.557Z"}]
    """

    @override
    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "systemd-run"

    @override
    def command(
        self,
        channel: str,
        user: str,
        home: str,
        state_dir: str,
        secrets_file: str,
        openclaw_bin: str,
        node_bin_dir: str,
        port: int,
        profile: str | None = None,
    ) -> StringCommand:
        cli = GatewayCli(user, home, state_dir, secrets_file, openclaw_bin, node_bin_dir, port, profile)
        return StringCommand(cli.command(), "pairing list", quoted(channel), "--json")

    @override
    def process(self, output: list[str]) -> list[PairingRequest]:
        text = "\n".join(output)
        try:
            # The CLI may print notices (plugin set-up, config warnings) before its JSON.
            listed = json.loads(text[text.index("{") :])
            return [
                PairingRequest(
                    sender=str(request["id"]),
                    code=str(request["code"]),
                    account_id=(request.get("meta") or {}).get("accountId"),
                    created_at=request.get("createdAt"),
                )
                for request in listed["requests"]
            ]
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise unreadable("openclaw pairing list --json", output[0] if output else "", repr(error)) from None
