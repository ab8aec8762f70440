"""Temporary sudo rules: the guide's "NOPASSWD in /etc/sudoers.d … remove immediately after setup".

There is no ``nopasswd_rules_absent`` (every NOPASSWD rule under /etc/sudoers.d removed): deciding from a fact
which rules grant ``NOPASSWD`` means parsing sudoers (aliases, ``Defaults … !authenticate``, continued lines,
``@include``), no real captured output was found to test such a fact against, and a host may have NOPASSWD rules
that are not the setup's. The setup's files are named instead.
"""

from __future__ import annotations

from collections.abc import Generator

from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import OperationError, OperationValueError
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.facts.files import File

from openclaw_infra.facts.batch import read_facts
from openclaw_infra.quoting import quoted

SUDOERS_DIR = "/etc/sudoers.d"


def _sudoers_file_name(name: str) -> str:
    # sudoers(5), #includedir / @includedir: sudo skips file names that end in '~' or contain a '.', so such a
    # file grants nothing (and '.', '..' are not files in the directory).
    if not isinstance(name, str) or not name:
        raise OperationValueError(f"files: {name!r} is not a file name")
    if "/" in name or "." in name or name.endswith("~"):
        raise OperationValueError(
            f"files: {name!r} is not a file sudo reads from {SUDOERS_DIR}: give the bare name, without '/' or '.' "
            "and not ending in '~' (sudo skips those)"
        )
    if not name.isprintable():
        raise OperationValueError(f"files: {name!r} holds a control character")
    return name


@operation()
def temporary_sudoers_removed(files: list[str]) -> Generator[StringCommand, None, None]:
    """
    Remove the named files from /etc/sudoers.d (e.g. a setup tool's ``NOPASSWD`` rule), then check what is
    left with ``visudo -c``, in the same command.

    The check runs after the removal only. Before it, it would add nothing over sudo itself, which refuses to
    run while the policy does not parse (this command's own ``sudo`` would have failed first); and where it
    could fail (connected as root, no sudo), it would keep in place a rule whose removal only narrows what
    anyone may do, whatever else is broken. After it, ``visudo -c`` reads what is left: a syntax error, or a
    file with the wrong owner or mode, fails the command (the files stay removed) with visudo's message.

    Removal and check are one command because pyinfra runs every command in a new ``sudo``. If a removed file
    is what let the connecting user use sudo without a password, this command still completes (sudo read the
    policy when it started), but every later command needs the password: make this the deploy's last
    operation (fact reads and verification after it need sudo too), and run later deploys with the password
    (pyinfra 3.10's CLI flag is ``--use-sudo-password``, which asks for it; or ``_sudo_password`` in the host's
    data). If that file was the user's only sudo rule, later runs need another admin account.

    + files: file names in /etc/sudoers.d, e.g. ``["setup-nopasswd"]``
    """
    if isinstance(files, str):
        raise OperationValueError(f"files {files!r} must be a list of file names, not one string")
    paths = list(dict.fromkeys(f"{SUDOERS_DIR}/{_sudoers_file_name(name)}" for name in files))
    if not paths:
        host.noop("no temporary sudoers files named")
        return
    found = read_facts(*[(File, {"path": path}) for path in paths])
    odd = [path for path, info in zip(paths, found, strict=True) if info is False]
    if odd:
        raise OperationError(
            f"{', '.join(odd)}: not a regular file (a directory or a symlink); look at it and remove it by hand"
        )
    present = [path for path, info in zip(paths, found, strict=True) if info]
    if not present:
        host.noop(f"{', '.join(paths)} already absent")
        return
    yield StringCommand("rm -f", *[quoted(path) for path in present], "&& visudo -c")
