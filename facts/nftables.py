"""nftables state: a table's listing, reduced to a digest the deploy records when it loads the table."""

from __future__ import annotations

import re

from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactBase
from typing_extensions import override

from openclaw_infra.quoting import quoted

from .parsing import meaningful_lines, unreadable

ABSENT = "absent"
_DIGEST = re.compile(r"[0-9a-f]{64}")


class NftTableDigest(FactBase[str | None]):
    """
    The SHA-256 of ``nft list table <family> <table>`` (the table as the kernel holds it, rules and comments, no
    handles), or ``None`` when there is no such table or no ``nft``. A rule deleted, added or changed since the
    deploy loaded the table changes it.

    Runs ``nft list table <family> <table> | sha256sum`` when the table exists.

    .. code:: python

        "5b0c…e1"
    """

    @override
    def command(self, family: str, table: str) -> StringCommand:
        listing = ("nft", "list", "table", quoted(family), quoted(table))
        return StringCommand(
            "if ! command -v nft >/dev/null; then echo", ABSENT, "; elif", *listing, ">/dev/null 2>&1; then",
            *listing, "| sha256sum | cut -d ' ' -f 1 ; else echo", ABSENT, "; fi",
        )  # fmt: skip

    @override
    def process(self, output: list[str]) -> str | None:
        lines = meaningful_lines(output)
        if lines == [ABSENT]:
            return None
        if len(lines) != 1 or not _DIGEST.fullmatch(lines[0]):
            raise unreadable("nft list table | sha256sum", "\\n".join(lines)[:200], "expected one SHA-256 or 'absent'")
        return lines[0]
