"""pf, the BSD packet filter on macOS: ``pfctl``."""

from __future__ import annotations

import re
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactBase
from typing_extensions import override

from openclaw_infra.quoting import quoted

from .parsing import meaningful_lines, unreadable

# pfctl on macOS prints these on stderr before every answer.
ALTQ_NOTICES = ("No ALTQ support in kernel", "ALTQ related functions disabled")

_STATUS = re.compile(r"^Status: (?P<status>Enabled|Disabled)\b")
_ANCHOR = re.compile(r"^[A-Za-z0-9_.\-/*]+$")


class PfEnabled(FactBase[bool | None]):
    """
    Returns whether pf is enabled; ``None`` where ``pfctl`` is missing. Needs root.

    Runs ``pfctl -s info`` and reads its ``Status: Enabled|Disabled`` line.

    .. code:: python

        False
    """

    @override
    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "pfctl"

    @override
    def command(self) -> str:
        return "pfctl -s info"

    @override
    def process(self, output: list[str]) -> bool:
        lines = [line for line in meaningful_lines(output) if line not in ALTQ_NOTICES]
        for line in lines:
            if match := _STATUS.match(line):
                return match["status"] == "Enabled"
        raise unreadable("pfctl -s info", lines[0] if lines else "", "no 'Status: Enabled|Disabled' line")


class PfAnchorRules(FactBase[list[str]]):
    """
    Returns the filter rules of one pf anchor (the main ruleset by default), as pfctl prints them.

    + anchor: anchor name, e.g. ``com.apple`` or ``openclaw``

    Runs ``pfctl [-a ANCHOR] -s rules`` with stderr folded in, so that an error pfctl prints inside the
    listing (``pfctl: DIOCGETRULES: Invalid argument``) raises ``FactProcessError`` rather than passing for
    an empty anchor. ``[]`` where ``pfctl`` is missing. Needs root.

    .. code:: python

        ['scrub-anchor "com.apple/*" all fragment reassemble', 'anchor "com.apple/*" all']
    """

    default = list

    @override
    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "pfctl"

    @override
    def command(self, anchor: str | None = None) -> str | StringCommand:
        if anchor is None:
            return "pfctl -s rules 2>&1"
        if not _ANCHOR.match(anchor):
            raise ValueError(f"not a pf anchor name: {anchor!r}")
        return StringCommand("pfctl -a", quoted(anchor), "-s rules 2>&1")

    @override
    def process(self, output: list[str]) -> list[str]:
        rules = []
        for line in meaningful_lines(output):
            if line in ALTQ_NOTICES:
                continue
            if line.startswith("pfctl:"):
                raise unreadable("pfctl -s rules", line, "pfctl reported an error")
            rules.append(line.strip())
        return rules
