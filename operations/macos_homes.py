"""Home directories on a Mac that hosts the gateway: the guide's gotchas, kept true on every run.

A dedicated user's home is ``drwx------``; on a mixed-use Mac the admin's own home is 700 as well, or the gateway's
user may read what the admin left world-readable (``home_closed``). An admin who must read the gateway's files
gets ACL entries instead of wider modes (``admin_access``): the right to traverse the gateway's home (and no more)
and full, inherited rights on its state directory, as the guide's ``chmod +a`` lines grant them.

macOS ``chmod`` (file_cmds chmod.c, chmod_acl.c): ``+a`` merges into an entry of the same user, allow/deny and
flags (``inherited`` included) and does nothing when such an entry already holds the rights, so ``+a`` on one path
never duplicates. Going down the tree is another matter: what the state directory's files inherited carries the
``inherited`` flag, so an explicit entry would be added beside it on every file; it runs only while the directory
itself lacks the entry. It is not the guide's ``chmod -R +a``: that reads and writes the ACL of a symlink's target
(``-R`` cannot go with ``-h``), and the gateway's user decides what its state directory holds, symlinks to root's
files included. ``find -P`` hands ``chmod -h`` the directories and files alone (a FIFO would block its ``open``).
``-a "ENTRY"`` takes the rights away from every entry of that user that shares any of them, whatever its flags:
entries are removed by index (``-a#``, ``=a#``) instead, so no other entry is touched.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
from collections.abc import Generator, Iterable

from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import OperationValueError
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.facts.files import Directory

from openclaw_infra.facts.batch import read_facts
from openclaw_infra.facts.macos_acl import AccessControlEntry, AccessControlList, PrincipalKind
from openclaw_infra.operations.refusals import refuse
from openclaw_infra.quoting import quoted, shell_word

# macOS chmod by path: GNU chmod (Homebrew's coreutils, when first on PATH) knows no ACLs. -h: a symlink's own ACL,
# never its target's (the gateway's user may swap its state directory for a link between the read and the change).
CHMOD = "/bin/chmod -h"
CLOSED_MODE = 700
# The same rule as macos_accounts: a short account name, which cannot name another record or hold a ':' or ','.
_ACCOUNT = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
# What ls prints for these rights on a directory: the file and the directory names of one bit each.
_ON_DIRECTORY = {"read": "list", "write": "add_file", "execute": "search", "append": "add_subdirectory"}


@dataclasses.dataclass(frozen=True)
class _Grant:
    """One of the guide's entries for the admin: its rights, its inheritance flags, and whether it goes down the
    tree."""

    rights: tuple[str, ...]
    inheritance: tuple[str, ...]
    recursive: bool

    def entry(self, admin: str, rights: Iterable[str] | None = None) -> str:
        words = (*(self.rights if rights is None else rights), *self.inheritance)
        return f"user:{admin} allow {','.join(words)}"


# "Traverse-only on home dir (minimal — just enough to reach .openclaw)".
TRAVERSE = _Grant(rights=("list", "search", "execute"), inheritance=(), recursive=False)
# "Full read+write with inheritance on .openclaw".
READ_WRITE = _Grant(
    rights=(
        "read", "write", "append", "delete", "add_file", "add_subdirectory", "delete_child", "readattr",
        "writeattr", "readextattr", "writeextattr", "readsecurity", "list", "search", "execute",
    ),
    inheritance=("file_inherit", "directory_inherit"),
    recursive=True,
)  # fmt: skip


def _on_directory(words: Iterable[str]) -> list[str]:
    """``words`` as ls prints them on a directory, in order, each once."""
    return list(dict.fromkeys(_ON_DIRECTORY.get(word, word) for word in words))


def _is_ours(entry: AccessControlEntry, admin: str, grant: _Grant) -> bool:
    """An entry ``chmod +a`` made (or merged into) for ``grant``: the admin's own, allow, not inherited, the same
    inheritance flags, and at least the grant's rights."""
    return (
        entry.kind == PrincipalKind.USER
        and entry.name == admin
        and entry.allow
        and not entry.inherited
        and set(entry.inheritance) == set(grant.inheritance)
        and set(_on_directory(grant.rights)) <= set(_on_directory(entry.permissions))
    )


def _validated_path(path: str, what: str) -> None:
    if not posixpath.isabs(path) or posixpath.normpath(path) != path or path == "/":
        raise OperationValueError(f"{what} {path!r} is not an absolute, normalised path below /")


