"""Signal's software and its link (the guide's "Signal Setup"): a pinned Java and a pinned signal-cli, each
downloaded by the host from its release URL, checked against its pinned SHA-256 before a byte is unpacked, and
kept root's under /opt; then signal-cli linked, as the gateway's user, as a device of the bot's Signal account.

The installs decide from what is unpacked (``facts/signal_cli.py``): nothing changes when the version's directory
holds the archive with that checksum, ``current`` points at it and no file of it is open to other users. The link
decides from the accounts signal-cli keeps: nothing happens when the account is there and registered.
"""

from __future__ import annotations

import posixpath
import re
import time
from collections.abc import Callable, Generator
from typing import Any

from pyinfra import logger
from pyinfra.api.command import FunctionCommand, PyinfraCommand, StringCommand
from pyinfra.api.exceptions import OperationError, OperationValueError
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.facts.server import Arch

from openclaw_infra.facts.batch import read_facts
from openclaw_infra.facts.signal_cli import CHECKSUM_FILE, CURRENT, InstalledRelease, SignalAccount, SignalCliAccounts
from openclaw_infra.quoting import quoted
from openclaw_infra.settings import E164, RELEASE_VERSION, SHA256_HEX
from openclaw_infra.signal_channel import JAVA_DIR, SIGNAL_CLI_DIR, SignalCli

# signal-cli's JVM release bundles libsignal's native library for x86_64 Linux only (its README), and the pinned
# Temurin archive is the x64 one.
SUPPORTED_ARCH = "x86_64"
# Where a running link writes what signal-cli prints (the URI, then "Associated with: …"): root's only.
LINK_OUTPUT_DIR = "/run/openclaw-infra"
LINK_URI = re.compile(r"sgnl://linkdevice\?\S+")
LINKED_TO = re.compile(r"Associated with: (\S+)")
# How often the link's progress is read while waiting.
POLL_SECONDS = 2
# A JVM's start, before signal-cli prints the URI.
URI_WAIT_SECONDS = 120


def _check_release(version: str, url: str, sha256: str, base_dir: str) -> None:
    if not RELEASE_VERSION.fullmatch(version):
        raise OperationValueError(f"version {version!r} is not a release version")
    if not url.startswith("https://"):
        raise OperationValueError(f"url {url!r} is not an https URL")
    if not SHA256_HEX.fullmatch(sha256):
        raise OperationValueError(f"sha256 {sha256!r} is not 64 lowercase hex digits")
    if not posixpath.isabs(base_dir):
        raise OperationValueError(f"base_dir {base_dir!r} must be absolute")


def _release_installed(
    what: str, version: str, url: str, sha256: str, base_dir: str, launcher: str
) -> Generator[StringCommand, None, None]:
    _check_release(version, url, sha256, base_dir)
    arch, unpacked = read_facts((Arch, {}), (InstalledRelease, {"base_dir": base_dir, "version": version}))
    if arch != SUPPORTED_ARCH:
        raise OperationError(
            f"this host is {arch}; the pinned {what} and signal-cli's bundled native library are for "
            f"{SUPPORTED_ARCH} Linux only"
        )
    release = posixpath.join(base_dir, version)
    unpacked_right = unpacked.sha256 == sha256
    loose = list(unpacked.loose) if unpacked_right else []
    if unpacked_right and unpacked.current == version and not loose:
        host.noop(f"{what} {version} is installed in {release} (sha256 {sha256[:12]}…), root's, in use")
        return
    if not unpacked_right:
        yield _download_and_unpack(base_dir, version, url, sha256, launcher)
    elif loose:
        # Someone changed owners or modes since: given back to root, closed to others again.
        yield StringCommand("chown -R -h root:root", quoted(release), "&& chmod -R go-w", quoted(release))
    if unpacked.current != version or not unpacked_right:
        # A new link renamed over the old one: ``current`` never points nowhere.
        link = posixpath.join(base_dir, CURRENT)
        yield StringCommand(
            "ln -sfn", quoted(version), quoted(f"{link}.new"), "&& mv -T -f", quoted(f"{link}.new"), quoted(link)
        )


