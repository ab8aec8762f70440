"""Shared by the operations that upload whole files: repair owner and mode of a file whose content is right."""

from __future__ import annotations

import hashlib

from pyinfra.api.command import StringCommand
from pyinfra.facts.files import File, FileDict, Sha1File

from openclaw_infra.facts.batch import read_facts
from openclaw_infra.quoting import quoted


def ownership_fixes(path: str, present: FileDict, user: str, group: str, mode: int) -> list[StringCommand]:
    """chown/chmod commands bringing ``present`` (pyinfra's File fact) to ``user:group`` and ``mode``."""
    fixes = []
    if (present["user"], present["group"]) != (user, group):
        fixes.append(StringCommand("chown", quoted(f"{user}:{group}"), quoted(path)))
    if present["mode"] != mode:
        fixes.append(StringCommand("chmod", str(mode), quoted(path)))
    return fixes


def file_is_current(path: str, content: str, user: str, group: str, mode: int) -> bool:
    """Whether ``path`` holds ``content`` with this owner and mode, read in one command: ``files.put`` reads
    three facts (the file, its directory, its SHA-1) on every run, a no-op run included."""
    present, present_sha1 = read_facts((File, {"path": path}), (Sha1File, {"path": path}))
    wanted_sha1 = hashlib.sha1(content.encode()).hexdigest()  # noqa: S324 - what files.put compares, not security
    return bool(present) and present_sha1 == wanted_sha1 and not ownership_fixes(path, present, user, group, mode)
