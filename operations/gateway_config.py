"""openclaw.json: rendered from the template, validated by the installed OpenClaw before it replaces anything."""

from __future__ import annotations

import copy
import hashlib
import json
import posixpath
from collections.abc import Generator, Mapping, Sequence
from typing import Any

from pyinfra.api.command import PyinfraCommand, StringCommand
from pyinfra.api.exceptions import OperationValueError
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.facts.files import File, Sha256File

from openclaw_infra import local_admin_agent, signal_channel
from openclaw_infra.facts.batch import read_facts
from openclaw_infra.operations.docker_images import SANDBOX_IMAGE
from openclaw_infra.operations.file_ownership import ownership_fixes
from openclaw_infra.operations.private_upload import private_upload
from openclaw_infra.operations.reverse_proxy import PROXY_SOURCE_ADDRESS
from openclaw_infra.quoting import quoted
from openclaw_infra.rendering import render
from openclaw_infra.settings import Gateway, Settings

BACKUPS_KEPT = 5
PLATFORMS = ("linux", "darwin")


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def gateway_config_content(
    *,
    bind: str,
    port: int,
    auth_mode: str,
    pruning_enabled: bool,
    prune_after_days: int,
    max_entries: int,
    extra_config: Mapping[str, Any],
    sandbox: Mapping[str, str] | None = None,
    trusted_proxies: Sequence[str] = (),
) -> str:
    """The managed openclaw.json: the template's keys, with ``extra_config`` merged over them."""
    rendered = render(
        "openclaw/openclaw.json.j2",
        sandbox=sandbox,
        trusted_proxies=list(trusted_proxies),
        bind=bind,
        port=port,
        auth_mode=auth_mode,
        pruning_enabled=pruning_enabled,
        prune_after_days=prune_after_days,
        max_entries=max_entries,
    )
    return json.dumps(_merge(json.loads(rendered), extra_config), indent=2, sort_keys=True) + "\n"


def content_for(settings: Settings, gateway: Gateway) -> str:
    """``gateway``'s openclaw.json as ``settings`` make it, on every platform."""
    pruning = settings.transcript_pruning
    proxied = [proxied_gateway for proxied_gateway, _ in settings.proxied_gateways()]
    # openclaw_signal's channel (none unless this gateway carries it), extra_config over it.
    extra = _merge(signal_channel.channel_config(settings, gateway), gateway.extra_config)
    # The local admin agent (none unless this gateway carries it), extra_config over it: the operator's own
    # bindings replace the deploy's (the settings refuse any that reach the admin agent).
    channels = extra.get("channels")
    extra = _merge(
        local_admin_agent.agent_config(settings, gateway, channels if isinstance(channels, dict) else {}), extra
    )
    return gateway_config_content(
        # A containerized gateway listens on every address of its container's own network namespace; Docker
        # publishes the port on the host's loopback only (the settings refuse any other bind there).
        bind="lan" if settings.isolation == "docker-containerized" else gateway.bind,
        port=gateway.port,
        auth_mode=gateway.auth_mode,
        pruning_enabled=pruning.enabled,
        prune_after_days=pruning.prune_after_days,
        max_entries=pruning.max_entries,
        extra_config=extra,
        sandbox=agent_sandbox(settings),
        # Behind the proxy: its forwarded client address is believed from it alone (the guide's trustedProxies).
        trusted_proxies=[PROXY_SOURCE_ADDRESS] if gateway in proxied else [],
    )


def agent_sandbox(settings: Settings) -> dict[str, str] | None:
    """``agents.defaults.sandbox`` for a Linux host with the Docker sandbox: the image the deploy builds and the
    network the settings name. (A Mac's Docker runs in a VM the deploy makes no networks in: none there yet.)"""
    if not (settings.docker_sandbox and settings.os_family == "linux"):
        return None
    sandbox = settings.sandbox
    return {
        "mode": sandbox.mode,
        "scope": sandbox.scope,
        "workspace_access": sandbox.workspace_access,
        "image": SANDBOX_IMAGE,
        "network": sandbox.network,
    }


def replaces_existing(path: str, content: str) -> bool:
    """Whether ``gateway_config`` would replace an existing file at ``path`` with a different ``content``."""
    present, present_sha = read_facts((File, {"path": path}), (Sha256File, {"path": path}))
    return bool(present) and present_sha != hashlib.sha256(content.encode()).hexdigest()


