"""What "still matches the deploy" means for one host, as checks of expected against found.

Two sources, both read-only: pyinfra's own plan for the deploys (``--dry --json``: every operation that would
change something is drift), and the verification facts (service, health, listeners, modes, firewall, versions),
read through the real ``pyinfra … fact … --json``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openclaw_infra.gateway_paths import GatewayPaths
from openclaw_infra.host_settings import HostSettings
from openclaw_infra.operations.secret_files import environment_file_content

# The pyinfra CLI of this environment (benchmarks/drift_check.py swaps in an instrumented one).
PYINFRA_COMMAND = [str(Path(sys.executable).parent / "pyinfra")]
HEALTH_WAIT_SECONDS = 5
# What pyinfra prints when a fact could not be read; its --json then shows the fact's default instead.
FACT_FAILURE_MARKERS = ("could not load fact", "could not process fact")


@dataclasses.dataclass(frozen=True)
class Check:
    check: str
    expected: str
    found: str

    @property
    def ok(self) -> bool:
        return self.expected == self.found


@dataclasses.dataclass(frozen=True)
class HostResult:
    host: str
    checks: tuple[Check, ...] = ()
    # Why the host could not be checked (unreachable, auth failure, a failing fact); None when it was.
    error: str | None = None

    @property
    def status(self) -> str:
        if self.error is not None:
            return "unchecked"
        return "drift" if any(not check.ok for check in self.checks) else "ok"


class HostUnchecked(RuntimeError):
    pass


def fact_failures(stderr: str) -> list[str]:
    """The lines where pyinfra says a fact could not be read (its --json then shows the fact's default)."""
    return [line for line in stderr.splitlines() if any(marker in line for marker in FACT_FAILURE_MARKERS)]


def _pyinfra(inventory: str, host_name: str, args: Sequence[str], cwd: Path) -> str:
    result = subprocess.run(
        [*PYINFRA_COMMAND, inventory, "--limit", host_name, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=900,
        check=False,
    )
    if result.returncode != 0 or fact_failures(result.stderr) or not result.stdout.strip():
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        reason = next((line for line in lines if "rror" in line or "Could not" in line), lines[-1] if lines else "")
        raise HostUnchecked(f"pyinfra {' '.join(args[:1])} exited {result.returncode}: {reason}")
    return result.stdout


def plan_checks(inventory: str, host_name: str, deploys: Sequence[str], cwd: Path) -> list[Check]:
    """One check per operation of ``deploys`` that would change the host (no ``-y``: pyinfra must detect)."""
    plan = json.loads(_pyinfra(inventory, host_name, ["--dry", "--json", *deploys], cwd))["plan"]
    return [
        Check(check=f"plan: {operation['name']}", expected="no change", found="would change")
        for operation in plan
        if host_name in operation.get("hosts_with_change", ())
    ]


@dataclasses.dataclass(frozen=True)
class _FactRequest:
    fact: str
    args: tuple[tuple[str, object], ...] = ()

    def words(self) -> list[str]:
        return [self.fact, *(f"{key}={value}" for key, value in self.args)]


def _owner_mode(found: Any) -> str:
    if not found:
        return "missing"
    return f"{found['user']}:{found['group']} {found['mode']}"


def fact_checks(inventory: str, host_settings: HostSettings, cwd: Path) -> list[Check]:
    """Service, health, listeners, file modes, secrets checksum, firewall and versions, read in one pyinfra run."""
    settings = host_settings.settings
    requests: list[_FactRequest] = [
        _FactRequest("openclaw_infra.facts.ports.ListeningPorts"),
        _FactRequest(
            "openclaw_infra.facts.installed_versions.NodeVersion", (("path", f"{settings.node.prefix}/bin/node"),)
        ),
        _FactRequest(
            "openclaw_infra.facts.installed_versions.OpenClawVersion", (("prefix", settings.openclaw.prefix),)
        ),
    ]
    if settings.firewall.enabled:
        requests.append(_FactRequest("openclaw_infra.facts.ufw.UfwStatus"))
    for gateway in settings.gateways:
        paths = GatewayPaths(settings, gateway)
        requests += [
            _FactRequest("systemd.SystemdStatus", (("services", f"{gateway.service_name}.service"),)),
            _FactRequest(
                "openclaw_infra.facts.gateway_health.GatewayHealthCheck",
                (("port", gateway.port), ("wait_seconds", HEALTH_WAIT_SECONDS)),
            ),
            _FactRequest("files.Directory", (("path", paths.state_dir),)),
            _FactRequest("files.File", (("path", paths.config),)),
            _FactRequest("files.File", (("path", paths.secrets),)),
            _FactRequest("files.Sha256File", (("path", paths.secrets),)),
        ]
    words = [word for request in requests for word in request.words()]
    printed = json.loads(_pyinfra(inventory, host_settings.host_name, ["fact", *words, "--json"], cwd))
    values = iter(by_host.get(host_settings.host_name) for by_host in printed.values())
    if len(printed) != len(requests):
        raise HostUnchecked(f"pyinfra printed {len(printed)} facts for {len(requests)} requested")

    sockets, node_version, openclaw_version = next(values), next(values), next(values)
    checks = [
        Check("node version", settings.node.version, str(node_version or "not installed")),
        Check("openclaw version", settings.openclaw.version, str(openclaw_version or "not installed")),
    ]
    if settings.firewall.enabled:
        ufw = next(values)
        found = "not installed" if ufw is None else ("active" if ufw["active"] else "inactive")
        if ufw and ufw["active"]:
            found += f", incoming {ufw['default_incoming']}, outgoing {ufw['default_outgoing']}"
        checks.append(Check("firewall (ufw)", "active, incoming deny, outgoing allow", found))
    for gateway in settings.gateways:
        paths = GatewayPaths(settings, gateway)
        service, health, state, config_file, secrets_file, secrets_sha = (next(values) for _ in range(6))
        unit = f"{gateway.service_name}.service"
        checks.append(Check(f"service {unit}", "active", "active" if (service or {}).get(unit) else "not active"))
        checks.append(
            Check(f"health 127.0.0.1:{gateway.port}", "ok", "ok" if health and health["healthy"] else "no answer")
        )
        listeners = sorted(
            {f"{socket['address']}:{socket['port']}" for socket in sockets or [] if socket["port"] == gateway.port}
        )
        beyond = [s for s in sockets or [] if s["port"] == gateway.port and not s["loopback"]]
        listening = "nothing" if not listeners else ("loopback only" if not beyond else ", ".join(listeners))
        checks.append(Check(f"listening :{gateway.port}", "loopback only", listening))
        found_modes = {paths.state_dir: state, paths.config: config_file, paths.secrets: secrets_file}
        for path, (user, group, mode) in paths.expected_modes().items():
            checks.append(Check(f"mode {path}", f"{user}:{group} {mode}", _owner_mode(found_modes[path])))
        # Checksums only, shortened: a report says that the secrets changed, never what they are.
        wanted = hashlib.sha256(environment_file_content(host_settings.secrets_of(gateway)).encode()).hexdigest()[:12]
        found_sha = f"sha256 {str(secrets_sha or 'missing')[:12]}"
        checks.append(Check(f"checksum {paths.secrets}", f"sha256 {wanted}", found_sha))
    return checks


def check_host(inventory: str, host_settings: HostSettings, deploys: Sequence[str], cwd: Path) -> HostResult:
    try:
        checks = plan_checks(inventory, host_settings.host_name, deploys, cwd) if deploys else []
        checks += fact_checks(inventory, host_settings, cwd)
    except (HostUnchecked, subprocess.TimeoutExpired, ValueError) as error:
        return HostResult(host_settings.host_name, error=str(error))
    return HostResult(host_settings.host_name, tuple(checks))
