"""
The Node runtime OpenClaw runs on, at a pinned version, so that ``<prefix>/bin/node`` and ``<prefix>/bin/npm``
exist whatever the install method.

``<prefix>`` (default ``/opt/node``) is a symlink this module owns: it points at an unpacked official tarball
(``/opt/node-v24.21.0-linux-x64``) or, for NodeSource, at ``/usr``. An upgrade unpacks the new version beside the
old one and switches the link in one ``rename``, so nothing ever sees a half-installed Node.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from importlib import resources
from io import StringIO
from pathlib import PurePosixPath
from typing import Any, get_args

from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import OperationError
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.facts.deb import DebPackages
from pyinfra.facts.files import Link
from pyinfra.facts.server import Arch
from pyinfra.operations import files

from openclaw_infra.facts.batch import read_facts
from openclaw_infra.facts.installed_versions import NodeVersion
from openclaw_infra.quoting import quoted
from openclaw_infra.settings import NodeInstallMethod

NODEJS_DIST = "https://nodejs.org/dist"
NODESOURCE_URL = "https://deb.nodesource.com"
# NodeSource's repository key (6F71F525282841EEDAF851B42F59B5F99B1BE0B4), shipped with the project rather than
# fetched from the server it is meant to authenticate. apt reads it armoured because the file ends in .asc.
NODESOURCE_KEY = resources.files("openclaw_infra.templates") / "node" / "nodesource-repo.asc"
NODESOURCE_KEYRING = "/etc/apt/keyrings/nodesource.asc"
# The path NodeSource's own setup script writes, so a list it left behind is replaced, not duplicated.
NODESOURCE_LIST = "/etc/apt/sources.list.d/nodesource.list"

# `uname -m` -> the arch part of nodejs.org's file names.
NODE_ARCHES = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}
INSTALL_METHODS: tuple[str, ...] = get_args(NodeInstallMethod)
# nodejs.org's platform part of its file names; `uname -s` of the host, lowercased.
PLATFORMS = ("linux", "darwin")
# What checks an archive against SHASUMS256.txt's line: GNU coreutils, or macOS's shasum (Perl, no --strict).
SHA256_CHECKS = {"linux": "sha256sum --check --strict archive.sha256", "darwin": "shasum -a 256 -c archive.sha256"}

_EXACT_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
_URL = re.compile(r"^https?://[^\s'\"]+$")


def _check_version(version: str) -> None:
    if not _EXACT_VERSION.match(version):
        raise OperationError(f"Node version {version!r} is not exact; pin major.minor.patch such as '24.21.0'.")


def _check_prefix(prefix: str) -> PurePosixPath:
    path = PurePosixPath(prefix)
    if not path.is_absolute() or len(path.parts) < 2 or ".." in path.parts:
        raise OperationError(f"Node prefix {prefix!r} must be an absolute path below /, e.g. '/opt/node'.")
    return path


def _check_url(url: str, what: str) -> str:
    if not _URL.match(url):
        raise OperationError(f"{what} {url!r} is not an http(s) URL.")
    return url.rstrip("/")


def _link_target(prefix: PurePosixPath, method: str) -> str | None:
    """Where the prefix symlink points now (None: absent); refuses a prefix that is a real directory or file."""
    info = host.get_fact(Link, path=str(prefix))
    if info is False:
        raise OperationError(
            f"{prefix} exists and is not a symlink, so it was not installed by this operation; "
            f"move it aside (mv {prefix} {prefix}.old) and run again to install Node by {method}."
        )
    if not info:
        return None
    target = PurePosixPath(info["link_target"])
    return str(target if target.is_absolute() else prefix.parent / target)


def switch_link(prefix: PurePosixPath, target: str, platform: str = "linux") -> StringCommand:
    """Point ``prefix`` at ``target`` in one rename(2): a reader sees the old tree or the new one, never neither.
    ``mv`` must not follow the old link into the tree it names: GNU's ``-T``, BSD's (macOS) ``-h``."""
    staged_link = quoted(f"{prefix}.switch")
    no_follow = "-fh" if platform == "darwin" else "-fT"
    return StringCommand("ln -sfn", quoted(target), staged_link, "&& mv", no_follow, staged_link, quoted(str(prefix)))


@operation()
def tarball(
    version: str,
    prefix: str = "/opt/node",
    base_url: str = NODEJS_DIST,
    platform: str = "linux",
) -> Generator[StringCommand, None, None]:
    """
    Install Node from the official tarball, verified against ``SHASUMS256.txt`` before it is unpacked.

    + version: exact Node version, e.g. ``24.21.0``
    + prefix: symlink to the unpacked tree; ``<prefix>/bin/node`` and ``<prefix>/bin/npm`` are what callers run
    + base_url: nodejs.org layout, ``<base_url>/v<version>/node-v<version>-<platform>-<arch>.tar.xz`` and
      ``SHASUMS256.txt`` beside it; a mirror for hosts that cannot reach nodejs.org
    + platform: ``linux``, or ``darwin`` (macOS: checked with ``shasum``, the link switched with BSD ``mv -h``)

    The tree goes to ``node-v<version>-<platform>-<arch>`` next to the prefix (``x64`` or ``arm64`` from the
    host's CPU), owned by root (``root:wheel`` on macOS, writable by nobody else: not Homebrew's admin-writable
    prefix), then the prefix link is switched to it and the version it replaced is removed. Needs ``curl``,
    ``tar`` and ``xz`` (macOS's tar reads it) and ``sha256sum`` (Linux) or ``shasum`` (macOS) on the host.

    **Example:**

    .. code:: python

        node_runtime.tarball(name="Install Node 24.21.0", version="24.21.0")
    """
    _check_version(version)
    prefix_path = _check_prefix(prefix)
    base_url = _check_url(base_url, "Node tarball base URL")
    if platform not in PLATFORMS:
        raise OperationError(f"no official Node tarball for platform {platform!r}; use one of {PLATFORMS}.")

    (installed,) = read_facts((NodeVersion, {"path": f"{prefix}/bin/node"}))
    if installed == version:
        host.noop(f"Node {version} is installed at {prefix}")
        return

    machine = str(host.get_fact(Arch))
    arch = NODE_ARCHES.get(machine)
    if arch is None:
        raise OperationError(f"no official Node tarball for CPU {machine!r}; use x86_64 or arm64 hosts.")
    previous = _link_target(prefix_path, "tarball")

    dist = f"node-v{version}-{platform}-{arch}"
    archive = f"{dist}.tar.xz"
    parent = prefix_path.parent
    install_dir = str(parent / dist)
    # Beside the install dir: the final `mv` is a rename on one file system, and a failed run leaves no
    # half-unpacked tree where the link could point.
    staging = quoted(str(parent / f".{dist}.download"))
    failed = f"Node {version}: download or SHA-256 check of {archive} against SHASUMS256.txt failed; nothing unpacked"

    # 1. Fetch and verify: the archive is checked before tar ever reads it; any failure removes the download.
    yield StringCommand(
        "mkdir -p", quoted(str(parent)),
        "&& rm -rf", staging, "&& mkdir -m 700", staging, "&& cd", staging,
        "&& curl -fsSL --retry 3 -o SHASUMS256.txt", quoted(f"{base_url}/v{version}/SHASUMS256.txt"),
        "&& curl -fsSL --retry 3 -o", quoted(archive), quoted(f"{base_url}/v{version}/{archive}"),
        "&& awk -v", quoted(f"archive={archive}"), "'$2 == archive' SHASUMS256.txt > archive.sha256",
        "&& test -s archive.sha256 &&", SHA256_CHECKS[platform],
        "|| { cd / && rm -rf", staging, "; echo", quoted(failed), ">&2; exit 1; }",
    )  # fmt: skip
    # 2. Unpack as root-owned files (the tarball's own uid may be a real user on this host), check the binary
    #    runs and is the version asked for, then move it into place.
    yield StringCommand(
        "cd", staging,
        "&& tar -xJf", quoted(archive), "--no-same-owner",
        '&& test "$(', quoted(f"{dist}/bin/node"), '--version)" =', quoted(f"v{version}"),
        "&& rm -rf", quoted(install_dir), "&& mv", quoted(dist), quoted(install_dir),
        "&& cd / && rm -rf", staging,
        "|| { cd / && rm -rf", staging, "; echo", quoted(f"unpacked {dist} is not a working Node {version}"),
        ">&2; exit 1; }",
    )  # fmt: skip
    # 3. Switch, then drop the tree the link pointed at before (only one this operation unpacked).
    yield switch_link(prefix_path, install_dir, platform)
    if previous and previous != install_dir:
        previous_path = PurePosixPath(previous)
        if previous_path.parent == parent and re.match(r"^node-v\d+\.\d+\.\d+-(linux|darwin)-\w+$", previous_path.name):
            yield StringCommand("rm -rf", quoted(previous))


@operation()
def nodesource(
    version: str,
    prefix: str = "/opt/node",
    repository_url: str = NODESOURCE_URL,
) -> Generator[Any, None, None]:
    """
    Install Node from NodeSource's apt repository (Debian/Ubuntu), pinned to ``nodejs=<version>-1nodesource1``
    and held so ``apt upgrade`` does not move it.

    + version: exact Node version, e.g. ``24.21.0``
    + prefix: made a symlink to ``/usr`` so ``<prefix>/bin/node`` is the packaged binary, as with the tarball
    + repository_url: NodeSource's repository (or a mirror of it); ``node_<major>.x nodistro main`` under it

    The repository key is NodeSource's, shipped in ``templates/node/`` and written to
    ``/etc/apt/keyrings/nodesource.asc``; the source list is the path NodeSource's own script uses.

    **Example:**

    .. code:: python

        node_runtime.nodesource(name="Install Node 24.21.0 from NodeSource", version="24.21.0")
    """
    _check_version(version)
    prefix_path = _check_prefix(prefix)
    repository_url = _check_url(repository_url, "NodeSource repository URL")
    major = version.split(".")[0]
    package_version = f"{version}-1nodesource1"

    keyrings = str(PurePosixPath(NODESOURCE_KEYRING).parent)
    yield from files.directory._inner(path=keyrings, mode="755", user="root", group="root")
    key = StringIO(NODESOURCE_KEY.read_text())
    yield from files.put._inner(src=key, dest=NODESOURCE_KEYRING, mode="644", user="root", group="root")
    source = f"deb [signed-by={NODESOURCE_KEYRING}] {repository_url}/node_{major}.x nodistro main\n"
    yield from files.put._inner(src=StringIO(source), dest=NODESOURCE_LIST, mode="644", user="root", group="root")

    installed = host.get_fact(DebPackages).get("nodejs", [])
    package_ok = package_version in installed
    if not package_ok:
        # The list may be new or stale; update before asking for an exact version.
        yield "apt-get update"
        yield StringCommand(
            "DEBIAN_FRONTEND=noninteractive apt-get install -y --allow-downgrades --allow-change-held-packages",
            quoted(f"nodejs={package_version}"),
        )
        yield "apt-mark hold nodejs"

    link_ok = True
    if prefix_path != PurePosixPath("/usr"):
        link_ok = _link_target(prefix_path, "nodesource") == "/usr"
        if not link_ok:
            yield switch_link(prefix_path, "/usr")

    if package_ok and link_ok:
        host.noop(f"Node {version} from NodeSource is installed ({prefix}/bin/node)")


@operation()
def preinstalled(version: str, prefix: str = "/opt/node") -> Generator[StringCommand, None, None]:
    """
    Check that a Node installed by other means is the pinned version; changes nothing.

    + version: exact Node version the host must already have
    + prefix: looked at first (``<prefix>/bin/node``); ``node`` on ``PATH`` when there is none there

    Fails with what was found, so the operator knows whether to upgrade that Node or let this deploy install one.
    """
    _check_version(version)
    _check_prefix(prefix)

    where = f"{prefix}/bin/node"
    found = host.get_fact(NodeVersion, path=where)
    if found is None:
        where = "node on PATH"
        found = host.get_fact(NodeVersion, path="node")
    if found != version:
        seen = f"{where} is {found}" if found else f"there is no node at {prefix}/bin/node or on PATH"
        raise OperationError(
            f"install_method 'preinstalled' needs Node {version}, but {seen}. Install Node {version} there, "
            "or set install_method to 'tarball' or 'nodesource' so the deploy installs it."
        )
    host.noop(f"Node {version} is preinstalled ({where})")
    yield from ()


@operation()
def node(
    version: str,
    install_method: NodeInstallMethod = "tarball",
    prefix: str = "/opt/node",
    tarball_base_url: str = NODEJS_DIST,
    platform: str = "linux",
) -> Generator[Any, None, None]:
    """
    The Node runtime at a pinned version by the chosen method; the fields of ``settings.NodeRuntime``.

    + version: exact Node version, e.g. ``24.21.0``
    + install_method: ``tarball`` (official build, checksum-verified), ``nodesource`` (apt) or ``preinstalled``
    + prefix: ``<prefix>/bin/node`` and ``<prefix>/bin/npm`` exist afterwards
    + tarball_base_url: nodejs.org or a mirror in its layout (``tarball`` only)
    + platform: ``linux`` or ``darwin`` (``tarball`` only; NodeSource is for Debian and Ubuntu)

    **Example:**

    .. code:: python

        node_runtime.node(name="Node runtime", **settings.node.model_dump())
    """
    if install_method == "tarball":
        yield from tarball._inner(version=version, prefix=prefix, base_url=tarball_base_url, platform=platform)
    elif install_method == "nodesource":
        yield from nodesource._inner(version=version, prefix=prefix)
    elif install_method == "preinstalled":
        yield from preinstalled._inner(version=version, prefix=prefix)
    else:
        raise OperationError(f"install_method {install_method!r} is not one of {', '.join(INSTALL_METHODS)}.")
