"""What the libvirt VM list does not say about one domain or network: autostart, the definition the VM host deploy
wrote (a checksum it keeps in the domain's ``<metadata>``), NVRAM and disks; a network's active and autostart flags.
"""

from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ElementTree
from typing import Any, TypeVar

from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactBase
from typing_extensions import override

from openclaw_infra.quoting import quoted

from .parsing import required_lines, unreadable
from .records import JsonRecord

# The namespace of the element the VM host deploy writes into a domain's <metadata>: libvirt keeps foreign
# elements there as they are, so the checksum of what was rendered survives libvirt's rewriting of the rest.
METADATA_NAMESPACE = "https://openclaw.ai/xmlns/pyinfra-openclaw/domain/1"
CHECKSUM_TAG = f"{{{METADATA_NAMESPACE}}}rendered-sha256"
# Lines the fact's command prints between the parts of its output (virsh itself never prints them).
INACTIVE_MARK = "### inactive definition"
LIVE_MARK = "### live definition"

Found = TypeVar("Found")

_URI = re.compile(r"^[a-z][a-z0-9+.-]*://[^\s']*$")


def listed_then(uri: str, listing: str, name: str, *details: Any) -> StringCommand:
    """``details`` (shell words where ``v`` is virsh on ``uri`` and ``"$1"`` is ``name``), run only when ``name`` is
    among what ``virsh LISTING`` prints; a failed listing fails the fact: an unreachable libvirtd is not "absent"."""
    if not _URI.match(uri):
        raise ValueError(f"not a libvirt connection URI: {uri!r}")
    return StringCommand(
        "set --", quoted(name), "; export LC_ALL=C; v() { virsh -c", quoted(uri), '"$@"; };',
        f"names=$(v {listing}) || exit 1;",
        'if printf "%s\\n" "$names" | grep -qxF -- "$1"; then', *details, "; fi",
    )  # fmt: skip


class _VirshFact(FactBase[Found | None]):
    """A fact about one named libvirt object: ``None`` when there is none (or no ``virsh``)."""

    abstract = True

    @override
    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "virsh"

    @staticmethod
    @override
    def default() -> None:
        return None


@dataclasses.dataclass(frozen=True)
class LibvirtDomainConfig(JsonRecord):
    """One domain's flags and definitions. ``rendered_sha256``: the checksum in the persistent definition's
    metadata (``None`` when the deploy did not define it); ``live_rendered_sha256``: the same in the definition the
    domain runs with (differs until a redefined domain is restarted)."""

    name: str
    uuid: str
    raw_state: str
    autostart: bool
    persistent: bool
    rendered_sha256: str | None
    live_rendered_sha256: str | None
    nvram: str | None
    disk_files: tuple[str, ...]


class LibvirtDomain(_VirshFact[LibvirtDomainConfig]):
    """
    Returns one libvirt domain's autostart and persistence flags and what its definitions hold; ``None`` when no
    domain has that name (or ``virsh`` is not installed).

    + uri: libvirt connection URI
    + domain: the domain's name

    Runs ``virsh dominfo``, then ``virsh dumpxml --inactive`` and ``virsh dumpxml`` of the domain, in the C locale.

    .. code:: python

        {
            "name": "openclaw-vm", "uuid": "…", "raw_state": "running", "autostart": True, "persistent": True,
            "rendered_sha256": "9f86…", "live_rendered_sha256": "9f86…", "nvram": None,
            "disk_files": ["/var/lib/openclaw-infra/vms/openclaw-vm/disk.qcow2"],
        }
    """

    @override
    def command(self, uri: str, domain: str) -> StringCommand:
        return listed_then(
            uri, "list --all --name", domain,
            'v dominfo --domain "$1" && echo', quoted(INACTIVE_MARK), '&& v dumpxml --inactive --domain "$1"',
            "&& echo", quoted(LIVE_MARK), '&& v dumpxml --domain "$1"',
        )  # fmt: skip

    @override
    def process(self, output: list[str]) -> LibvirtDomainConfig | None:
        if not output:  # no such domain (pyinfra gives the default itself; fixtures call process)
            return None
        lines = required_lines("virsh", output)
        if INACTIVE_MARK not in lines or LIVE_MARK not in lines:
            raise unreadable("virsh", lines[-1], "the output ends before both definitions")
        info_end, live_start = lines.index(INACTIVE_MARK), lines.index(LIVE_MARK)
        info = _dominfo(lines[:info_end])
        inactive = _definition(lines[info_end + 1 : live_start])
        live = _definition(lines[live_start + 1 :])
        return LibvirtDomainConfig(
            name=_required(info, "Name"),
            uuid=_required(info, "UUID"),
            raw_state=_required(info, "State"),
            autostart=_flag(info, "Autostart", {"enable": True, "disable": False}),
            persistent=_flag(info, "Persistent", {"yes": True, "no": False}),
            rendered_sha256=_checksum(inactive),
            live_rendered_sha256=_checksum(live),
            nvram=_text(inactive.find("os/nvram")),
            disk_files=tuple(
                source.get("file", "")
                for disk in inactive.iterfind("devices/disk[@device='disk']")
                if (source := disk.find("source")) is not None and source.get("file")
            ),
        )


