"""macOS users' and groups' local Directory Services records (``dscl``): macOS keeps no passwd or group entry to
read."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactBase
from typing_extensions import override

from openclaw_infra.quoting import quoted

from .parsing import unreadable
from .records import JsonRecord

# dscl's error for a record that does not exist (eDSRecordNotFound, on stderr; exit status 56).
NOT_FOUND = "eDSRecordNotFound"
# An attribute's name: RecordName, dsAttrTypeNative:accountPolicyData, …
_KEY = re.compile(r"^[A-Za-z][\w.:-]*$")


@dataclasses.dataclass(frozen=True)
class MacosUserRecord(JsonRecord):
    """The attributes of one user record the service account is made of; ``None`` where the record has none.
    ``can_log_in_with_password``: it has an ``AuthenticationAuthority`` (a password was set with the tools that
    write one); a record made with ``dscl . -create`` alone has none, and nobody can log in as it with a password.
    """

    name: str
    uid: int | None
    gid: int | None
    home: str | None
    shell: str | None
    real_name: str | None
    hidden: bool
    can_log_in_with_password: bool


class MacosUser(FactBase[MacosUserRecord | None]):
    """
    Returns the local Directory Services record of ``user``, or ``None`` when there is none (or no ``dscl``).

    + user: the record name, e.g. ``openclaw``

    Runs ``dscl . -read /Users/<user>``; "eDSRecordNotFound" means no such user, any other error fails the fact.

    .. code:: python

        {
            "name": "openclaw", "uid": 502, "gid": 20, "home": "/Users/openclaw", "shell": "/bin/zsh",
            "real_name": "OpenClaw", "hidden": True, "can_log_in_with_password": False,
        }
    """

    @override
    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "dscl"

    @override
    def command(self, user: str) -> StringCommand:
        return _read_record(f"/Users/{user}")

    @override
    def process(self, output: list[str]) -> MacosUserRecord | None:
        attributes = _attributes(output)
        if not attributes:
            return None
        if "RecordName" not in attributes:
            raise unreadable("dscl", output[0], "no RecordName in the record")
        return MacosUserRecord(
            name=attributes["RecordName"].split()[0],
            uid=_number(attributes, "UniqueID"),
            gid=_number(attributes, "PrimaryGroupID"),
            home=attributes.get("NFSHomeDirectory"),
            shell=attributes.get("UserShell"),
            real_name=attributes.get("RealName"),
            hidden=attributes.get("IsHidden", "0").strip().lower() in ("1", "yes", "true"),
            can_log_in_with_password="AuthenticationAuthority" in attributes,
        )


@dataclasses.dataclass(frozen=True)
class MacosGroupRecord(JsonRecord):
    """A local group: ``members`` are the short names its ``GroupMembership`` lists, in its order. Users whose
    primary group it is (their ``PrimaryGroupID``) belong to it too without being listed there."""

    name: str
    gid: int | None
    members: tuple[str, ...]


class MacosGroup(FactBase[MacosGroupRecord | None]):
    """
    Returns the local Directory Services record of ``group``, or ``None`` when there is none (or no ``dscl``).

    + group: the record name, e.g. ``docker``

    Runs ``dscl . -read /Groups/<group>``; "eDSRecordNotFound" means no such group, any other error fails the fact.

    .. code:: python

        {"name": "docker", "gid": 501, "members": ["openclaw"]}
    """

    @override
    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "dscl"

    @override
    def command(self, group: str) -> StringCommand:
        return _read_record(f"/Groups/{group}")

    @override
    def process(self, output: list[str]) -> MacosGroupRecord | None:
        attributes = _attributes(output)
        if not attributes:
            return None
        if "RecordName" not in attributes:
            raise unreadable("dscl", output[0], "no RecordName in the record")
        return MacosGroupRecord(
            name=attributes["RecordName"].split()[0],
            gid=_number(attributes, "PrimaryGroupID"),
            # Several members are one space-separated value; a group without members has no GroupMembership.
            members=tuple(attributes.get("GroupMembership", "").split()),
        )


def _read_record(path: str) -> StringCommand:
    """``dscl . -read PATH``: the record on stdout; nothing when it does not exist; any other error fails."""
    return StringCommand(
        "out=$(dscl . -read", quoted(path), "2>&1); status=$?;",
        'if [ "$status" -eq 0 ]; then printf "%s\\n" "$out";',
        f'elif ! printf "%s" "$out" | grep -q {NOT_FOUND}; then printf "%s\\n" "$out" >&2; exit "$status"; fi',
    )  # fmt: skip


def _attributes(output: list[str]) -> dict[str, str]:
    """``Key: value`` lines; a value may start on the next line or run over several (continuation lines begin
    with a space, or belong to a multi-line value such as an embedded plist)."""
    attributes: dict[str, list[str]] = {}
    key = None
    for line in output:
        head, colon, rest = line.partition(": ")
        name = head if colon else line[:-1]
        if (colon or line.endswith(":")) and _KEY.match(name):
            key = name
            attributes[key] = [rest] if colon else []
        elif key is not None:
            attributes[key].append(line.strip())
        elif line.strip():
            raise unreadable("dscl", line, "expected 'Key: value'")
    return {name: " ".join(part for part in parts if part).strip() for name, parts in attributes.items()}


def _number(attributes: dict[str, str], key: str) -> int | None:
    value = attributes.get(key)
    if value is None:
        return None
    if not value.lstrip("-").isdigit():
        raise unreadable("dscl", f"{key}: {value}", "not a number")
    return int(value)
