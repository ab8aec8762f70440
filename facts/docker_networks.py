"""Docker networks on a host: name, driver and whether they are internal (no route out)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from pyinfra.api.facts import FactBase
from typing_extensions import override

from .parsing import unreadable
from .records import JsonRecord


@dataclasses.dataclass(frozen=True)
class DockerNetwork(JsonRecord):
    # The short (12-character) ID: a bridge network's Linux bridge is br-<id> unless named otherwise.
    id: str
    name: str
    driver: str
    internal: bool


class DockerNetworks(FactBase[dict[str, DockerNetwork]]):
    """
    Returns every Docker network by name; empty when docker is not installed or its daemon is down.

    Runs ``docker network ls --format '{{json .}}'`` (one JSON object per line).

    .. code:: python

        {"openclaw-sandbox": {"id": "3f1c0e9a2b7d", "name": "openclaw-sandbox", "driver": "bridge", "internal": True}}
    """

    @override
    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "docker"

    @override
    def command(self) -> str:
        # A stopped daemon is "no networks yet", not a failed host; the engine operation starts it.
        return "docker network ls --format '{{json .}}' 2>/dev/null || true"

    @override
    @staticmethod
    def default() -> dict[str, DockerNetwork]:
        return {}

    @override
    def process(self, output: list[str]) -> dict[str, DockerNetwork]:
        networks = {}
        for line in output:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                network = DockerNetwork(
                    id=row["ID"],
                    name=row["Name"],
                    driver=row["Driver"],
                    internal=str(row["Internal"]).lower() == "true",
                )
            except (ValueError, KeyError) as error:
                raise unreadable(
                    "docker network ls", line, f"expected a JSON object with ID, Name, Driver, Internal: {error}"
                ) from None
            networks[network.name] = network
        return networks
