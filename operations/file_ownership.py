"""Shared by the operations that upload whole files: repair owner and mode of a file whose content is right."""

from __future__ import annotations

from pyinfra.api.command import StringCommand
from pyinfra.facts.files import FileDict

from openclaw_infra.quoting import quoted


def ownership_fixes(path: str, present: FileDict, user: str, group: str, mode: int) -> list[StringCommand]:
    """chown/chmod commands bringing ``present`` (pyinfra's File fact) to ``user:group`` and ``mode``."""
    fixes = []
    if (present["user"], present["group"]) != (user, group):
        fixes.append(StringCommand("chown", quoted(f"{user}:{group}"), quoted(path)))
    if present["mode"] != mode:
        fixes.append(StringCommand("chmod", str(mode), quoted(path)))
    return fixes
