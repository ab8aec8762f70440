"""Installed versions of the Node runtime and of OpenClaw, read without installing or changing anything."""

from __future__ import annotations

import json
import re

from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import FactProcessError
from pyinfra.api.facts import FactBase
from typing_extensions import override

from openclaw_infra.quoting import quoted

_NODE_VERSION = re.compile(r"^v(\d+\.\d+\.\d+)$")


class NodeVersion(FactBase[str | None]):
    """
    The version of the Node binary at ``path`` (or found on ``PATH`` for a bare name), without the leading ``v``;
    ``None`` when there is no such executable or it does not run.

    Runs ``if command -v <path> >/dev/null 2>&1; then <path> --version || true; fi``.

    .. code:: python

        "24.21.0"
    """

    @override
    def command(self, path: str = "node") -> StringCommand:
        binary = quoted(path)
        # A missing or broken binary means "not installed" (None), not a failed host.
        return StringCommand(
            "if command -v", binary, ">/dev/null 2>&1; then", binary, "--version 2>/dev/null || true; fi"
        )

    @override
    def process(self, output: list[str]) -> str | None:
        lines = [line.strip() for line in output if line.strip()]
        if not lines:
            return None
        match = _NODE_VERSION.match(lines[-1]) if len(lines) == 1 else None
        if not match:
            raise FactProcessError(f"cannot read `node --version` output: {output!r}")
        return match.group(1)


class OpenClawVersion(FactBase[str | None]):
    """
    The version of the ``openclaw`` npm package installed globally under ``prefix``; ``None`` when
    ``<prefix>/bin/openclaw`` or its ``package.json`` is missing.

    Runs ``cat <prefix>/lib/node_modules/openclaw/package.json`` (only when both exist) and reads ``version``
    from the JSON here, so no Node is needed on the host to answer.

    .. code:: python

        "2026.9.6"
    """

    @override
    def command(self, prefix: str = "/opt/openclaw") -> StringCommand:
        binary = quoted(f"{prefix}/bin/openclaw")
        manifest = quoted(f"{prefix}/lib/node_modules/openclaw/package.json")
        return StringCommand("if [ -e", binary, "] && [ -f", manifest, "]; then cat", manifest, "; fi")

    @override
    def process(self, output: list[str]) -> str | None:
        text = "\n".join(output)
        if not text.strip():
            return None
        try:
            manifest = json.loads(text)
        except ValueError as error:
            raise FactProcessError(f"openclaw package.json is not JSON ({error})") from None
        if not isinstance(manifest, dict) or manifest.get("name") != "openclaw":
            raise FactProcessError("the package.json under lib/node_modules/openclaw is not the openclaw package's")
        version = manifest.get("version")
        if not isinstance(version, str) or not version:
            raise FactProcessError("openclaw package.json has no version")
        return version
