"""Whether a gateway answers its health endpoint, waiting a bounded time for it to come up."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from pyinfra.api.facts import FactBase
from typing_extensions import override

from .parsing import unreadable
from .records import JsonRecord

NO_ANSWER = "no-answer"


@dataclasses.dataclass(frozen=True)
class GatewayHealth(JsonRecord):
    healthy: bool
    # The endpoint's JSON answer, or what curl said when there was none: the evidence a failed check shows.
    answer: str
    waited_seconds: int


class GatewayHealthCheck(FactBase[GatewayHealth]):
    """
    Polls ``http://127.0.0.1:<port>/health`` once a second for up to ``wait_seconds`` (curl, loopback only).

    .. code:: python

        {"healthy": True, "answer": '{"ok":true,"status":"live"}', "waited_seconds": 3}
    """

    @override
    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "curl"

    @override
    def command(self, port: int, wait_seconds: int = 60) -> str:
        # Always exits 0 and prints "<seconds> <answer>": a gateway that is down is a value, not a failed host.
        url = f"http://127.0.0.1:{int(port)}/health"
        return (
            f"i=0; while [ $i -lt {int(wait_seconds)} ]; do "
            f'out=$(curl -sS --max-time 2 {url} 2>&1) && {{ echo "$i $out"; exit 0; }}; '
            f'i=$((i+1)); sleep 1; done; echo "$i {NO_ANSWER}: $out"'
        )

    @override
    def process(self, output: list[str]) -> GatewayHealth:
        waited, _, answer = " ".join(output).strip().partition(" ")
        if not waited.isdigit():
            raise unreadable("gateway health check", " ".join(output), "expected '<seconds> <answer>'")
        healthy = False
        if not answer.startswith(NO_ANSWER):
            try:
                healthy = json.loads(answer).get("ok") is True
            except (ValueError, AttributeError):
                healthy = False
        return GatewayHealth(healthy=healthy, answer=answer[:500], waited_seconds=int(waited))
