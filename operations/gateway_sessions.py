"""The guide's "Session reset" and "Audit", on the pinned release's own CLI.

2026.9.6 has no ``openclaw sessions reset``: a reset deletes every stored session through the running gateway
(``openclaw sessions delete … --yes``), which ends them and archives each transcript beside the store
(``agents/<id>/sessions/*.deleted.*``), kept for the audit. An audit bundle gathers the gateway's logs, its
journal, the session list, each session's redacted trajectory (``openclaw sessions export-trajectory``) and the
config, with every credential-like config value and every value of the secrets file masked.
"""

from __future__ import annotations

import posixpath
from collections.abc import Generator
from itertools import groupby

from pyinfra.api.command import PyinfraCommand, StringCommand
from pyinfra.api.exceptions import OperationValueError
from pyinfra.api.operation import operation
from pyinfra.context import host

from openclaw_infra.facts.batch import read_facts
from openclaw_infra.facts.gateway_sessions import GatewaySessions
from openclaw_infra.gateway_cli import GatewayCli
from openclaw_infra.operations.gateway_backup import SUFFIX
from openclaw_infra.operations.private_upload import private_upload
from openclaw_infra.quoting import quoted
from openclaw_infra.rendering import template_text

MASK_SCRIPT = "audit/mask-secrets.mjs"


@operation(is_idempotent=False)
def sessions_reset(gateway: GatewayCli) -> Generator[StringCommand, None, None]:
    """
    Delete every session of every agent of the gateway, through the running gateway; transcripts are archived by
    OpenClaw, not removed. A gateway with no session changes nothing.

    + gateway: the gateway as its CLI sees it (its user, state dir, root-only secrets file, port, profile)
    """
    cli = gateway.command()
    (sessions,) = read_facts((GatewaySessions, gateway.fact_arguments()))
    if not sessions:
        host.noop(f"no session stored under {gateway.state_dir}")
        return
    for agent, owned in groupby(sorted(sessions, key=lambda session: session.agent_id), lambda s: s.agent_id):
        keys = [quoted(session.key) for session in owned]
        yield StringCommand(
            cli, "sessions delete", *keys, "--agent", quoted(agent), "--yes --json >/dev/null",
            "&& echo", quoted(f"agent {agent}: {len(keys)} session(s) deleted, transcripts archived"),
        )  # fmt: skip


@operation(is_idempotent=False)
def audit_bundle_collected(archive: str, unit_name: str, gateway: GatewayCli) -> Generator[PyinfraCommand, None, None]:
    """
    Gather the gateway's audit bundle into ``archive`` (a ``.tar.gz``, root's, 600, in its 700 directory):
    ``logs/`` (its log files), ``journal.txt`` (its unit's journal), ``sessions/list.json``,
    ``sessions/trajectories/`` (each session's redacted export), ``sessions/archived-transcripts.txt`` (the
    archived transcripts on the host, listed), ``config/openclaw.json`` (masked). Every value of the secrets
    file is masked in every file of it.

    + archive: where the bundle goes on the host
    + unit_name: the gateway's systemd unit (its journal)
    + gateway: the gateway as its CLI sees it (its user, state dir, root-only secrets file, port, profile)
    """
    if not archive.endswith(SUFFIX) or not posixpath.isabs(archive):
        raise OperationValueError(f"archive {archive!r} must be an absolute path ending in {SUFFIX}")
    cli = gateway.command()
    (sessions,) = read_facts((GatewaySessions, gateway.fact_arguments()))
    directory = posixpath.dirname(archive)
    script = posixpath.join(directory, ".mask-secrets.mjs")
    yield StringCommand("install -d -m 700 -o root -g root", quoted(posixpath.dirname(directory)), quoted(directory))
    yield from private_upload(template_text(MASK_SCRIPT), script)
    bundle, exports = '"$bundle"', '"$exports"'
    secrets, node = gateway.secrets_file, quoted(posixpath.join(gateway.node_bin_dir, "node"))
    config = quoted(posixpath.join(gateway.state_dir, "openclaw.json"))
    sessions_dir = StringCommand(quoted(posixpath.join(gateway.state_dir, "agents")), "/*/sessions/", _separator="")
    collect = [
        StringCommand("bundle=$(mktemp -d", quoted(f"{directory}/.audit.XXXXXX"), ")"),
        StringCommand("exports=$(runuser -u", quoted(gateway.user), "-- mktemp -d)"),
        StringCommand("trap", quoted('rm -rf "$bundle" "$exports"'), "EXIT"),
        StringCommand("mkdir -p", f"{bundle}/logs", f"{bundle}/sessions/trajectories"),
        StringCommand("find", quoted(posixpath.join(gateway.state_dir, "logs")), "-maxdepth 1 -type f -exec cp -p {}",
                      f"{bundle}/logs/", "';'", "2>/dev/null || true"),
        StringCommand("journalctl --no-pager -o short-iso -u", quoted(unit_name), ">", f"{bundle}/journal.txt",
                      "2>&1 || true"),
        StringCommand(cli, "sessions --all-agents --json --limit all >", f"{bundle}/sessions/list.json"),
        *(
            StringCommand(cli, "sessions export-trajectory --agent", quoted(session.agent_id), "--session-key",
                          quoted(session.key), "--workspace", exports, "--output", f"session-{index}",
                          "--json >/dev/null || echo", quoted(f"export of {session.key} failed"), ">>",
                          f"{bundle}/sessions/export-errors.txt")
            for index, session in enumerate(sessions, start=1)
        ),
        StringCommand("if [ -d", f"{exports}/.openclaw/trajectory-exports", "]; then cp -R",
                      f"{exports}/.openclaw/trajectory-exports/.", f"{bundle}/sessions/trajectories/; fi"),
        StringCommand("ls -la --time-style=full-iso", sessions_dir, ">", f"{bundle}/sessions/archived-transcripts.txt",
                      "2>&1 || true"),
        StringCommand("systemd-run --quiet --pipe --wait --collect -p", quoted(f"EnvironmentFile={secrets}"), node,
                      quoted(script), quoted(secrets), config, bundle),
        StringCommand("chown -R root:root", bundle, "&& chmod -R go-rwx", bundle, "&& tar -czf",
                      quoted(f"{archive}.partial"), "-C", bundle, ". && chmod 600", quoted(f"{archive}.partial"),
                      "&& mv -f", quoted(f"{archive}.partial"), quoted(archive),
                      "&& echo", quoted(f"audit bundle of {gateway.state_dir}: {archive}")),
    ]  # fmt: skip
    # One shell: the staging directories live in its variables and its trap removes them, whatever fails.
    yield StringCommand("set -e;", *(word for command in collect for word in (command, ";")))
