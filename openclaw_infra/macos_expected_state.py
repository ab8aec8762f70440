"""What a Mac deployed by ``deploys/macos_host.py`` must look like: one definition, read by the deploy's
verification (``verification.mac_host_verified``) and by the drift checks, as ``ExpectedState`` is for Linux.

launchd's view of each gateway's job, ``/health``, what listens (lsof), the modes of homes, state dirs, configs and
plists, the plist's checksum (it holds the secrets: a checksum only, never a value), the pinned releases, the
application firewall and pf, and who is in the ``docker`` group.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from typing_extensions import override

from openclaw_infra.expected_state import (
    DOCKER_GROUP,
    OUR_FACTS,
    Check,
    ExpectedState,
    FactRequest,
    mode_checks,
    owner_mode,
    secrets_checksum,
    serving_checks,
)
from openclaw_infra.firewall_policy import gateway_ports
from openclaw_infra.gateway_paths import MACOS_USER_GROUP, GatewayPaths
from openclaw_infra.host_settings import HostSettings
from openclaw_infra.operations import launchd_service, pf_firewall

HOME_MODE = 700


def plist_text(host_settings: HostSettings, paths: GatewayPaths, gateway_index: int) -> str:
    gateway = host_settings.settings.gateways[gateway_index]
    return str(
        launchd_service.plist_content(
            host_settings.settings, gateway, paths, host_settings.secrets_of(gateway)
        ).unmask()
    )


class MacExpectedState(ExpectedState):
    """The checks a Mac deployed with ``host_settings`` must pass: ``ExpectedState``'s, read from launchd, lsof,
    the plist, the application firewall and pf instead of systemd, ss and ufw."""

    def _pf_anchored(self) -> bool:
        return self.settings.firewall.enabled and any(gateway.bind != "loopback" for gateway in self.settings.gateways)

    @override
    def _host_requests(self) -> list[FactRequest]:
        settings = self.settings
        requests = [
            FactRequest(f"{OUR_FACTS}.ports.ListeningPorts"),
            FactRequest(f"{OUR_FACTS}.installed_versions.NodeVersion", (("path", f"{settings.node.prefix}/bin/node"),)),
            FactRequest(f"{OUR_FACTS}.installed_versions.OpenClawVersion", (("prefix", settings.openclaw.prefix),)),
            *(FactRequest("files.Directory", (("path", settings.home_of(user)),)) for user in settings.users),
        ]
        if settings.firewall.enabled:
            requests.append(FactRequest(f"{OUR_FACTS}.application_firewall.MacosApplicationFirewall"))
        if self._pf_anchored():
            requests += [
                FactRequest(f"{OUR_FACTS}.pf.PfEnabled"),
                FactRequest(f"{OUR_FACTS}.pf.PfAnchorRules", (("anchor", pf_firewall.ANCHOR),)),
            ]
        if settings.docker_sandbox:
            requests.append(FactRequest(f"{OUR_FACTS}.directory_services.MacosGroup", (("group", DOCKER_GROUP),)))
        return requests

    @override
    def _gateway_requests(self, paths: GatewayPaths, port: int) -> list[FactRequest]:
        job = (
            FactRequest(f"{OUR_FACTS}.launchctl.LaunchctlUserJob", (("label", paths.launchd_label), ("user", agent)))
            if (agent := paths.launch_agent_user)
            else FactRequest(f"{OUR_FACTS}.launchctl.LaunchctlJob", (("label", paths.launchd_label),))
        )
        return [
            job,
            FactRequest(
                f"{OUR_FACTS}.gateway_health.GatewayHealthCheck",
                (("port", port), ("wait_seconds", self.health_wait_seconds)),
            ),
            FactRequest("files.Directory", (("path", paths.state_dir),)),
            FactRequest("files.File", (("path", paths.config),)),
            FactRequest("files.File", (("path", paths.plist),)),
            FactRequest("files.Sha256File", (("path", paths.plist),)),
        ]

    @override
    def checks(self, values: Mapping[FactRequest, Any]) -> list[Check]:
        """Expected against found, from ``values``: each request's fact value in its printed (JSON) form."""
        settings = self.settings
        read = {request: values[request] for request in self._host_requests()}
        by_name = {request.fact.rpartition(".")[2]: value for request, value in read.items()}
        sockets = by_name["ListeningPorts"]
        checks = [
            Check("node version", settings.node.version, str(by_name["NodeVersion"] or "not installed")),
            Check("openclaw version", settings.openclaw.version, str(by_name["OpenClawVersion"] or "not installed")),
        ]
        for user in settings.users:
            home = settings.home_of(user)
            found = read[FactRequest("files.Directory", (("path", home),))]
            checks.append(Check(f"mode {home}", f"{user}:{MACOS_USER_GROUP} {HOME_MODE}", owner_mode(found)))
        if settings.firewall.enabled:
            checks.append(_application_firewall_check(by_name["MacosApplicationFirewall"]))
        if self._pf_anchored():
            content = pf_firewall.anchor_content(
                sorted(gateway_ports(settings)), [str(source) for source in settings.firewall.gateway_allowed_sources]
            )
            rules = by_name["PfAnchorRules"] or []
            checks += [
                Check("pf", "enabled", {True: "enabled", False: "disabled"}.get(by_name["PfEnabled"], "not found")),
                Check(
                    f"pf anchor {pf_firewall.ANCHOR}",
                    f"{pf_firewall.rule_count(content)} rules",
                    f"{len(rules)} rules",
                ),
            ]
        if settings.docker_sandbox:
            # Membership of docker is root on the host: only the gateways' service users may hold it.
            group = by_name["MacosGroup"]
            found_members = "no docker group" if group is None else (", ".join(sorted(group["members"])) or "nobody")
            checks.append(Check(f"{DOCKER_GROUP} group members", ", ".join(sorted(settings.users)), found_members))
        other_ports = {gateway.port for gateway in settings.gateways}
        for index, gateway in enumerate(settings.gateways):
            paths = GatewayPaths(settings, gateway)
            job, health, state_dir, config_file, plist_file, plist_sha = (
                values[request] for request in self._gateway_requests(paths, gateway.port)
            )
            checks += [
                _job_check(paths, job),
                *serving_checks(gateway, health, sockets, other_ports),
                *mode_checks(paths, state_dir, config_file, plist_file),
            ]
            wanted = secrets_checksum(plist_text(self.host_settings, paths, index))
            checks.append(Check(f"checksum {paths.plist}", wanted, f"sha256 {str(plist_sha or 'missing')[:12]}"))
        return checks


def _job_check(paths: GatewayPaths, job: Any) -> Check:
    domain = f"gui ({paths.launch_agent_user})" if paths.launch_agent_user else "system"
    wanted = f"running from {paths.plist}"
    if not job:
        found = "not loaded"
    elif job["path"] not in (None, paths.plist):
        found = f"loaded from {job['path']}"
    else:
        found = f"running from {paths.plist}" if job["state"] == "running" else f"{job['raw_state']}"
    return Check(f"launchd {domain} {paths.launchd_label}", wanted, found)


def _application_firewall_check(firewall: Any) -> Check:
    if firewall is None:
        return Check("application firewall", "on, stealth mode on", "socketfilterfw not found")
    found = ("on" if firewall["enabled"] else "off") + ", stealth mode " + ("on" if firewall["stealth_mode"] else "off")
    return Check("application firewall", "on, stealth mode on", found)