def _download_and_unpack(base_dir: str, version: str, url: str, sha256: str, launcher: str) -> StringCommand:
    """One shell: the archive fetched into a root-only scratch directory, refused unless its SHA-256 is the pinned
    one, unpacked there (owners and modes not taken from the archive), then moved into place whole."""
    release = posixpath.join(base_dir, version)
    archive, unpacked = '"$scratch"/archive.tar.gz', '"$scratch"/release'
    steps = [
        StringCommand("umask 022 && install -d -m 755 -o root -g root", quoted(base_dir)),
        StringCommand("scratch=$(mktemp -d", quoted(posixpath.join(base_dir, ".download.XXXXXX")), ")"),
        StringCommand("trap", quoted('rm -rf "$scratch"'), "EXIT"),
        StringCommand("curl -fsSL --proto =https --tlsv1.2 --retry 3 -o", archive, quoted(url)),
        StringCommand(
            "echo",
            StringCommand(quoted(f"{sha256}  "), archive, _separator=""),
            "| sha256sum -c --status -",
            "|| { echo",
            quoted(f"{url} does not have the pinned sha256 {sha256}; nothing installed"),
            ">&2;",
            "exit 1; }",
        ),
        StringCommand("mkdir", unpacked),
        StringCommand(
            "tar -xzf", archive, "-C", unpacked, "--strip-components=1 --no-same-owner --no-same-permissions"
        ),
        StringCommand("test -x", StringCommand(unpacked, quoted(f"/{launcher}"), _separator="")),
        StringCommand("chmod -R go-w", unpacked, "&& chmod 755", unpacked),
        StringCommand("echo", quoted(sha256), ">", StringCommand(unpacked, quoted(f"/{CHECKSUM_FILE}"), _separator="")),
        StringCommand("rm -rf", quoted(release), "&& mv -T", unpacked, quoted(release)),
    ]
    return StringCommand("set -e;", *(word for step in steps for word in (step, ";")))


@operation()
def java_runtime(version: str, url: str, sha256: str, base_dir: str = JAVA_DIR) -> Generator[StringCommand, None, None]:
    """
    Install a Java runtime tarball (Eclipse Temurin's JRE) as ``<base_dir>/<version>``, root's, with
    ``<base_dir>/current`` pointing at it.

    + version: the release's version, its directory's name (``25.0.4+7``)
    + url: its https download URL
    + sha256: the archive's published SHA-256; any other archive is refused before it is unpacked
    + base_dir: where the versions live

    Nothing changes when that version was unpacked from that archive, is in use and root's alone. The previous
    version stays beside it.
    """
    yield from _release_installed("Java", version, url, sha256, base_dir, "bin/java")


@operation()
def signal_cli(
    version: str, url: str, sha256: str, base_dir: str = SIGNAL_CLI_DIR
) -> Generator[StringCommand, None, None]:
    """
    Install signal-cli's JVM release tarball as ``<base_dir>/<version>``, root's, with ``<base_dir>/current``
    pointing at it (as ``java_runtime``; it runs on the Java that one installs, through ``JAVA_HOME``).

    + version: signal-cli's version (``0.14.5``)
    + url: its https download URL (the ``signal-cli-<version>.tar.gz`` asset)
    + sha256: the archive's SHA-256
    + base_dir: where the versions live
    """
    yield from _release_installed("signal-cli", version, url, sha256, base_dir, "bin/signal-cli")


def link_unit(cli: SignalCli) -> str:
    """The transient unit a link runs as (one per signal-cli config)."""
    suffix = re.sub(r"[^A-Za-z0-9]+", "-", cli.config_dir).strip("-")
    return f"openclaw-signal-link-{suffix}.service"


def link_output(unit: str) -> str:
    return posixpath.join(LINK_OUTPUT_DIR, unit.removesuffix(".service") + ".out")


def _registered(accounts: list[SignalAccount], account: str) -> SignalAccount | None:
    return next((found for found in accounts if found.number == account and found.registered), None)


@operation(is_idempotent=False)
def device_linked(
    account: str, cli: SignalCli, device_name: str, timeout_seconds: int, link: bool = True
) -> Generator[PyinfraCommand, None, None]:
    """
    signal-cli, as ``cli.user``, linked as a device of the Signal account ``account``: its ``link`` run in a
    transient unit, the ``sgnl://linkdevice`` URI it prints put in front of the operator (pyinfra's log) to scan
    with the phone, then up to ``timeout_seconds`` waited for the phone to confirm.

    + account: the bot's number (E.164)
    + cli: signal-cli as the gateway runs it (user, home, ``--config`` directory, launcher, Java)
    + device_name: how the phone lists the device
    + timeout_seconds: how long the phone may take to scan; past it the link is stopped and the operation fails
    + link: False: only say whether it is linked (a warning if not), start nothing

    Nothing happens when signal-cli already holds ``account``, registered. The link fails, naming why, when the
    phone did not scan in time, signal-cli gave up, or the phone that scanned belongs to another number.
    """
    if not E164.fullmatch(account):
        raise OperationValueError(f"account {account!r} is not an E.164 number")
    if not 0 < timeout_seconds <= 3600:
        raise OperationValueError(f"timeout_seconds {timeout_seconds} is not between 1 and 3600")
    (accounts,) = read_facts((SignalCliAccounts, {"config_dir": cli.config_dir}))
    found = _registered(list(accounts), account)
    if found is not None:
        host.noop(f"signal-cli in {cli.config_dir} is linked to {account}")
        return
    if not link:
        # Said, not done: linking needs the operator's phone (deploys/signal_link.py).
        host.noop(f"signal-cli is not linked to {account} yet: run deploys/signal_link.py and scan what it shows")
        return
    unit = link_unit(cli)
    output = link_output(unit)
    yield StringCommand(
        "install -d -m 700 -o root -g root", quoted(LINK_OUTPUT_DIR), "&&",
        "{ systemctl stop", quoted(unit), "2>/dev/null; systemctl reset-failed", quoted(unit), "2>/dev/null; true; }",
    )  # fmt: skip
    # systemd opens the output file as root before the user switch: signal-cli never writes outside its config.
    yield StringCommand(
        "systemd-run --quiet --collect", quoted(f"--unit={unit}"),
        quoted(f"--uid={cli.user}"), quoted(f"--gid={cli.user}"),
        "-p", quoted(f"WorkingDirectory={posixpath.dirname(cli.config_dir)}"),
        "-p", quoted(f"StandardOutput=truncate:{output}"), "-p", "StandardError=inherit",
        # The link ends with the wait, however the wait ends.
        "-p", quoted(f"RuntimeMaxSec={timeout_seconds + URI_WAIT_SECONDS}"),
        quoted(f"--setenv=HOME={cli.home}"), quoted(f"--setenv=JAVA_HOME={cli.java_home}"),
        quoted(cli.bin), "--config", quoted(cli.config_dir), "link", "-n", quoted(device_name),
    )  # fmt: skip
    yield FunctionCommand(
        _link_awaited,
        (_connector_arguments(), account, unit, output, cli.config_dir, timeout_seconds),
        {},
    )


