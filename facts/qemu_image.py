"""A disk image file as ``qemu-img`` reads it: format, virtual size, backing file."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactBase
from typing_extensions import override

from openclaw_infra.quoting import quoted

from .parsing import required_lines, unreadable
from .records import JsonRecord

# Printed instead of qemu-img's answer when the file exists but qemu-img does not (yet): the VM host deploy
# installs it in the same run, after the plan is made.
NO_QEMU_IMG = "##no-qemu-img##"


@dataclasses.dataclass(frozen=True)
class QemuImageInfo(JsonRecord):
    """``format`` and ``virtual_size`` are ``None`` when the file exists but qemu-img is not installed."""

    format: str | None
    virtual_size: int | None
    backing_file: str | None = None
    backing_format: str | None = None


class QemuImage(FactBase[QemuImageInfo | None]):
    """
    Returns a disk image's format, virtual size (bytes) and backing file; ``None`` when there is no such file.

    + path: the image file

    Runs ``qemu-img info -U --output=json`` (``-U``: the image of a running VM is locked by its qemu, and reading
    its header is safe).

    .. code:: python

        {"format": "qcow2", "virtual_size": 42949672960, "backing_file": "/srv/images/debian-12.qcow2",
         "backing_format": "qcow2"}
    """

    @staticmethod
    @override
    def default() -> None:
        return None

    @override
    def command(self, path: str) -> StringCommand:
        return StringCommand(
            "if [ -e", quoted(path), "]; then if command -v qemu-img >/dev/null 2>&1;",
            "then qemu-img info -U --output=json --", quoted(path), "; else echo", quoted(NO_QEMU_IMG), "; fi; fi",
        )  # fmt: skip

    @override
    def process(self, output: list[str]) -> QemuImageInfo | None:
        if not output:  # no such file (pyinfra gives the default itself; fixtures call process)
            return None
        lines = required_lines("qemu-img", output)
        if lines == [NO_QEMU_IMG]:
            return QemuImageInfo(format=None, virtual_size=None)
        try:
            info: Any = json.loads("\n".join(lines))
        except json.JSONDecodeError as error:
            raise unreadable("qemu-img info", lines[min(error.lineno, len(lines)) - 1], error.msg) from error
        if not isinstance(info, dict) or not isinstance(info.get("format"), str):
            raise unreadable("qemu-img info", lines[0], 'expected a JSON object with "format"')
        size = info.get("virtual-size")
        if not isinstance(size, int):
            raise unreadable("qemu-img info", lines[0], 'no "virtual-size"')
        backing = info.get("full-backing-filename") or info.get("backing-filename")
        return QemuImageInfo(
            format=info["format"],
            virtual_size=size,
            backing_file=backing if isinstance(backing, str) else None,
            backing_format=info.get("backing-filename-format"),
        )
