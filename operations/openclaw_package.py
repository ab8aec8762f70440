"""
OpenClaw itself, the npm package, at a pinned version under a fixed prefix: ``<prefix>/bin/openclaw``.

``<prefix>`` (default ``/opt/openclaw``) is a symlink to ``<prefix>-<version>``, a global npm prefix of its own.
A new version is installed beside the running one and the link switched in one rename, so a failed or slow
``npm install`` never leaves the gateway without a complete OpenClaw; the operation changes only when the
version does, which is what a service restart should be gated on (``_if=op.did_change``).
"""

from __future__ import annotations

import re
from collections.abc import Generator
from pathlib import PurePosixPath

from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import OperationError
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.facts.files import Link

from openclaw_infra.facts.batch import read_facts
from openclaw_infra.facts.installed_versions import OpenClawVersion
from openclaw_infra.operations.node_runtime import switch_link
from openclaw_infra.quoting import quoted

PACKAGE = "openclaw"
# npm and OpenClaw's install script find `node` on PATH (`#!/usr/bin/env node`); the pinned one must come first.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_PINNED_VERSION = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")


def _absolute(path: str, what: str) -> PurePosixPath:
    posix = PurePosixPath(path)
    if not posix.is_absolute() or len(posix.parts) < 2 or ".." in posix.parts:
        raise OperationError(f"{what} {path!r} must be an absolute path below /, e.g. '/opt/openclaw'.")
    return posix


@operation()
def openclaw(
    version: str,
    prefix: str = "/opt/openclaw",
    node_prefix: str = "/opt/node",
    platform: str = "linux",
) -> Generator[StringCommand, None, None]:
    """
    Install ``openclaw@<version>`` with the pinned Node's npm; reinstall only when the version differs.

    + version: exact OpenClaw release, e.g. ``2026.9.6`` (never ``latest``)
    + prefix: symlink to the release's own npm prefix; ``<prefix>/bin/openclaw`` is the CLI
    + node_prefix: the Node runtime whose ``bin/npm`` and ``bin/node`` install and run it
    + platform: ``linux``, or ``darwin`` (macOS: the link switched with BSD ``mv -h``)

    npm 11 runs no dependency install scripts unless allowed; only OpenClaw's own are (``--allow-scripts``).
    The release replaced by the switch is removed afterwards.

    **Example:**

    .. code:: python

        package = openclaw_package.openclaw(name="Install OpenClaw 2026.9.6", version="2026.9.6")
        systemd.service(name="Restart the gateway", service="openclaw-gateway", restarted=True,
                        _if=package.did_change)
    """
    if not _PINNED_VERSION.match(version):
        raise OperationError(f"OpenClaw version {version!r} is not a pinned version; pin one such as '2026.9.6'.")
    prefix_path = _absolute(prefix, "OpenClaw prefix")
    node_bin = _absolute(node_prefix, "Node prefix") / "bin"

    (installed,) = read_facts((OpenClawVersion, {"prefix": prefix}))
    if installed == version:
        host.noop(f"OpenClaw {version} is installed at {prefix}")
        return

    link = host.get_fact(Link, path=prefix)
    if link is False:
        raise OperationError(
            f"{prefix} exists and is not a symlink, so it was not installed by this operation; "
            f"move it aside (mv {prefix} {prefix}.old) and run again."
        )
    previous = None
    if link:
        target = PurePosixPath(link["link_target"])
        previous = target if target.is_absolute() else prefix_path.parent / target

    release = prefix_path.parent / f"{prefix_path.name}-{version}"
    release_q = quoted(str(release))
    # npm installs beside the release and only a complete install replaces it: reinstalling the running version
    # (a damaged install) never leaves the gateway without its files if npm fails half-way.
    partial_q = quoted(f"{release}.partial")
    npm = quoted(str(node_bin / "npm"))
    yield StringCommand(
        "test -x", npm, "|| { echo", quoted(f"no npm at {node_bin}: install the Node runtime first"),
        ">&2; exit 1; }",
        "&& rm -rf", partial_q,
        "&& env", quoted(f"PATH={node_bin}:{SYSTEM_PATH}"),
        npm, "install --global --prefix", partial_q, quoted(f"--allow-scripts={PACKAGE}"),
        "--no-audit --no-fund --no-update-notifier", quoted(f"{PACKAGE}@{version}"),
        "&& test -x", quoted(f"{release}.partial/bin/openclaw"),
        "&& rm -rf", release_q, "&& mv", partial_q, release_q,
        "|| { rm -rf", partial_q, "; echo", quoted(f"npm install of {PACKAGE}@{version} failed"), ">&2; exit 1; }",
    )  # fmt: skip
    yield switch_link(prefix_path, str(release), platform)
    # Remove the release the link pointed at before, and only a release directory this operation made.
    if previous and previous != release and previous.parent == prefix_path.parent:
        previous_version = previous.name.removeprefix(f"{prefix_path.name}-")
        if previous_version != previous.name and _PINNED_VERSION.match(previous_version):
            yield StringCommand("rm -rf", quoted(str(previous)))
