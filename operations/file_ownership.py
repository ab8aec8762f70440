"""Shared by the operations that upload whole files: repair owner and mode of a file whose content is right."""

from __future__ import annotations

from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.facts.files import FileDict


def ownership_fixes(path: str, present: FileDict, user: str, group: str, mode: int) -> list[StringCommand]:
    """chown/chmod commands bringing ``present`` (pyinfra's File fact) to ``user:group`` and ``mode``."""
    fixes = []
    if (present["user"], present["group"]) != (user, group):
        fixes.append(StringCommand("chown", f"{user}:{group}", QuoteString(path)))
    if present["mode"] != mode:
        fixes.append(StringCommand("chmod", str(mode), QuoteString(path)))
    return fixes
