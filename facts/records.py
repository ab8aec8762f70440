"""Base class for the typed records the facts return."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class JsonRecord:
    """A frozen dataclass that ``pyinfra … fact X --json`` can print.

    pyinfra's CLI encoder (``pyinfra_cli.util.json_encode``) knows no dataclasses, only objects with a
    ``to_json`` method. Enums in records are ``StrEnum`` members and tuples become lists, so the JSON is plain.
    """

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
