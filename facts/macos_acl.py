"""The extended ACL of one path on macOS, as ``ls -led`` prints it (BSD ``ls``; GNU ``ls`` has no ``-e``)."""

from __future__ import annotations

import dataclasses
import re
from enum import StrEnum

from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactBase
from typing_extensions import override

from openclaw_infra.quoting import quoted

from .parsing import unreadable
from .records import JsonRecord

# /bin/ls by path: a GNU ls first on PATH (Homebrew's coreutils gnubin) has no -e.
LS = "/bin/ls"

# The words ls prints (file_cmds ls/print.c, acl_perms and acl_flags): rights, then inheritance flags. On a
# directory it prints list/add_file/search/add_subdirectory, on a file read/write/execute/append (the same bits).
RIGHTS = frozenset(
    (
        "read", "list", "write", "add_file", "execute", "search", "delete", "append", "add_subdirectory",
        "delete_child", "readattr", "writeattr", "readextattr", "writeextattr", "readsecurity", "writesecurity",
        "chown",
    )
)  # fmt: skip
INHERITANCE = frozenset(("file_inherit", "directory_inherit", "limit_inherit", "only_inherit"))

# The first line: the long listing of the path itself ('drwx------+', '…@' with extended attributes, Tiger's
# 'drwxr-xr-x +'); only its ten mode characters are checked.
_LISTING = re.compile(r"^[-bcdlpsw][-r][-w][-xsS][-r][-w][-xsS][-r][-w][-xtT]")
# ' 0: user:admin inherited allow list,search' (print.c: " %d: %s%s %s " then the words); a name that no user or
# group has any more is printed as its UUID, without 'user:' or 'group:'.
_ENTRY = re.compile(
    r"^\s*(?P<index>\d+): (?P<principal>.+?)(?P<inherited> inherited)? (?P<rule>allow|deny)(?: (?P<words>\S+))?$"
)
_UUID = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")


class PrincipalKind(StrEnum):
    USER = "user"
    GROUP = "group"
    # A UUID that names no user or group here (its record was deleted, or its directory is unreachable).
    UUID = "uuid"


@dataclasses.dataclass(frozen=True)
class AccessControlEntry(JsonRecord):
    """One entry of a path's ACL. ``permissions`` and ``inheritance`` are the words ``ls`` prints, in its order;
    ``inherited``: the entry came from a parent directory's ``file_inherit``/``directory_inherit`` entry."""

    index: int
    kind: PrincipalKind
    name: str
    allow: bool
    permissions: tuple[str, ...]
    inheritance: tuple[str, ...]
    inherited: bool


class AccessControlList(FactBase[list[AccessControlEntry] | None]):
    """
    Returns the entries of the extended ACL of ``path`` (``[]`` when it has none), or ``None`` when ``path`` does
    not exist.

    + path: the file or directory, e.g. ``/Users/openclaw``

    Runs ``/bin/ls -led`` (``-d``: the directory itself, not its contents); a symlink's own ACL is listed.

    .. code:: python

        [
            {"index": 0, "kind": "group", "name": "everyone", "allow": False, "permissions": ["delete"],
             "inheritance": [], "inherited": False},
        ]
    """

    @override
    def command(self, path: str) -> StringCommand:
        return StringCommand(
            "if [ -e", quoted(path), "] || [ -L", quoted(path), "]; then", LS, "-led", quoted(path), "; fi"
        )

    @override
    def process(self, output: list[str]) -> list[AccessControlEntry] | None:
        lines = [line for line in output if line.strip()]
        if not lines:
            return None  # the path does not exist: the command printed nothing
        if not _LISTING.match(lines[0]):
            raise unreadable("ls -led", lines[0], "expected the long listing of the path")
        return [_entry(line) for line in lines[1:]]


def _entry(line: str) -> AccessControlEntry:
    found = _ENTRY.match(line.rstrip())
    if not found:
        raise unreadable("ls -led", line, "expected 'N: user:NAME [inherited] allow|deny WORDS'")
    principal = found["principal"]
    kind_text, colon, name = principal.partition(":")
    if colon and kind_text in (PrincipalKind.USER, PrincipalKind.GROUP) and name:
        kind = PrincipalKind(kind_text)
    elif _UUID.match(principal):
        kind, name = PrincipalKind.UUID, principal
    else:
        raise unreadable("ls -led", line, "expected user:NAME, group:NAME or a UUID")
    words = found["words"].split(",") if found["words"] else []
    unknown = [word for word in words if word not in RIGHTS | INHERITANCE]
    if unknown:
        raise unreadable("ls -led", line, f"unknown permission {unknown[0]!r}")
    return AccessControlEntry(
        index=int(found["index"]),
        kind=kind,
        name=name,
        allow=found["rule"] == "allow",
        permissions=tuple(word for word in words if word in RIGHTS),
        inheritance=tuple(word for word in words if word in INHERITANCE),
        inherited=found["inherited"] is not None,
    )
