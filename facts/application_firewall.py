"""The macOS application firewall: ``socketfilterfw``."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from pyinfra.api.facts import FactBase
from typing_extensions import override

from .parsing import meaningful_lines, unreadable
from .records import JsonRecord

SOCKETFILTERFW = "/usr/libexec/ApplicationFirewall/socketfilterfw"

# Each answer line, in every wording seen so far; macOS 26 changed the stealth-mode one.
_GLOBAL_STATE = re.compile(r"^Firewall is (?P<word>enabled|disabled)\. \(State = (?P<state>\d+)\)$")
_STEALTH = re.compile(r"^(?:Stealth mode (?P<old>enabled|disabled)|Firewall stealth mode is (?P<new>on|off))$")
_BLOCK_ALL = re.compile(
    r"^(?:Firewall has block all state set to (?P<word>enabled|disabled)\."
    r"|Firewall is set to (?P<allow>allow specific incoming connections)\.)$"
)
_ON_WORDS = ("enabled", "on")


@dataclasses.dataclass(frozen=True)
class ApplicationFirewallState(JsonRecord):
    """The firewall's global state (``raw_state`` 0 off, 1 on, 2 on and blocking all), stealth and block-all."""

    enabled: bool
    raw_state: int
    stealth_mode: bool | None
    block_all: bool | None


class MacosApplicationFirewall(FactBase[ApplicationFirewallState | None]):
    """
    Returns the state of the macOS application firewall; ``None`` where ``socketfilterfw`` is missing.

    Runs ``socketfilterfw --getglobalstate``, ``--getstealthmode`` and ``--getblockall``. An answer worded in
    a way not seen before raises ``FactProcessError`` quoting it, rather than being guessed.

    .. code:: python

        {"enabled": True, "raw_state": 1, "stealth_mode": False, "block_all": False}
    """

    @override
    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return SOCKETFILTERFW

    @override
    def command(self) -> str:
        return " && ".join(
            f"{SOCKETFILTERFW} --{query}" for query in ("getglobalstate", "getstealthmode", "getblockall")
        )

    @override
    def process(self, output: list[str]) -> ApplicationFirewallState:
        lines = meaningful_lines(output)
        raw_state: int | None = None
        stealth_mode: bool | None = None
        block_all: bool | None = None
        for line in lines:
            text = line.strip()
            if match := _GLOBAL_STATE.match(text):
                raw_state = int(match["state"])
            elif match := _STEALTH.match(text):
                stealth_mode = (match["old"] or match["new"]) in _ON_WORDS
            elif match := _BLOCK_ALL.match(text):
                block_all = match["word"] in _ON_WORDS
            else:
                raise unreadable("socketfilterfw", line, "not a global state, stealth mode or block-all answer")
        if raw_state is None:
            raise unreadable("socketfilterfw", lines[0], "no 'Firewall is enabled/disabled' line")
        if block_all is None and raw_state == 2:
            block_all = True  # state 2 is "block all incoming connections" on releases without --getblockall
        return ApplicationFirewallState(
            enabled=raw_state > 0, raw_state=raw_state, stealth_mode=stealth_mode, block_all=block_all
        )