@operation()
def admin_access(admin: str, home: str, state_dir: str, present: bool = True) -> Generator[StringCommand, None, None]:
    """
    The admin's ACL entries on the gateway user's files: traverse-only on ``home`` (``list,search,execute``) and
    read+write on ``state_dir``, inherited by what is created in it and applied once to the directories and files
    already there (symlinks are never followed). With ``present=False`` exactly those entries go (from the two
    directories; copies on the files below stay, unreachable without the right to traverse ``home``), and any
    other entry stays.

    + admin: the admin's account name
    + home: the gateway user's home, e.g. ``/Users/openclaw``
    + state_dir: its state directory, directly inside ``home``, e.g. ``/Users/openclaw/.openclaw``
    + present: ``False`` removes the entries
    """
    if not _ACCOUNT.match(admin):
        raise OperationValueError(f"not a macOS account name: {admin!r}")
    _validated_path(home, "home")
    _validated_path(state_dir, "state_dir")
    if posixpath.dirname(state_dir) != home:
        # The right to traverse home is all the admin has on the way down: deeper, more directories need one.
        raise OperationValueError(f"state_dir {state_dir!r} must be directly inside home {home!r}")
    home_acl, state_acl = read_facts((AccessControlList, {"path": home}), (AccessControlList, {"path": state_dir}))
    changed = False
    for path, grant, entries in ((home, TRAVERSE, home_acl), (state_dir, READ_WRITE, state_acl)):
        ours = [entry for entry in entries or [] if _is_ours(entry, admin, grant)]
        if present and not ours:
            # A path that does not exist yet (made earlier in this deploy) is listed again when this runs.
            yield _with(admin, grant, path)
            changed = True
        elif not present:
            # Highest index first: removing an entry renumbers those after it.
            for entry in sorted(ours, key=lambda found: found.index, reverse=True):
                yield _without(entry, admin, grant, path)
                changed = True
    if not changed and present:
        host.noop(f"{admin} has the ACL entries to traverse {home} and to read and write {state_dir}")
    elif not changed:
        host.noop(f"{admin} has none of this deploy's ACL entries on {home} or {state_dir}")


def _with(admin: str, grant: _Grant, path: str) -> StringCommand:
    entry = quoted(grant.entry(admin))
    if not grant.recursive:
        return StringCommand(CHMOD, "+a", entry, quoted(path))
    return StringCommand("find -P", quoted(path), "\\( -type d -o -type f \\)", "-exec", CHMOD, "+a", entry, "{} +")


def _without(entry: AccessControlEntry, admin: str, grant: _Grant, path: str) -> StringCommand:
    """Remove the grant from ``entry``: the whole entry, or (where ``+a`` merged it into someone's wider one) only
    the grant's rights."""
    rest = [word for word in _on_directory(entry.permissions) if word not in _on_directory(grant.rights)]
    if not rest:
        return StringCommand(CHMOD, "-a#", str(entry.index), quoted(path))
    return StringCommand(CHMOD, "=a#", str(entry.index), quoted(grant.entry(admin, rest)), quoted(path))


@operation()
def home_closed(user: str, home: str) -> Generator[StringCommand, None, None]:
    """
    ``home`` is mode 700, so no other user (the gateway's included) reads what is in it. Only the mode changes: a
    home that is not ``user``'s is refused, never chowned.

    + user: the account whose home it is, e.g. the Mac's admin
    + home: its home directory, e.g. ``/Users/youradmin``
    """
    if not _ACCOUNT.match(user):
        raise OperationValueError(f"not a macOS account name: {user!r}")
    _validated_path(home, "home")
    found = host.get_fact(Directory, path=home)
    if not found:
        what = "does not exist" if found is None else "is not a directory"
        yield from refuse(
            f"{home} {what}. Fix: pass {user}'s home (dscl . -read /Users/{user} NFSHomeDirectory prints it)."
        )
        return
    if found["user"] != user:
        yield from refuse(
            f"{home} is owned by {found['user']}, not {user}: only its mode is changed here, never its owner. Fix: "
            f"if it is {user}'s home, give it back (sudo chown {user} {shell_word(home)}); if not, pass {user}'s "
            f"home (dscl . -read /Users/{user} NFSHomeDirectory prints it)."
        )
        return
    if found["mode"] == CLOSED_MODE:
        host.noop(f"{home} is {user}'s, mode {CLOSED_MODE}")
        return
    yield StringCommand("chmod", str(CLOSED_MODE), quoted(home))
