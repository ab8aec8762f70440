"""Who owns what under a directory tree, and what others may read there: the files that break the rule, not all."""

from __future__ import annotations

import dataclasses

from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactBase
from typing_extensions import override

from openclaw_infra.quoting import quoted

from .parsing import meaningful_lines, unreadable
from .records import JsonRecord

# A tree may hold millions of files a user put there: the report keeps the first few, and the count of all.
SAMPLE_SIZE = 20
_TOTAL = "total "


@dataclasses.dataclass(frozen=True)
class StrayFile(JsonRecord):
    path: str
    user: str
    group: str
    mode: str  # octal, as find prints it: "644"
    kind: str  # find's %y: f file, d directory, l symlink, …


@dataclasses.dataclass(frozen=True)
class TreeOwnership(JsonRecord):
    """``count`` entries under the tree break the rule; ``sample`` shows the first ``SAMPLE_SIZE`` of them."""

    count: int
    sample: tuple[StrayFile, ...]


class ForeignEntries(FactBase[TreeOwnership | None]):
    """
    Entries under ``path`` (itself included) not owned by ``user:group``, or (symlinks aside, whose mode means
    nothing) with any permission for others; ``None`` when ``path`` does not exist. Needs root to see everything.

    Runs ``find -P`` (never follows a symlink out of the tree).

    .. code:: python

        {"count": 1, "sample": [
            {"path": "/home/openclaw/.openclaw/x", "user": "root", "group": "root", "mode": "600", "kind": "f"},
        ]}
    """

    @override
    def command(self, path: str, user: str, group: str) -> StringCommand:
        # %u/%g print the number when a name is unknown; the path comes last so it may hold spaces.
        return StringCommand(
            "if [ -e", quoted(path), "]; then",
            "find -P", quoted(path),
            "\\(", "!", "-user", quoted(user), "-o", "!", "-group", quoted(group),
            "-o", "\\(", "!", "-type", "l", "-perm", "/o=rwx", "\\)", "\\)",
            "-printf", quoted("%u %g %m %y %p\\n"),
            "| awk", quoted(f'NR <= {SAMPLE_SIZE} {{ print }} END {{ print "{_TOTAL}" NR }}'),
            "; fi",
        )  # fmt: skip

    @override
    def process(self, output: list[str]) -> TreeOwnership | None:
        lines = meaningful_lines(output)
        if not lines:
            return None
        total = lines[-1]
        if not (total.startswith(_TOTAL) and total.removeprefix(_TOTAL).isdigit()):
            raise unreadable("find", total, "expected the closing 'total <n>' line")
        sample = []
        for line in lines[:-1]:
            parts = line.split(" ", 4)
            if len(parts) != 5 or not parts[2].isdigit() or not parts[4].startswith("/"):
                raise unreadable("find", line, "expected '<user> <group> <mode> <type> <path>'")
            user, group, mode, kind, path = parts
            sample.append(StrayFile(path=path, user=user, group=group, mode=mode, kind=kind))
        return TreeOwnership(count=int(total.removeprefix(_TOTAL)), sample=tuple(sample))
