"""
OpenClaw itself, the npm package, at a pinned version under a fixed prefix: ``<prefix>/bin/openclaw``.

``<prefix>`` (default ``/opt/openclaw``) is a symlink to ``<prefix>-<version>``, a global npm prefix of its own.
A new version is installed beside the running one and the link switched in one rename, so a failed or slow
``npm install`` never leaves the gateway without a complete OpenClaw; the operation changes only when the
version does, which is what a service restart should be gated on (``_if=op.did_change``). The release it
replaced is kept (the upgrade's rollback switches back to it, and so can an operator); older ones are removed.
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
from openclaw_infra.gateway_paths import SYSTEM_PATH
from openclaw_infra.operations.node_runtime import switch_link
from openclaw_infra.quoting import quoted, shell_word

PACKAGE = "openclaw"

_PINNED_VERSION = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")


def _absolute(path: str, what: str) -> PurePosixPath:
    posix = PurePosixPath(path)
    if not posix.is_absolute() or len(posix.parts) < 2 or ".." in posix.parts:
        raise OperationError(f"{what} {path!r} must be an absolute path below /, e.g. '/opt/openclaw'.")
    return posix


def release_dir(prefix: str, version: str) -> str:
    """Where ``version`` is installed: ``<prefix>-<version>``, its own npm prefix."""
    prefix_path = _absolute(prefix, "OpenClaw prefix")
    return str(prefix_path.parent / f"{prefix_path.name}-{version}")


def _linked_release(prefix: str) -> PurePosixPath | None:
    """The release directory ``prefix`` links to; None without a link. Refuses a real directory there."""
    prefix_path = _absolute(prefix, "OpenClaw prefix")
    link = host.get_fact(Link, path=prefix)
    if link is False:
        raise OperationError(
            f"{prefix} exists and is not a symlink, so it was not installed by this operation; "
            f"move it aside (mv {prefix} {prefix}.old) and run again."
        )
    if not link:
        return None
    target = PurePosixPath(link["link_target"])
    return target if target.is_absolute() else prefix_path.parent / target


@operation()
def openclaw(
    version: str,
    prefix: str = "/opt/openclaw",
    node_prefix: str = "/opt/node",
    platform: str = "linux",
    registry: str | None = None,
    switch: bool = True,
) -> Generator[StringCommand, None, None]:
    """
    Install ``openclaw@<version>`` with the pinned Node's npm; reinstall only when the version differs.

    + version: exact OpenClaw release, e.g. ``2026.9.6`` (never ``latest``)
    + prefix: symlink to the release's own npm prefix; ``<prefix>/bin/openclaw`` is the CLI
    + node_prefix: the Node runtime whose ``bin/npm`` and ``bin/node`` install and run it
    + platform: ``linux``, or ``darwin`` (macOS: the link switched with BSD ``mv -h``)
    + registry: the npm registry (or a mirror) to install from; ``None``: npm's configured one
    + switch: also point ``prefix`` at it (``release_switched``); False installs it beside the release in use
      only, so the caller can check it (``openclaw config validate``) before anything runs it

    npm 11 runs no dependency install scripts unless allowed; only OpenClaw's own are (``--allow-scripts``).

    **Example:**

    .. code:: python

        package = openclaw_package.openclaw(name="Install OpenClaw 2026.9.6", version="2026.9.6")
        systemd.service(name="Restart the gateway", service="openclaw-gateway", restarted=True,
                        _if=package.did_change)
    """
    if not _PINNED_VERSION.match(version):
        raise OperationError(f"OpenClaw version {version!r} is not a pinned version; pin one such as '2026.9.6'.")
    node_bin = _absolute(node_prefix, "Node prefix") / "bin"
    release = release_dir(prefix, version)

    requests = [(OpenClawVersion, {"prefix": prefix})] + ([] if switch else [(OpenClawVersion, {"prefix": release})])
    in_use, *beside = read_facts(*requests)
    if in_use == version or beside == [version]:
        host.noop(f"OpenClaw {version} is installed at {prefix if in_use == version else release}")
        return
    _linked_release(prefix)  # refuses a prefix that is not our link before npm runs

    release_q = quoted(release)
    # npm installs beside the release and only a complete install replaces it: reinstalling the running version
    # (a damaged install) never leaves the gateway without its files if npm fails half-way.
    partial_q = quoted(f"{release}.partial")
    npm = quoted(str(node_bin / "npm"))
    if registry is not None and not re.fullmatch(r"https?://[^\s']+", registry):
        raise OperationError(f"npm registry {registry!r} is not an http(s) URL")
    registry_words = ["--registry", quoted(registry)] if registry else []
    yield StringCommand(
        "test -x", npm, "|| { echo", quoted(f"no npm at {node_bin}: install the Node runtime first"),
        ">&2; exit 1; }",
        "&& rm -rf", partial_q,
        "&& env", quoted(f"PATH={node_bin}:{SYSTEM_PATH}"),
        npm, "install --global --prefix", partial_q, quoted(f"--allow-scripts={PACKAGE}"),
        "--no-audit --no-fund --no-update-notifier", *registry_words, quoted(f"{PACKAGE}@{version}"),
        "&& test -x", quoted(f"{release}.partial/bin/openclaw"),
        "&& rm -rf", release_q, "&& mv", partial_q, release_q,
        "|| { rm -rf", partial_q, "; echo", quoted(f"npm install of {PACKAGE}@{version} failed"), ">&2; exit 1; }",
    )  # fmt: skip
    if switch:
        yield from _switch_commands(prefix, version, platform)


def _switch_commands(prefix: str, version: str, platform: str) -> Generator[StringCommand, None, None]:
    prefix_path = _absolute(prefix, "OpenClaw prefix")
    release = release_dir(prefix, version)
    previous = _linked_release(prefix)
    yield switch_link(prefix_path, release, platform)
    # Keep the release the link pointed at before (the rollback's), remove every other release directory this
    # operation made: <prefix>-<pinned version>, never another tree beside it (e.g. /opt/openclaw-infra).
    if not previous or previous.parent != prefix_path.parent:
        return  # a first install (or a link made elsewhere): no release of ours to keep or remove
    kept = [release, str(previous)]
    releases = StringCommand(quoted(f"{prefix_path}-"), "[0-9]*.[0-9]*.[0-9]*", _separator="")
    yield StringCommand(
        "for old in", releases, '; do case "$old" in', "|".join(shell_word(path) for path in kept), ") ;;",
        '*) if [ -d "$old" ] && [ ! -L "$old" ]; then rm -rf -- "$old"; fi ;; esac; done',
    )  # fmt: skip


@operation()
def release_switched(
    version: str, prefix: str = "/opt/openclaw", platform: str = "linux"
) -> Generator[StringCommand, None, None]:
    """
    Point ``prefix`` at the installed ``<prefix>-<version>`` (``openclaw(..., switch=False)``) in one rename.

    The release it replaces is kept beside it (the upgrade's rollback switches back to it, and so can an
    operator); any older release directory is removed.

    + version: the release to run
    + prefix: the link the services run OpenClaw through
    + platform: ``linux``, or ``darwin`` (BSD ``mv -h``)
    """
    if not _PINNED_VERSION.match(version):
        raise OperationError(f"OpenClaw version {version!r} is not a pinned version; pin one such as '2026.9.6'.")
    if _linked_release(prefix) == PurePosixPath(release_dir(prefix, version)):
        host.noop(f"{prefix} runs OpenClaw {version}")
        return
    yield from _switch_commands(prefix, version, platform)
