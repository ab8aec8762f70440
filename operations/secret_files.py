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
from openclaw_infra.facts.stray_secrets import FilesHoldingSecrets
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


# Where stray copies of secrets go: root's alone, kept (it may be a user's file that only quoted a secret).
QUARANTINE_DIR = "/var/lib/openclaw-infra/quarantine"


def quarantine_path(path: str) -> str:
    """Where ``path`` is moved: the whole path in one name, so copies from different places never meet."""
    return posixpath.join(QUARANTINE_DIR, path.strip("/").replace("/", "%"))


@operation()
def stray_copies_quarantined(
    secrets_file: str, directory: str, allowed: list[str] | None = None
) -> Generator[StringCommand, None, None]:
    """
    Move every file under ``directory`` that holds a value of ``secrets_file`` (``FilesHoldingSecrets``: found on
    the host, the values never in a command line) into ``QUARANTINE_DIR``, root-only. Moved, not deleted: the
    file may be a user's own that quoted a secret; an earlier copy of the same name is kept (``--backup``).

    + secrets_file: the gateway's managed secrets file, e.g. ``/etc/openclaw/secrets.env``
    + directory: where no copy may lie, e.g. the service user's home
    + allowed: copies the deploy itself keeps there (the CLI's ``.env`` when asked for)
    """
    if not (posixpath.isabs(secrets_file) and posixpath.isabs(directory)):
        raise OperationValueError("secrets_file and directory must be absolute paths")
    # None: no secrets file yet (a fresh host): nothing can hold its values.
    holding = host.get_fact(FilesHoldingSecrets, secrets_file=secrets_file, directory=directory) or []
    stray = [path for path in holding if path not in (allowed or [])]
    if not stray:
        host.noop(f"no copy of {secrets_file}'s values under {directory}")
        return
    yield StringCommand("install", "-d", "-m", "700", "-o", "root", "-g", "root", QUARANTINE_DIR)
    for path in stray:
        yield StringCommand("mv", "--backup=numbered", "--", quoted(path), quoted(quarantine_path(path)))
