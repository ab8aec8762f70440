"""ufw, the Debian/Ubuntu firewall front end: ``ufw status verbose``."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from pyinfra.api.facts import FactBase
from typing_extensions import override

from .parsing import required_lines, unreadable
from .records import JsonRecord

_RULE = re.compile(
    r"^(?P<to>.+?)\s+(?P<action>ALLOW|DENY|REJECT|LIMIT)(?: (?P<direction>IN|OUT|FWD))?\s+"
    r"(?P<source>.+?)(?:\s+# (?P<comment>.*))?$"
)
_DEFAULTS = re.compile(r"^(?P<policy>\w+) \((?P<chain>incoming|outgoing|routed)\)$")
_ON_INTERFACE = re.compile(r" on (?P<interface>\S+)$")
_APP = re.compile(r" \((?P<app>[^()]+)\)$")


@dataclasses.dataclass(frozen=True)
class UfwEndpoint(JsonRecord):
    """One side of a rule: 'Anywhere', '22/tcp', '10.0.0.0/8', with its interface and app profile if any."""

    address: str
    interface: str | None = None
    app: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UfwEndpoint:
        return cls(address=data["address"], interface=data["interface"], app=data["app"])


@dataclasses.dataclass(frozen=True)
class UfwRule(JsonRecord):
    """A row of the rule table. ``direction`` is ``None`` in the short form (``ufw status``) for IN rules."""

    to: UfwEndpoint
    action: str
    direction: str | None
    source: UfwEndpoint
    ipv6: bool
    comment: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> UfwRule:
        """Rebuild a rule from its JSON form (``pyinfra … fact … --json``)."""
        return cls(
            to=UfwEndpoint.from_json(data["to"]),
            action=data["action"],
            direction=data["direction"],
            source=UfwEndpoint.from_json(data["source"]),
            ipv6=data["ipv6"],
            comment=data["comment"],
        )


@dataclasses.dataclass(frozen=True)
class UfwState(JsonRecord):
    """ufw's state; the defaults are ``None`` when ufw is inactive (it prints them only when active)."""

    active: bool
    logging: str | None
    default_incoming: str | None
    default_outgoing: str | None
    default_routed: str | None
    rules: tuple[UfwRule, ...]


class UfwStatus(FactBase[UfwState | None]):
    """
    Returns ufw's state, default policies and rules; ``None`` when ufw is not installed. Needs root.

    Runs ``ufw status verbose`` in the C locale (ufw translates its output).

    .. code:: python

        {
            "active": True, "logging": "on (low)", "default_incoming": "deny", "default_outgoing": "allow",
            "default_routed": "disabled",
            "rules": [
                {
                    "to": {"address": "22/tcp", "interface": None, "app": None}, "action": "ALLOW",
                    "direction": "IN", "source": {"address": "Anywhere", "interface": None, "app": None},
                    "ipv6": False, "comment": None,
                },
            ],
        }
    """

    @override
    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "ufw"

    @override
    def command(self) -> str:
        return "LC_ALL=C ufw status verbose"

    @override
    def process(self, output: list[str]) -> UfwState:
        # ufw status always starts with a 'Status:' line: blank lines alone are no answer.
        lines = required_lines("ufw status", output)
        settings: dict[str, str] = {}
        rules = []
        in_table = False
        for line in lines:
            if in_table:
                if set(line.replace(" ", "")) <= {"-"}:
                    continue
                rules.append(_rule(line))
            elif line.split() == ["To", "Action", "From"]:
                in_table = True
            else:
                key, colon, value = line.partition(": ")
                if not colon:
                    raise unreadable("ufw status", line, "expected 'Key: value' or the rule table")
                settings[key] = value.strip()
        status = settings.get("Status")
        if status not in ("active", "inactive"):
            raise unreadable("ufw status", lines[0], "expected 'Status: active' or 'Status: inactive'")
        defaults = _defaults(settings.get("Default"))
        return UfwState(
            active=status == "active",
            logging=settings.get("Logging"),
            default_incoming=defaults.get("incoming"),
            default_outgoing=defaults.get("outgoing"),
            default_routed=defaults.get("routed"),
            rules=tuple(rules),
        )


def _defaults(text: str | None) -> dict[str, str]:
    # 'deny (incoming), allow (outgoing), disabled (routed)'
    defaults: dict[str, str] = {}
    if not text:
        return defaults
    for part in text.split(", "):
        match = _DEFAULTS.match(part.strip())
        if not match:
            raise unreadable("ufw status", f"Default: {text}", f"policy {part!r}")
        defaults[match["chain"]] = match["policy"]
    return defaults


def _rule(line: str) -> UfwRule:
    # The To column is 27 characters wide but longer values push the rest right: match on the action word.
    match = _RULE.match(line)
    if not match:
        raise unreadable("ufw status", line, "expected 'To Action From'")
    to, to_v6 = _endpoint(match["to"])
    source, source_v6 = _endpoint(match["source"])
    return UfwRule(
        to=to,
        action=match["action"],
        direction=match["direction"],
        source=source,
        ipv6=to_v6 or source_v6,
        comment=match["comment"],
    )


def _endpoint(text: str) -> tuple[UfwEndpoint, bool]:
    """'80 (v6) on eth0' → ('80', interface 'eth0'), IPv6; '22/tcp (OpenSSH)' → app 'OpenSSH'."""
    text = text.strip()
    interface = _ON_INTERFACE.search(text)
    if interface:
        text = text[: interface.start()]
    ipv6 = " (v6)" in text or text.endswith("(v6))")
    # '(v6)' stands alone ('22 (v6)') or inside an app's parentheses ('22/tcp (OpenSSH (v6))').
    text = text.replace(" (v6)", "")
    app = _APP.search(text)
    if app:
        text = text[: app.start()]
    return (
        UfwEndpoint(
            address=text, interface=interface["interface"] if interface else None, app=app["app"] if app else None
        ),
        ipv6,
    )
