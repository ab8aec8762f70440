"""The content of a gateway's secrets file: what the deploy uploads and what the drift checks compare against.

Only ever held in memory on the control machine; its checksum is all a report shows.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pyinfra.api.exceptions import OperationValueError
from pyinfra.api.hiddenvalue import HiddenValue

from openclaw_infra.rendering import render

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def environment_file_content(values: Mapping[str, HiddenValue]) -> str:
    """systemd EnvironmentFile lines; values double-quoted so spaces, '#' and quotes survive."""
    lines = {}
    for env_name, value in sorted(values.items()):
        if not ENV_NAME.match(env_name):
            raise OperationValueError(f"{env_name!r} is not an environment variable name")
        raw = value.unmask()
        if "\n" in raw or "\r" in raw:
            raise OperationValueError(f"the value of {env_name} holds a line break")
        lines[env_name] = raw.replace("\\", "\\\\").replace('"', '\\"')
    return render("secrets/secrets.env.j2", values=lines)
