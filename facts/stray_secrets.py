"""Copies of managed secret values lying around: found on the host, the values never leaving it or reaching argv."""

from __future__ import annotations

from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactBase
from typing_extensions import override

from openclaw_infra.quoting import quoted

from .parsing import meaningful_lines, unreadable

# Shorter values ("1", "yes") would match half the files of a home: they are not searched for.
MIN_SECRET_LENGTH = 8
_NO_SECRETS_FILE = "no-secrets-file"
# The values of a systemd EnvironmentFile as the deploy writes it (KEY="value", '"' and '\' escaped by '\').
_VALUES = 's/^[A-Za-z_][A-Za-z0-9_]*="\\(.*\\)"$/\\1/p'
_UNESCAPE = "s/\\\\\\(.\\)/\\1/g"


class FilesHoldingSecrets(FactBase[list[str] | None]):
    """
    Files under ``directory`` whose content holds a value of the EnvironmentFile ``secrets_file`` (values of at
    least ``MIN_SECRET_LENGTH`` characters), sorted; ``None`` when ``secrets_file`` does not exist. Needs root.

    Runs ``sed -n <values> <secrets_file> | … | grep -rlF -D skip -f - -- <directory>``. The values go from the
    file through ``sed`` into ``grep`` on stdin: never into a command line, never
    off the host; only the names of matching files are printed. Symlinks are not followed, devices and FIFOs
    skipped.

    .. code:: python

        ["/home/openclaw/.openclaw/secrets.env.bak"]
    """

    # No output at all: nothing matched (a missing secrets file says so).
    default = list

    @override
    def command(self, secrets_file: str, directory: str) -> StringCommand:
        secrets, tree = quoted(secrets_file), quoted(directory)
        return StringCommand(
            "if [ ! -e", secrets, "]; then echo", _NO_SECRETS_FILE, ";",
            "elif [ -d", tree, "]; then",
            "sed -n", quoted(_VALUES), secrets, "| sed", quoted(_UNESCAPE),
            "| awk", quoted(f"length($0) >= {MIN_SECRET_LENGTH}"),
            # grep exits 1 when nothing matched: an answer, not an error.
            "| { grep -rlF -D skip -f - --", tree, "|| [ $? -eq 1 ]; };",
            "fi",
        )  # fmt: skip

    @override
    def process(self, output: list[str]) -> list[str] | None:
        lines = meaningful_lines(output)
        if lines == [_NO_SECRETS_FILE]:
            return None
        for line in lines:
            if not line.startswith("/"):
                raise unreadable("grep -rl", line, "expected the absolute path of a file")
        return sorted(lines)