def _connector_arguments() -> dict[str, Any]:
    """The operation's sudo/su settings, for the commands its callback runs (pyinfra hands it none). Never a
    password: the callback's arguments are printed in pyinfra's debug output; sudo's comes from the connection."""
    arguments: dict[str, Any] = dict(host.current_op_global_arguments or {})
    names = ("_sudo", "_sudo_user", "_use_sudo_login", "_preserve_sudo_env", "_su_user")
    return {name: arguments[name] for name in names if arguments.get(name)}


class LinkProgress:
    """What a link's output says so far: the URI to scan, the number it was linked to, or why it stopped."""

    def __init__(self, lines: list[str]):
        text = "\n".join(lines)
        uri = LINK_URI.search(text)
        linked = LINKED_TO.search(text)
        self.uri = uri.group(0) if uri else None
        self.linked_to = linked.group(1) if linked else None
        # Whatever signal-cli said besides the URI ("Link request timed out, please try again.", a stack trace).
        self.said = [line for line in lines if line.strip() and not LINK_URI.search(line)]


def _link_awaited(
    state: Any,
    host: Any,
    arguments: dict[str, Any],
    account: str,
    unit: str,
    output: str,
    config_dir: str,
    timeout_seconds: int,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """While the run executes: the URI from the link's output logged for the operator, then its end awaited."""

    def read() -> tuple[LinkProgress, bool]:
        command = StringCommand("cat", quoted(output), "2>/dev/null; echo; systemctl is-active", quoted(unit))
        _, result = host.run_shell_command(command, **arguments)
        lines = list(result.stdout_lines)
        active = bool(lines) and lines[-1].strip() in ("active", "activating")
        return LinkProgress(lines[:-1]), active

    def stop() -> None:
        host.run_shell_command(StringCommand("systemctl stop", quoted(unit), "2>/dev/null; true"), **arguments)

    started = clock()
    progress, active = read()
    while progress.uri is None and active and clock() - started < URI_WAIT_SECONDS:
        sleep(POLL_SECONDS)
        progress, active = read()
    if progress.uri is None:
        stop()
        said = "; ".join(progress.said[-3:]) or "nothing"
        raise OperationError(f"signal-cli printed no link URI (it said: {said}); nothing was linked")
    logger.warning(
        f"{host.name}: link Signal account {account}: on its phone open Signal > Settings > Linked devices > "
        f"Link new device and scan this within {timeout_seconds} s (as a QR code: "
        f"qrencode -t ansiutf8 '<the URI>'):\n    {progress.uri}"
    )
    shown = clock()
    while progress.linked_to is None and active and clock() - shown < timeout_seconds:
        sleep(POLL_SECONDS)
        progress, active = read()
    if progress.linked_to is None:
        stop()
        if active:
            raise OperationError(
                f"the phone did not scan the link within {timeout_seconds} s; it was stopped. Run "
                "deploys/signal_link.py again and scan the new URI"
            )
        said = "; ".join(progress.said[-3:]) or "nothing"
        raise OperationError(f"signal-cli stopped before the phone confirmed the link: {said}")
    if progress.linked_to != account:
        raise OperationError(
            f"the phone that scanned is {progress.linked_to}'s, not {account}'s: signal-cli in {config_dir} now "
            f"holds {progress.linked_to}. Unlink it on that phone (Linked devices), then scan with {account}'s"
        )
    fact = SignalCliAccounts()
    _, listed = host.run_shell_command(fact.command(config_dir), **arguments)
    if _registered(fact.process(list(listed.stdout_lines)), account) is None:
        raise OperationError(f"signal-cli said it linked {account}, but {config_dir} holds no registered account")
    logger.info(f"{host.name}: signal-cli is linked to {account}")
