"""Files that hold secrets: uploaded, never templated into a command line, never diffed, never world-readable."""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Generator

from pyinfra.api.command import PyinfraCommand, StringCommand
from pyinfra.api.exceptions import OperationValueError
from pyinfra.api.hiddenvalue import HiddenValue
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.facts.files import Directory, File, Sha256File

from openclaw_infra.facts.batch import read_facts
from openclaw_infra.operations.file_ownership import ownership_fixes
from openclaw_infra.operations.private_upload import private_upload
from openclaw_infra.quoting import quoted


@operation()
def secret_file(
    path: str,
    content: HiddenValue,
    user: str = "root",
    group: str = "root",
    mode: int = 600,
) -> Generator[PyinfraCommand, None, None]:
    """
    Put secret ``content`` at ``path``: uploaded into a file only its owner can read (``private_upload``: root
    logins, sudo users and ``@local`` alike), in a directory only ``user`` can enter, then moved into place, so
    neither the process list, pyinfra's output and ``--json``, ``--diff``, nor another local user ever sees it.
    Compared by SHA-256, so an unchanged secret changes nothing.

    + path: absolute path of the file; its directory is created 0700 if missing
    + content: the file's text, wrapped in ``HiddenValue``
    + user, group, mode: owner and permissions (mode at most 0600: nobody but the owner reads a secret)
    """
    if not posixpath.isabs(path):
        raise OperationValueError(f"path {path!r} must be absolute")
    if int(str(mode), 8) & 0o077:
        raise OperationValueError(f"mode {mode} lets group or others read a secret; use 600 or 400")
    directory = posixpath.dirname(path)
    text = content.unmask()
    wanted_sha = hashlib.sha256(text.encode()).hexdigest()

    present, present_sha = read_facts((File, {"path": path}), (Sha256File, {"path": path}))
    if present and present_sha == wanted_sha:
        fixes = ownership_fixes(path, present, user, group, mode)
        if not fixes:
            host.noop(f"{path} is up to date")
        yield from fixes
        return

    if not host.get_fact(Directory, path=directory):
        yield StringCommand("install", "-d", "-m", "700", "-o", quoted(user), "-g", quoted(group), quoted(directory))
    staged = posixpath.join(directory, f".{posixpath.basename(path)}.pyinfra-new")
    yield from private_upload(text, staged)
    yield StringCommand("chown", quoted(f"{user}:{group}"), quoted(staged))
    yield StringCommand("chmod", str(mode), quoted(staged))
    yield StringCommand("mv", "-f", quoted(staged), quoted(path))
