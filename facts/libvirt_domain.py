"""What the libvirt VM list does not say about one domain or network: autostart, the definition the VM host deploy
wrote (a checksum it keeps in the domain's ``<metadata>``), NVRAM and disks; a network's active and autostart flags.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
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

# The devices whose presence and source matter: what the deploy defines (disks, NIC, console file) and what widens
# a VM's reach if added by hand (a bridged NIC, VNC, a host directory or device passed through). The rest
# (controllers, input, balloon, console, audio) libvirt adds itself.
WATCHED_DEVICES = (
    "disk", "interface", "serial", "filesystem", "hostdev", "redirdev", "graphics", "channel", "smartcard", "shmem",
    "vsock", "parallel", "tpm",
)  # fmt: skip
# Source attributes libvirt adds to a running domain's devices: a disk's index, a NIC's port (and, for a NIC on a
# libvirt network, the network's bridge; a NIC of type bridge names its bridge itself).
_RUNTIME_SOURCE_ATTRIBUTES = ("index", "portid")
_MEMORY_UNITS = {"b": 1, "bytes": 1, "k": 1024, "kib": 1024, "m": 1024**2, "mib": 1024**2, "g": 1024**3, "gib": 1024**3}

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
    domain runs with (differs until a redefined domain is restarted). ``shape_sha256`` / ``live_shape_sha256``: of
    what matters in each definition (``definition_shape``), so a hand edit that keeps the metadata still shows."""

    name: str
    uuid: str
    raw_state: str
    autostart: bool
    persistent: bool
    rendered_sha256: str | None
    live_rendered_sha256: str | None
    shape_sha256: str
    live_shape_sha256: str
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
            "rendered_sha256": "9f86…", "live_rendered_sha256": "9f86…", "shape_sha256": "60e1…",
            "live_shape_sha256": "60e1…", "nvram": None,
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
            shape_sha256=shape_sha256(inactive),
            live_shape_sha256=shape_sha256(live, live=True),
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


def parsed_definition(xml: str) -> ElementTree.Element:
    """A domain definition: libvirtd's rendering of one, or the deploy's own template (no DTD, no entities)."""
    return ElementTree.fromstring(xml)  # noqa: S314


def _definition(lines: list[str]) -> ElementTree.Element:
    try:
        return parsed_definition("\n".join(lines))
    except ElementTree.ParseError as error:
        line = lines[error.position[0] - 1] if 0 < error.position[0] <= len(lines) else ""
        raise unreadable("virsh dumpxml", line, f"not XML: {error}") from error


def _text(element: ElementTree.Element | None) -> str | None:
    return element.text.strip() if element is not None and element.text and element.text.strip() else None


def _checksum(definition: ElementTree.Element) -> str | None:
    return _text(definition.find(f"metadata/{{{METADATA_NAMESPACE}}}vm/{CHECKSUM_TAG}"))


def definition_shape(definition: ElementTree.Element, live: bool = False) -> dict[str, Any]:
    """What a domain definition gives the VM, in a form that libvirt's rewriting leaves alone: its type, size, boot,
    CPU mode and watched devices (each with its sources), and a security label set by hand (in a persistent
    definition; libvirt adds dynamic ones to a running domain). Memory in bytes, whatever unit the XML used."""
    memory = definition.find("memory")
    cpu = definition.find("cpu")
    boot = [child for child in definition.iterfind("os/*") if child.tag != "type"]
    if not any(child.tag == "boot" for child in boot):
        boot.append(ElementTree.Element("boot", dev="hd"))  # libvirt writes its default in (with a kernel too)
    shape: dict[str, Any] = {
        "type": definition.get("type"),
        "memory": _bytes(memory) if memory is not None else None,
        "vcpu": _text(definition.find("vcpu")),
        "cpu_mode": cpu.get("mode") if cpu is not None else None,
        "os": sorted(json.dumps([child.tag, _text(child), sorted(child.attrib.items())]) for child in boot),
        "devices": sorted(
            _device(device) for device in definition.iterfind("devices/*") if device.tag in WATCHED_DEVICES
        ),
    }  # fmt: skip
    if not live:
        # A label set by hand (confinement off, or a fixed label); libvirt's own are dynamic, and some releases
        # write them into the persistent definition too.
        shape["seclabel"] = sorted(
            json.dumps(sorted(label.attrib.items()))
            for label in definition.iterfind("seclabel")
            if label.get("type", "dynamic") != "dynamic"
        )
    return shape


def shape_sha256(definition: ElementTree.Element, live: bool = False) -> str:
    return hashlib.sha256(json.dumps(definition_shape(definition, live), sort_keys=True).encode()).hexdigest()


def _device(device: ElementTree.Element) -> str:
    runtime = (*_RUNTIME_SOURCE_ATTRIBUTES, "bridge") if device.get("type") == "network" else _RUNTIME_SOURCE_ATTRIBUTES
    sources = [
        sorted((key, value) for key, value in source.attrib.items() if key not in runtime)
        for source in device.iterfind("source")
    ]
    target = device.find("target")
    return json.dumps([
        device.tag, device.get("type"), device.get("device"), sources,
        target.get("dev") if target is not None and device.tag == "disk" else None,
        device.find("readonly") is not None,
    ])  # fmt: skip


def _bytes(memory: ElementTree.Element) -> int:
    unit = (memory.get("unit") or "KiB").lower()
    text = _text(memory)
    if unit not in _MEMORY_UNITS or text is None or not text.isdigit():
        raise unreadable("virsh dumpxml", ElementTree.tostring(memory, encoding="unicode").strip(), "not a memory size")
    return int(text) * _MEMORY_UNITS[unit]


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