@operation()
def gateway_config(
    path: str,
    content: str,
    user: str,
    group: str,
    openclaw_bin: str,
    node_bin_dir: str,
    state_dir: str,
    platform: str = "linux",
) -> Generator[PyinfraCommand, None, None]:
    """
    Install ``content`` as the gateway's config at ``path`` (mode 600, owned by ``user``).

    The new file is staged beside the old one and checked with ``openclaw config validate`` as ``user``; a config
    OpenClaw rejects fails the operation and leaves the running config in place. The replaced file is kept as
    ``openclaw.json.bak-<sha>`` (the last five).

    + path: the config file (``<state_dir>/openclaw.json``)
    + content: the whole file, e.g. from ``gateway_config_content``
    + user, group: owner of the file (the gateway's service user)
    + openclaw_bin: the installed ``openclaw`` executable used to validate
    + node_bin_dir: directory holding ``node`` (``openclaw`` runs through ``/usr/bin/env node``)
    + state_dir: the gateway's ``OPENCLAW_STATE_DIR``
    + platform: ``linux``, or ``darwin`` (macOS: ``sudo -u`` for ``runuser``, no GNU ``env``/``xargs`` options)
    """
    if not posixpath.isabs(path):
        raise OperationValueError(f"path {path!r} must be absolute")
    if platform not in PLATFORMS:
        raise OperationValueError(f"platform {platform!r} is not one of {', '.join(PLATFORMS)}")
    wanted_sha = hashlib.sha256(content.encode()).hexdigest()
    present, present_sha = read_facts((File, {"path": path}), (Sha256File, {"path": path}))

    if present and present_sha == wanted_sha:
        fixes = ownership_fixes(path, present, user, group, 600)
        if not fixes:
            host.noop(f"{path} is up to date")
        yield from fixes
        return

    staged = f"{path}.pyinfra-new"
    yield from private_upload(content, staged)
    yield StringCommand("chown", quoted(f"{user}:{group}"), quoted(staged))
    # Validation runs as the service user so nothing it writes under the state dir ends up owned by root.
    # Each option and NAME=value is one quoted word: env splits nothing, the shell sees no ';' or space.
    environment = (
        quoted(f"PATH={node_bin_dir}:/usr/bin:/bin"),
        quoted(f"OPENCLAW_STATE_DIR={state_dir}"), quoted(f"OPENCLAW_CONFIG_PATH={staged}"),
    )  # fmt: skip
    if platform == "linux":
        # --chdir: the connection's cwd (root's home) is closed to the service user; node's spawn would fail.
        as_user = StringCommand(
            "runuser", "-u", quoted(user), "--", "env", quoted(f"--chdir={state_dir}"), *environment
        )
    else:
        # macOS has no runuser, and its env no --chdir; sudo keeps the working directory it is started in.
        as_user = StringCommand("cd", quoted(state_dir), "&&", "sudo", "-u", quoted(user), "env", *environment)
    yield StringCommand(
        as_user, quoted(openclaw_bin), "config", "validate", "--json",
        ">/dev/null", "||", "{", "rm", "-f", quoted(staged), ";",
        "echo", quoted(f"openclaw rejected the new {path}; the running config is unchanged"), ">&2", ";",
        "exit", "1", ";", "}",
    )  # fmt: skip
    if present:
        backup = f"{path}.bak-{(present_sha or 'unknown')[:12]}"
        yield StringCommand("cp", "-p", quoted(path), quoted(backup))
        # Keep the newest backups only; they hold no secrets (${VAR} references) but do grow.
        # The path quoted and the glob after it not, in one word; one name a line (a path may hold spaces or
        # quotes): GNU xargs splits on newlines only with -d, BSD xargs has no -d, so macOS reads them in a loop.
        remove_each = (
            ("xargs", "-r", "-d", r"'\n'", "rm", "-f", "--")
            if platform == "linux"
            else ("while", "IFS=", "read", "-r", "old;", "do", "rm", "-f", "--", '"$old";', "done")
        )
        yield StringCommand(
            "ls", "-1t", StringCommand(quoted(path), ".bak-*", _separator=""),
            "|", "tail", "-n", f"+{BACKUPS_KEPT + 1}", "|", *remove_each,
        )  # fmt: skip
    yield StringCommand("mv", "-f", quoted(staged), quoted(path))
