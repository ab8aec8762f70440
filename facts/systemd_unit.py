"""A systemd unit as systemd runs it: its effective properties, its drop-ins, and the exposure score
``systemd-analyze security`` gives it. What the unit file says is not enough: a drop-in can override any of it."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactBase
from typing_extensions import override

from openclaw_infra.quoting import quoted, shell_word

from .parsing import meaningful_lines, required_lines, unreadable
from .records import JsonRecord

# Where a drop-in for one unit can live: systemd's search path for system units, persistent and runtime, plus the
# ".control" dirs `systemctl set-property` writes to. Read from disk because systemd shows a drop-in added since
# the last daemon-reload nowhere (not in DropInPaths, not as NeedDaemonReload), yet loads it at the next reload.
DROP_IN_ROOTS = (
    "/etc/systemd/system.control",
    "/run/systemd/system.control",
    "/run/systemd/transient",
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
)
_DROP_IN_MARKER = "--- drop-in files ---"
_EXPOSURE = re.compile(r"Overall exposure level for (?P<unit>\S+): (?P<score>\d+(?:\.\d+)?) (?P<verdict>\S+)")


@dataclasses.dataclass(frozen=True)
class UnitState(JsonRecord):
    """``properties``: as ``systemctl show`` prints them; ``drop_in_files``: the ``*.conf`` files on disk in the
    unit's own ``<unit>.d`` directories (loaded or not yet)."""

    properties: dict[str, str]
    drop_in_files: tuple[str, ...]


class SystemdUnitState(FactBase[UnitState]):
    """
    The effective values of ``properties`` of ``unit``, and the drop-in files on disk for it.

    Runs ``systemctl show --property=<properties> -- <unit>``, then lists ``<root>/<unit>.d/*.conf`` for each of
    ``DROP_IN_ROOTS``.

    + unit: the unit's full name, e.g. ``openclaw-gateway.service``
    + properties: comma-separated property names, e.g. ``User,Group,DropInPaths``

    .. code:: python

        {
            "properties": {"User": "openclaw", "NoNewPrivileges": "yes", "DropInPaths": ""},
            "drop_in_files": ["/etc/systemd/system/openclaw-gateway.service.d/zz.conf"],
        }
    """

    @override
    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "systemctl"

    @override
    def command(self, unit: str, properties: str) -> StringCommand:
        return StringCommand(
            "systemctl", "show", quoted(f"--property={properties}"), "--", quoted(unit), "&&",
            "echo", quoted(_DROP_IN_MARKER), "&&",
            f"drop_ins={shell_word(unit + '.d')};",
            "for root in", *DROP_IN_ROOTS, "; do",
            'for file in "$root/$drop_ins"/*.conf; do [ -e "$file" ] && echo "$file"; done;',
            "done; true",
        )  # fmt: skip

    @override
    def process(self, output: list[str]) -> UnitState:
        lines = required_lines("systemctl show", output)
        if _DROP_IN_MARKER not in lines:
            raise unreadable("systemctl show", lines[-1], f"no {_DROP_IN_MARKER!r} line after the properties")
        marker = lines.index(_DROP_IN_MARKER)
        properties = {}
        for line in lines[:marker]:
            key, equals, value = line.partition("=")
            if not equals or not key.isalnum():
                raise unreadable("systemctl show", line, "expected 'Property=value'")
            properties[key] = value
        drop_ins = lines[marker + 1 :]
        for path in drop_ins:
            if not (path.startswith("/") and path.endswith(".conf")):
                raise unreadable("drop-in listing", path, "expected the absolute path of a .conf file")
        return UnitState(properties=properties, drop_in_files=tuple(drop_ins))


class SystemdSecurityExposure(FactBase[float | None]):
    """
    The overall exposure level ``systemd-analyze security`` gives ``unit`` (0.0 best, 10.0 worst); ``None`` when
    systemd has no such unit.

    Runs ``systemd-analyze security --no-pager -- <unit>`` and reads its last line.

    .. code:: python

        1.3
    """

    @override
    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "systemd-analyze"

    @override
    def command(self, unit: str) -> StringCommand:
        # The verdict is the last line; a unit systemd does not know exits 1 with "Unit … not found".
        return StringCommand("systemd-analyze", "security", "--no-pager", "--", quoted(unit), "2>&1 | tail -n 1")

    @override
    def process(self, output: list[str]) -> float | None:
        lines = meaningful_lines(output)
        last = lines[-1] if lines else ""
        if last.startswith("Unit ") and "not found" in last:
            return None
        match = _EXPOSURE.search(last)
        if not match:
            raise unreadable("systemd-analyze security", last, "expected 'Overall exposure level for <unit>: <n>'")
        return float(match["score"])
