"""The gateway's dedicated macOS user: a standard account made with ``dscl``, never with a password on a command line.

The guide's ``sysadminctl -addUser … -password "<temp>"`` puts a password in argv (visible to every user in ``ps``
while it runs). The record is made with ``dscl . -create`` instead and gets no password at all: nobody can log in
as it with one, and a LaunchDaemon (the default) needs none. A LaunchAgent needs its user's GUI session: the
operator sets that password themselves (System Settings, or ``sudo passwd <user>``, which asks on the terminal).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Generator

from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import OperationValueError
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.facts.files import Directory

from openclaw_infra.facts.batch import read_facts
from openclaw_infra.facts.directory_services import MacosUser
from openclaw_infra.quoting import quoted

# macOS's group of standard users; new users' homes are <user>:staff.
STAFF_GROUP = "staff"
STAFF_GID = 20
# Local users made by System Settings start at 501; the first free id above every existing one is taken.
FIRST_UID = 501
_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


def _record(user: str) -> str:
    return f"/Users/{user}"


def _set(user: str, attribute: str, value: object) -> StringCommand:
    return StringCommand("dscl .", "-create", quoted(_record(user)), attribute, value)


@operation()
def macos_service_user(
    user: str, home: str, real_name: str = "OpenClaw", shell: str = "/usr/bin/false"
) -> Generator[StringCommand, None, None]:
    """
    A standard (non-admin) local user in group ``staff``, hidden from the login window, with no password, its
    home created, ``user:staff`` and 0700 (``sysadminctl`` and ``dscl`` make no home). Attributes that differ from
    these are set again; an existing password is left alone.

    + user: the account name
    + home: its home directory, e.g. ``/Users/openclaw``
    + real_name: the name System Settings shows
    + shell: its login shell; ``/usr/bin/false`` unless someone must log in as it (a LaunchAgent's GUI session)
    """
    if not _USER.match(user):
        raise OperationValueError(f"not a macOS account name: {user!r}")
    for path, what in ((home, "home"), (shell, "shell")):
        if not posixpath.isabs(path) or posixpath.normpath(path) != path:
            raise OperationValueError(f"{what} {path!r} is not an absolute, normalised path")
    record, home_dir = read_facts((MacosUser, {"user": user}), (Directory, {"path": home}))
    wanted = {"PrimaryGroupID": STAFF_GID, "NFSHomeDirectory": home, "UserShell": shell, "RealName": real_name}
    changed = []
    if record is None:
        # The id is chosen when the command runs: the first free one above every local user's.
        yield StringCommand(
            "uid=$(dscl . -list /Users UniqueID | awk",
            quoted(f"BEGIN {{ m = {FIRST_UID - 1} }} $2 > m {{ m = $2 }} END {{ print m + 1 }}"),
            ") && dscl . -create", quoted(_record(user)),
            "&& dscl . -create", quoted(_record(user)), 'UniqueID "$uid"',
            # No password: '*' matches no password, so nobody logs in as it with one.
            "&& dscl . -create", quoted(_record(user)), "Password", quoted("*"),
        )  # fmt: skip
        changed.append("created")
    found = {}
    if record is not None:
        found = {
            "PrimaryGroupID": record.gid,
            "NFSHomeDirectory": record.home,
            "UserShell": record.shell,
            "RealName": record.real_name,
        }
    for attribute, value in wanted.items():
        if found.get(attribute) != value:
            yield _set(user, attribute, quoted(str(value)))
            changed.append(attribute)
    if record is None or not record.hidden:
        yield _set(user, "IsHidden", "1")
        changed.append("IsHidden")
    home_ok = home_dir and (home_dir["user"], home_dir["group"], home_dir["mode"]) == (user, STAFF_GROUP, 700)
    if not home_ok:
        yield StringCommand(
            "mkdir -p", quoted(home), "&& chown", quoted(f"{user}:{STAFF_GROUP}"), quoted(home),
            "&& chmod 700", quoted(home),
        )  # fmt: skip
        changed.append("home")
    if not changed:
        host.noop(f"user {user} is a hidden standard user, home {home} {user}:{STAFF_GROUP} 700")
