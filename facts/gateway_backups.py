"""What an ``openclaw backup create`` archive says it holds: its root ``manifest.json``."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactBase
from typing_extensions import override

from openclaw_infra.quoting import quoted

from .parsing import unreadable
from .records import JsonRecord

# The manifest sits at the archive's root, one directory down (``<archiveRoot>/manifest.json``); a workspace file
# of that name lies deeper, under ``<archiveRoot>/payload/``.
_ROOT_MANIFEST = r"^[^/]+/manifest\.json$"


@dataclasses.dataclass(frozen=True)
class BackupManifest(JsonRecord):
    # The state dir the archive was taken from (``paths.stateDir``): the gateway it belongs to.
    state_dir: str
    created_at: str
    # The OpenClaw release that wrote it.
    runtime_version: str
    archive_root: str


class BackupArchiveManifest(FactBase[BackupManifest | None]):
    """
    The root manifest of the archive at ``path``; ``None`` when there is no such file.

    Runs ``tar -tzf`` to find ``<archiveRoot>/manifest.json`` and ``tar -xzOf`` to print it. An archive without
    one, or a manifest without ``paths.stateDir``, is unreadable: it was not written by ``openclaw backup create``.

    .. code:: python

        {"state_dir": "/home/openclaw/.openclaw", "created_at": "2026-12-05T16:41:38.143Z",
         "runtime_version": "2026.9.6", "archive_root": "2026-12-05T16-41-38.143+00-00-openclaw-backup"}
    """

    @override
    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "tar"

    @override
    def command(self, path: str) -> StringCommand:
        archive = quoted(path)
        return StringCommand(
            "if [ -f", archive, "]; then",
            "manifest=$(tar -tzf", archive, "| grep -m 1 -E", quoted(_ROOT_MANIFEST), ")",
            '&& tar -xzOf', archive, '"$manifest"', "|| echo no-manifest; fi",
        )  # fmt: skip

    @override
    def process(self, output: list[str]) -> BackupManifest:
        text = "\n".join(output).strip()
        if text == "no-manifest":
            raise unreadable("backup archive", text, "no root manifest.json: not an openclaw backup archive")
        try:
            manifest = json.loads(text)
            paths = manifest["paths"]
            return BackupManifest(
                state_dir=str(paths["stateDir"]),
                created_at=str(manifest["createdAt"]),
                runtime_version=str(manifest.get("runtimeVersion", "")),
                archive_root=str(manifest["archiveRoot"]),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise unreadable("backup manifest.json", output[0] if output else "", repr(error)) from None