def _dominfo(lines: list[str]) -> dict[str, str]:
    """``Key: value`` lines of ``virsh dominfo`` / ``net-info``; the keys the callers read must be there."""
    found = {}
    for line in lines:
        key, colon, value = line.partition(":")
        if not colon:
            raise unreadable("virsh", line, "expected 'Key: value'")
        found[key.strip()] = value.strip()
    return found


def _required(info: dict[str, str], key: str) -> str:
    if key not in info:
        raise unreadable("virsh dominfo", " ".join(f"{k}: {v}" for k, v in info.items())[:200], f"no {key!r}")
    return info[key]


def _flag(info: dict[str, str], key: str, words: dict[str, bool]) -> bool:
    value = info.get(key)
    if value not in words:
        raise unreadable("virsh", f"{key}: {value}", f"expected one of {sorted(words)}")
    return words[value]


def _definition(lines: list[str]) -> ElementTree.Element:
    try:
        # libvirtd's own rendering of a definition (no DTD, no entities), not input from a stranger.
        return ElementTree.fromstring("\n".join(lines))  # noqa: S314
    except ElementTree.ParseError as error:
        line = lines[error.position[0] - 1] if 0 < error.position[0] <= len(lines) else ""
        raise unreadable("virsh dumpxml", line, f"not XML: {error}") from error


def _text(element: ElementTree.Element | None) -> str | None:
    return element.text.strip() if element is not None and element.text and element.text.strip() else None


def _checksum(definition: ElementTree.Element) -> str | None:
    return _text(definition.find(f"metadata/{{{METADATA_NAMESPACE}}}vm/{CHECKSUM_TAG}"))


@dataclasses.dataclass(frozen=True)
class LibvirtNetworkState(JsonRecord):
    name: str
    active: bool
    autostart: bool
    persistent: bool


class LibvirtNetwork(_VirshFact[LibvirtNetworkState]):
    """
    Returns whether a libvirt network is active and started with libvirtd; ``None`` when no network has that name
    (or ``virsh`` is not installed).

    + uri: libvirt connection URI
    + network: the network's name

    Runs ``virsh net-info`` in the C locale.

    .. code:: python

        {"name": "default", "active": True, "autostart": True, "persistent": True}
    """

    @override
    def command(self, uri: str, network: str) -> StringCommand:
        return listed_then(uri, "net-list --all --name", network, 'v net-info --network "$1"')

    @override
    def process(self, output: list[str]) -> LibvirtNetworkState | None:
        if not output:  # no such network
            return None
        info = _dominfo(required_lines("virsh", output))
        return LibvirtNetworkState(
            name=_required(info, "Name"),
            active=_flag(info, "Active", {"yes": True, "no": False}),
            autostart=_flag(info, "Autostart", {"yes": True, "no": False}),
            persistent=_flag(info, "Persistent", {"yes": True, "no": False}),
        )
