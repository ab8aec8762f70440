"""
After a new OpenClaw release is switched in and the gateways restarted: every gateway healthy, or the previous
release and each gateway's config switched back, the gateways restarted and checked, and the deploy failed with
the evidence.

The health is read while the deploy runs, right after the restarts (``GatewayHealthCheck`` following each unit),
so a release that crashes at start is caught in seconds and one still starting is waited for.
"""

from __future__ import annotations

import dataclasses
import posixpath
from collections.abc import Generator
from pathlib import PurePosixPath

from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import OperationValueError
from pyinfra.api.operation import operation
from pyinfra.context import host, state

from openclaw_infra.facts.batch import read_facts
from openclaw_infra.facts.gateway_health import MAX_WAIT_SECONDS, GatewayHealthCheck
from openclaw_infra.gateway_paths import GatewayPaths
from openclaw_infra.operations.node_runtime import switch_link
from openclaw_infra.operations.verification import gateway_evidence
from openclaw_infra.quoting import quoted, shell_word


@dataclasses.dataclass(frozen=True)
class UpgradedGateway:
    paths: GatewayPaths
    port: int
    # The archive taken before the upgrade: its openclaw.json is the config the rollback puts back. None: the
    # gateway had no state to back up, its config stays.
    pre_upgrade_archive: str | None


def config_restored(gateway: UpgradedGateway) -> StringCommand:
    """The pre-upgrade archive's openclaw.json back in place (600, the gateway user's), if the archive exists."""
    archive = gateway.pre_upgrade_archive
    assert archive is not None
    paths = gateway.paths
    member_pattern = "*/payload/posix" + shell_word(paths.config)
    staged = quoted(f"{paths.config}.rollback")
    return StringCommand(
        "if [ -f", quoted(archive), "]; then",
        "member=$(tar -tzf", quoted(archive), '| while IFS= read -r m; do case "$m" in', member_pattern,
        ') echo "$m"; break ;; esac; done)',
        '&& [ -n "$member" ] && tar -xzOf', quoted(archive), '"$member" >', staged,
        "&& chown", quoted(f"{paths.user}:{paths.group}"), staged, "&& chmod 600", staged,
        "&& mv -f", staged, quoted(paths.config),
        "&& echo", quoted(f"{paths.config} restored from {archive}"), "; fi",
    )  # fmt: skip


def _health_line(gateway: UpgradedGateway, wait_seconds: int) -> StringCommand:
    """Prints '<unit>: <seconds> <answer>' once the restarted gateway answers or the wait ends."""
    check = GatewayHealthCheck().command(port=gateway.port, wait_seconds=wait_seconds, service=gateway.paths.unit_name)
    return StringCommand("echo", quoted(f"{gateway.paths.unit_name} after the rollback:"), "$(", check, ")")


@operation(is_idempotent=False)
def upgrade_healthy_or_rolled_back(
    version: str,
    prefix: str,
    previous_release: str | None,
    gateways: list[UpgradedGateway],
    platform: str = "linux",
    health_wait_seconds: int = 60,
) -> Generator[StringCommand, None, None]:
    """
    Fail unless every gateway answers ``/health`` after the switch to OpenClaw ``version``; first roll back.

    The rollback points ``prefix`` at ``previous_release`` again, puts each gateway's ``openclaw.json`` back from
    its pre-upgrade archive, restarts the gateways, prints their health and the failed release's evidence (unit
    state, journal, error log), and fails the deploy. The failed release stays installed beside it.

    + version: the release just switched in
    + prefix: the ``/opt/openclaw`` link
    + previous_release: the release directory the link named before the upgrade; None: a first install, nothing
      to roll back to (the deploy fails with the evidence only)
    + gateways: the host's gateways, with the archive each took before the upgrade
    + platform: ``linux`` (systemd) only
    + health_wait_seconds: how long a gateway that is not visibly starting may take to answer

    Checked while the deploy runs, after the restarts; planned, it does nothing.
    """
    if platform != "linux":
        raise OperationValueError("the upgrade's health check and rollback follow systemd units: linux only")
    if not state.is_executing:
        host.noop(f"the gateways' health on OpenClaw {version} is checked after the restart")
        return
    health = read_facts(
        *(
            (
                GatewayHealthCheck,
                {"port": gateway.port, "wait_seconds": health_wait_seconds,
                 "service": gateway.paths.unit_name, "max_wait_seconds": MAX_WAIT_SECONDS},
            )
            for gateway in gateways
        )
    )  # fmt: skip
    found = zip(gateways, health, strict=True)
    failing = {gateway.paths.unit_name: answer.answer for gateway, answer in found if not answer.healthy}
    if not failing:
        host.noop(f"OpenClaw {version}: every gateway healthy after the upgrade")
        return
    reasons = "; ".join(f"{unit}: {answer}" for unit, answer in failing.items())
    evidence = [word for gateway in gateways for word in gateway_evidence(gateway.paths)]
    if previous_release is None:
        yield StringCommand(
            "{", *evidence, "echo", quoted(f"OpenClaw {version} is unhealthy ({reasons}); no previous release"),
            ";", "}", ">&2", ";", "exit 1",
        )  # fmt: skip
        return
    units = [quoted(gateway.paths.unit_name) for gateway in gateways]
    message = (
        f"upgrade to OpenClaw {version} failed its health check ({reasons}); rolled back to "
        f"{posixpath.basename(previous_release)} and the pre-upgrade config. {version} is kept in "
        f"{prefix}-{version} for inspection. Fix: pin the release that runs (openclaw_openclaw.version) or one "
        "that works; until then every deploy tries this upgrade again"
    )
    # One command: pyinfra shows the output of the command that fails, so the failed release's evidence (read
    # before the restart) is printed with the rollback's outcome at the end.
    restored = [word for gateway in gateways if gateway.pre_upgrade_archive for word in (config_restored(gateway), ";")]
    health = [word for gateway in gateways for word in (_health_line(gateway, health_wait_seconds), ";")]
    yield StringCommand(
        'evidence=$({', *evidence, "} 2>&1);",
        switch_link(PurePosixPath(prefix), previous_release, "linux"), ";",
        *restored,
        "systemctl restart", *units, ";",
        "{", "echo", quoted(f"=== evidence from OpenClaw {version}:"), ';', 'printf "%s\\n" "$evidence";',
        "echo", quoted("=== after the rollback:"), ";", *health,
        "echo", quoted(message), ";", "}", ">&2", ";", "exit 1",
    )  # fmt: skip
