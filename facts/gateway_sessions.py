"""The sessions a gateway's store holds, as its own CLI lists them (``openclaw sessions --all-agents --json``)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import FactProcessError
from pyinfra.api.facts import FactBase
from typing_extensions import override

from openclaw_infra.gateway_cli import GatewayCli

from .parsing import unreadable
from .records import JsonRecord


@dataclasses.dataclass(frozen=True)
class GatewaySession(JsonRecord):
    agent_id: str
    key: str
    status: str | None


def _agent_of(session: dict[str, Any]) -> str:
    """The agent owning a session: its ``agentId``, else the ``agent:<id>:…`` part of its key."""
    agent = session.get("agentId")
    if isinstance(agent, str) and agent:
        return agent
    parts = str(session["key"]).split(":")
    if len(parts) >= 3 and parts[0] == "agent" and parts[1]:
        return parts[1]
    raise FactProcessError(f"session {session['key']!r} names no agent")


class GatewaySessions(FactBase[list[GatewaySession]]):
    """
    Every session of every agent in the gateway's store. Needs root: the CLI runs as the gateway's user with the
    gateway's environment through ``systemd-run`` (``openclaw_infra.gateway_cli``).

    Runs ``systemd-run … openclaw sessions --all-agents --json --limit all``.

    .. code:: python

        [{"agent_id": "main", "key": "agent:main:explicit:incident-test", "status": "failed"}]
    """

    @override
    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "systemd-run"

    @override
    def command(
        self,
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
        return StringCommand(cli.command(), "sessions --all-agents --json --limit all")

    @override
    def process(self, output: list[str]) -> list[GatewaySession]:
        text = "\n".join(output)
        try:
            # The CLI may print notices before its JSON.
            listed = json.loads(text[text.index("{") :])
            return [
                GatewaySession(agent_id=_agent_of(session), key=str(session["key"]), status=session.get("status"))
                for session in listed["sessions"]
            ]
        except (ValueError, KeyError, TypeError, FactProcessError) as error:
            raise unreadable("openclaw sessions --json", output[0] if output else "", repr(error)) from None
