"""Operations that take the settings model, callable with the settings as the inventory writes them.

pyinfra-testing builds an operation's kwargs from JSON and knows dataclasses, not pydantic models; these wrappers
validate the JSON into ``Settings`` and run the real operation, so its fixtures stay plain JSON.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from pyinfra.api.operation import operation

from openclaw_infra.operations import preflight
from openclaw_infra.settings import Settings


@operation(is_idempotent=True)
def host_ready(settings: dict[str, Any]) -> Generator[str, None, None]:
    yield from preflight.host_ready._inner(settings=Settings.model_validate(settings))
