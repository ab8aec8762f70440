"""One OS account or group, read without enumerating them all."""

from __future__ import annotations

import dataclasses

from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactBase
from typing_extensions import override

from openclaw_infra.quoting import quoted

from .parsing import meaningful_lines, unreadable
from .records import JsonRecord

# passwd(5): name:password:uid:gid:gecos:home:shell
PASSWD_FIELDS = 7
# group(5): name:password:gid:member,member,...
GROUP_FIELDS = 4


@dataclasses.dataclass(frozen=True)
class Account(JsonRecord):
    name: str
    uid: int
    gid: int
    home: str
    shell: str


class PasswdEntry(FactBase[Account | None]):
    """
    The passwd entry of ``user`` (local files, LDAP, whatever NSS is set up with), or ``None`` when there is no
    such user. pyinfra's ``server.Users`` enumerates every account, which costs ~0.2 s of host CPU each read.

    Runs ``getent passwd <user> || true`` (getent exits 2 for an unknown user).

    .. code:: python

        {"name": "openclaw", "uid": 999, "gid": 999, "home": "/home/openclaw", "shell": "/usr/sbin/nologin"}
    """

    @override
    def command(self, user: str) -> StringCommand:
        return StringCommand("getent passwd", quoted(user), "|| true")

    @override
    def process(self, output: list[str]) -> Account | None:
        lines = meaningful_lines(output)
        if not lines:
            return None
        fields = lines[0].split(":")
        if len(lines) != 1 or len(fields) != PASSWD_FIELDS or not (fields[2].isdigit() and fields[3].isdigit()):
            raise unreadable("getent passwd", "\n".join(lines), "want one name:x:uid:gid:gecos:home:shell line")
        name, _password, uid, gid, _gecos, home, shell = fields
        return Account(name=name, uid=int(uid), gid=int(gid), home=home, shell=shell)


class GroupMembers(FactBase[list[str] | None]):
    """
    The listed members of ``group`` (its ``group`` entry: users whose primary group it is are not listed), sorted,
    or ``None`` when there is no such group. Membership of ``docker`` is root on the host: who holds it matters.

    Runs ``getent group <group> || true`` (getent exits 2 for an unknown group).

    .. code:: python

        ["openclaw"]
    """

    @override
    def command(self, group: str) -> StringCommand:
        return StringCommand("getent group", quoted(group), "|| true")

    @override
    def process(self, output: list[str]) -> list[str] | None:
        lines = meaningful_lines(output)
        if not lines:
            return None
        fields = lines[0].split(":")
        if len(lines) != 1 or len(fields) != GROUP_FIELDS or not fields[2].isdigit():
            raise unreadable("getent group", "\n".join(lines), "want one name:x:gid:members line")
        return sorted(member for member in fields[3].split(",") if member)


@dataclasses.dataclass(frozen=True)
class Groups(JsonRecord):
    primary: str
    # Sorted; the primary group only when the user is also listed in it.
    supplementary: tuple[str, ...]


class UserGroups(FactBase[Groups | None]):
    """
    The groups ``user`` is in (as ``id`` resolves them through NSS), or ``None`` when there is no such user. The
    one-user answer of what pyinfra's ``server.Users`` reads for every account on the host.

    Runs ``id -gn -- <user> && id -Gn -- <user> || true``.

    .. code:: python

        {"primary": "openclaw", "supplementary": ["docker"]}
    """

    @override
    def command(self, user: str) -> StringCommand:
        return StringCommand("id -gn --", quoted(user), "2>/dev/null && id -Gn --", quoted(user), "|| true")

    @override
    def process(self, output: list[str]) -> Groups | None:
        lines = meaningful_lines(output)
        if not lines:
            return None
        if len(lines) != 2 or len(lines[0].split()) != 1 or lines[0] not in lines[1].split():
            raise unreadable("id -gn / id -Gn", "\n".join(lines), "want the primary group, then all groups")
        primary = lines[0]
        # id -Gn lists the primary group first; it is supplementary too only if it is listed again.
        names = lines[1].split()
        names.remove(primary)
        return Groups(primary=primary, supplementary=tuple(sorted(set(names))))


class UserId(FactBase[int | None]):
    """
    The numeric id of ``user`` (as ``id`` resolves it: NSS on Linux, Directory Services on macOS, where there is
    no passwd entry to read), or ``None`` when there is no such user. launchd names a user's GUI domain by it.

    Runs ``id -u -- <user> || true`` (``id`` says "no such user" on stderr and exits 1).

    .. code:: python

        501
    """

    @override
    def command(self, user: str) -> StringCommand:
        return StringCommand("id -u --", quoted(user), "2>/dev/null || true")

    @override
    def process(self, output: list[str]) -> int | None:
        lines = meaningful_lines(output)
        if not lines:
            return None
        if len(lines) != 1 or not lines[0].isdigit():
            raise unreadable("id -u", "\n".join(lines), "want one decimal user id")
        return int(lines[0])
