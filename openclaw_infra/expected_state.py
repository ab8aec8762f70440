"""What a deployed host must look like: one definition, read by the deploy's verification (right after it ran)
and by the drift checks (any time later).

``ExpectedState`` names the facts to read (``requests``) and turns what they returned into checks of expected
against found (``checks``). The values are taken in the JSON form ``pyinfra … fact … --json`` prints, so the
verification (which reads facts inside an operation), the drift command (which reads them through
``host.get_fact`` in one pyinfra run for all hosts) and the testinfra suite decide from the same data with the
same code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from importlib import import_module
from typing import Any

from pyinfra.api.facts import FactBase

from openclaw_infra.facts.ufw import UfwRule
from openclaw_infra.firewall_policy import exposing_rules, firewalled_ports, localhost_only_ports
from openclaw_infra.gateway_binds import BIND_LISTENERS, listens_as_bound
from openclaw_infra.gateway_paths import GatewayPaths
from openclaw_infra.host_settings import HostSettings
from openclaw_infra.operations import agent_sandbox, gateway_service
from openclaw_infra.operations import reverse_proxy as proxy
from openclaw_infra.operations.docker_images import SANDBOX_IMAGE
from openclaw_infra.operations.gateway_service import unit_properties_query
from openclaw_infra.secrets_file import environment_file_content
from openclaw_infra.settings import Gateway, Settings

OUR_FACTS = "openclaw_infra.facts"
# The agents' sandbox networks (the guide's names): internal, and the one with an egress allowlist.
SANDBOX_NETWORK = "openclaw-sandbox"
EGRESS_NETWORK = "openclaw-egress"
DOCKER_GROUP = "docker"


@dataclasses.dataclass(frozen=True)
class FactRequest:
    """One fact and its arguments, as pyinfra's CLI takes them (``files.File path=/x``)."""

    fact: str
    args: tuple[tuple[str, object], ...] = ()

    def cli_words(self) -> list[str]:
        return [self.fact, *(f"{key}={value}" for key, value in self.args)]

    def resolve(self) -> tuple[type[FactBase[Any]], dict[str, Any]]:
        """The fact class and keyword arguments, as pyinfra's CLI reads ``cli_words`` (short names are
        pyinfra's own facts; the arguments are already the ints and strings the CLI would parse them to)."""
        module, _, name = self.fact.rpartition(".")
        if not module.startswith(f"{OUR_FACTS}."):
            module = f"pyinfra.facts.{module}"
        fact_class: type[FactBase[Any]] = getattr(import_module(module), name)
        return fact_class, dict(self.args)


def _printed_form(value: Any) -> Any:
    # What pyinfra's CLI encoder does for the values our facts return (not imported: importing pyinfra_cli
    # monkey-patches the whole process with gevent, which a library must not do to its importer).
    if hasattr(value, "to_json"):
        return value.to_json()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, set):
        return sorted(value)
    raise TypeError(f"cannot print a {type(value).__name__} as pyinfra's --json does")


def as_printed(value: Any) -> Any:
    """A fact's value in the form ``pyinfra … fact … --json`` prints it."""
    return json.loads(json.dumps(value, default=_printed_form))


@dataclasses.dataclass(frozen=True)
class Check:
    check: str
    expected: str
    found: str
    # For checks of a bound ("at most 1.5"): the verdict, since found then differs from expected when it holds.
    within: bool | None = dataclasses.field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.within if self.within is not None else self.expected == self.found


def owner_mode(found: Any) -> str:
    if not found:
        return "missing"
    return f"{found['user']}:{found['group']} {found['mode']}"


def secrets_checksum(content: str) -> str:
    """How a report names a secrets file's content: a short checksum, never the values."""
    return f"sha256 {hashlib.sha256(content.encode()).hexdigest()[:12]}"


class ExpectedState:
    """The checks a host deployed with ``host_settings`` must pass.

    + health_wait_seconds: how long a gateway may take to answer ``/health`` (long right after a restart, short
      for a drift check of a gateway that should have been up for hours)
    """

    def __init__(self, host_settings: HostSettings, health_wait_seconds: int):
        self.host_settings = host_settings
        self.settings = host_settings.settings
        self.health_wait_seconds = health_wait_seconds

    def _host_requests(self) -> list[FactRequest]:
        settings = self.settings
        requests = [
            FactRequest(f"{OUR_FACTS}.ports.ListeningPorts"),
            FactRequest(f"{OUR_FACTS}.installed_versions.NodeVersion", (("path", f"{settings.node.prefix}/bin/node"),)),
            FactRequest(f"{OUR_FACTS}.installed_versions.OpenClawVersion", (("prefix", settings.openclaw.prefix),)),
        ]
        for user in settings.users:
            home = settings.home_of(user)
            requests.append(
                FactRequest(f"{OUR_FACTS}.file_tree.ForeignEntries", (("path", home), ("user", user), ("group", user)))
            )
        if settings.firewall.enabled:
            requests.append(FactRequest(f"{OUR_FACTS}.ufw.UfwStatus"))
        if settings.docker_sandbox:
            requests += [
                FactRequest(f"{OUR_FACTS}.accounts.GroupMembers", (("group", DOCKER_GROUP),)),
                FactRequest(f"{OUR_FACTS}.docker_networks.DockerNetworks"),
                FactRequest(f"{OUR_FACTS}.docker_containers.DockerImage", (("reference", SANDBOX_IMAGE),)),
                FactRequest(
                    f"{OUR_FACTS}.nftables.NftTableDigest",
                    (("family", agent_sandbox.NFT_FAMILY), ("table", agent_sandbox.NFT_TABLE)),
                ),
                FactRequest("files.FileContents", (("path", agent_sandbox.LOADED_DIGEST_FILE),)),
            ]
        return requests

    def _gateway_requests(self, paths: GatewayPaths, port: int) -> list[FactRequest]:
        unit = (("unit", paths.unit_name),)
        return [
            FactRequest("systemd.SystemdStatus", (("services", paths.unit_name),)),
            *self._health_and_files_requests(paths, port),
            FactRequest(f"{OUR_FACTS}.systemd_unit.SystemdUnitState", (*unit, ("properties", unit_properties_query()))),
            FactRequest(f"{OUR_FACTS}.systemd_unit.SystemdSecurityExposure", unit),
            stray_secrets_request(paths),
        ]

    def _health_and_files_requests(self, paths: GatewayPaths, port: int) -> list[FactRequest]:
        """``/health``, then the state dir, the config and the root-only secrets file (modes and checksum)."""
        return [
            FactRequest(
                f"{OUR_FACTS}.gateway_health.GatewayHealthCheck",
                (("port", port), ("wait_seconds", self.health_wait_seconds)),
            ),
            FactRequest("files.Directory", (("path", paths.state_dir),)),
            FactRequest("files.File", (("path", paths.config),)),
            FactRequest("files.File", (("path", paths.secrets),)),
            FactRequest("files.Sha256File", (("path", paths.secrets),)),
        ]

    def requests(self) -> list[FactRequest]:
        """Every fact the checks need, each once, in the order they must be read (``in_reading_order``)."""
        per_gateway = [
            self._gateway_requests(GatewayPaths(self.settings, gateway), gateway.port)
            for gateway in self.settings.gateways
        ]
        return in_reading_order(per_gateway, [*self._host_requests(), *self._proxy_requests()])

    def _proxy_requests(self) -> list[FactRequest]:
        """nginx's unit, its file (checksum, owner, mode), the certificate's key and the certificate itself."""
        settings = self.settings
        if settings.reverse_proxy is None:
            return []
        certificate = [("certificate", proxy.CERTIFICATE), ("key", proxy.CERTIFICATE_KEY)]
        if settings.reverse_proxy.tls == "local-ca":
            certificate.append(("ca", f"{proxy.CA_DIR}/ca.crt"))
        return [
            FactRequest("systemd.SystemdStatus", (("services", proxy.NGINX_SERVICE),)),
            FactRequest("files.Sha256File", (("path", proxy.NGINX_CONFIG),)),
            FactRequest("files.File", (("path", proxy.NGINX_CONFIG),)),
            FactRequest("files.File", (("path", proxy.CERTIFICATE_KEY),)),
            FactRequest(f"{OUR_FACTS}.tls_certificate.TlsCertificate", tuple(certificate)),
        ]

    def _proxy_checks(self, values: Mapping[FactRequest, Any], sockets: Any) -> list[Check]:
        """nginx serving the deployed file with the certificate it should, on each HTTPS port."""
        proxy_settings = self.settings.reverse_proxy
        if proxy_settings is None:
            return []
        service, config_sha, config_file, key_file, certificate = (
            values[request] for request in self._proxy_requests()
        )
        wanted_sha = hashlib.sha256(proxy.content_for(self.settings).encode()).hexdigest()
        # The host's CA signs it for the names of the settings; the operator's own carries whatever names it has.
        names = proxy_settings.certificate_names if proxy_settings.tls == "local-ca" else None
        wanted_certificate = proxy.certificate_summary(proxy.wanted_certificate(names), names)
        found_certificate = proxy.certificate_summary(certificate, names)
        checks = [
            Check(
                f"service {proxy.NGINX_SERVICE}",
                "active",
                "active" if (service or {}).get(proxy.NGINX_SERVICE) else "not active",
            ),
            Check(f"checksum {proxy.NGINX_CONFIG}", wanted_sha[:12], str(config_sha or "missing")[:12]),
            Check(f"mode {proxy.NGINX_CONFIG}", "root:root 644", owner_mode(config_file)),
            Check(f"mode {proxy.CERTIFICATE_KEY}", "root:root 600", owner_mode(key_file)),
            Check(f"certificate {proxy.CERTIFICATE}", wanted_certificate, found_certificate),
        ]
        for _, https_port in self.settings.proxied_gateways():
            listened = any(socket["port"] == https_port for socket in sockets or [])
            checks.append(Check(f"listening :{https_port} (proxy)", "nginx", "nginx" if listened else "nothing"))
        return checks

    def checks(self, values: Mapping[FactRequest, Any]) -> list[Check]:
        """Expected against found, from ``values``: each request's fact value in its printed (JSON) form."""
        checks = self._host_checks(values)
        sockets = values[FactRequest(f"{OUR_FACTS}.ports.ListeningPorts")]
        other_ports = {gateway.port for gateway in self.settings.gateways}
        for gateway in self.settings.gateways:
            paths = GatewayPaths(self.settings, gateway)
            found = [values[request] for request in self._gateway_requests(paths, gateway.port)]
            checks += self._gateway_checks(gateway, paths, found, sockets, other_ports)
        return checks + self._proxy_checks(values, sockets)

    def _host_checks(self, values: Mapping[FactRequest, Any]) -> list[Check]:
        """The pinned releases, the firewall, the docker group and the owners under each home."""
        settings = self.settings
        # The host's facts by class name; ForeignEntries (one per service user) is read below by its request.
        host_requests = self._host_requests()
        read = {request.fact.rpartition(".")[2]: values[request] for request in host_requests}
        node_version, openclaw_version = read["NodeVersion"], read["OpenClawVersion"]
        checks = [
            Check("node version", settings.node.version, str(node_version or "not installed")),
            Check("openclaw version", settings.openclaw.version, str(openclaw_version or "not installed")),
        ]
        if settings.firewall.enabled:
            checks += _firewall_checks(read["UfwStatus"], settings)
        if settings.docker_sandbox:
            # Membership of docker is root on the host: only the gateways' service users may hold it.
            members = read["GroupMembers"]
            found = "no docker group" if members is None else (", ".join(members) or "nobody")
            checks.append(Check(f"{DOCKER_GROUP} group members", ", ".join(sorted(settings.users)), found))
            checks += _sandbox_checks(
                read["DockerNetworks"], read["DockerImage"], read["NftTableDigest"], read["FileContents"]
            )
        for request in host_requests:
            if request.fact.endswith(".ForeignEntries"):
                home, user = dict(request.args)["path"], dict(request.args)["user"]
                checks.append(
                    Check(
                        f"owners and modes under {home}",
                        f"all {user}:{user}, nothing for others",
                        _foreign_entries(values[request]) or f"all {user}:{user}, nothing for others",
                    )
                )
        return checks

    def _gateway_checks(
        self, gateway: Gateway, paths: GatewayPaths, found: list[Any], sockets: Any, other_ports: set[int]
    ) -> list[Check]:
        """One gateway's checks, from the values of its ``_gateway_requests`` in order (``found``)."""
        service, health, state, config_file, secrets_file, secrets_sha, unit, exposure, holding = found
        checks = [
            Check(
                f"service {paths.unit_name}",
                "active",
                "active" if (service or {}).get(paths.unit_name) else "not active",
            ),
            *serving_checks(gateway, health, sockets, other_ports),
        ]
        checks += _unit_checks(paths, gateway_service.unit_content(self.settings, gateway, paths), unit, exposure)
        checks += mode_checks(paths, state, config_file, secrets_file)
        checks += self._secrets_file_checks(gateway, paths, secrets_sha, holding)
        return checks

    def _secrets_file_checks(
        self, gateway: Gateway, paths: GatewayPaths, secrets_sha: Any, holding: Any
    ) -> list[Check]:
        """The root-only secrets file's content (by checksum), and no copy of it under the user's home."""
        wanted = secrets_checksum(environment_file_content(self.host_settings.secrets_of(gateway)))
        found_sha = f"sha256 {str(secrets_sha or 'missing')[:12]}"
        kept = [paths.cli_secrets] if self.settings.cli_secrets_copy else []
        stray = [path for path in (holding or []) if path not in kept]
        return [
            Check(f"checksum {paths.secrets}", wanted, found_sha),
            Check(f"copies of {paths.secrets} under {paths.home}", "none", ", ".join(stray) or "none"),
        ]


def stray_secrets_request(paths: GatewayPaths) -> FactRequest:
    """Files under the gateway user's home holding one of its secrets."""
    return FactRequest(
        f"{OUR_FACTS}.stray_secrets.FilesHoldingSecrets", (("secrets_file", paths.secrets), ("directory", paths.home))
    )


def serving_checks(gateway: Gateway, health: Any, sockets: Any, other_ports: set[int]) -> list[Check]:
    """The gateway answering ``/health``, its own port listened on where its bind says (loopback unless bound to
    the LAN or the tailnet) and every other port it owns by loopback only or not at all."""
    answer = f"no answer ({(health or {}).get('answer', 'not read')})"
    checks = [Check(f"health 127.0.0.1:{gateway.port}", "ok", "ok" if health and health["healthy"] else answer)]
    for role, ports in gateway.port_ranges():
        # Another gateway's own port inside this one's CDP range is that gateway's to judge.
        owned = [port for port in ports if port == gateway.port or port not in other_ports]
        checks.append(listening_check(sockets or [], role, ports, owned, gateway.bind))
    return checks


def mode_checks(paths: GatewayPaths, state_dir: Any, config: Any, secrets_holder: Any) -> list[Check]:
    """Owners and modes of the state dir, the config and the file holding the secrets, as found."""
    found = {paths.state_dir: state_dir, paths.config: config, paths.secrets_holder: secrets_holder}
    return [
        Check(f"mode {path}", f"{user}:{group} {mode}", owner_mode(found[path]))
        for path, (user, group, mode) in paths.expected_modes().items()
    ]


def in_reading_order(per_gateway: Sequence[Sequence[FactRequest]], host: Sequence[FactRequest]) -> list[FactRequest]:
    """Each request once: the health checks first, since they wait for gateways that were just (re)started, and
    what listens is only worth reading after that; then the host's, then the rest of each gateway's."""
    health = [request for requests in per_gateway for request in requests if request.fact.endswith("HealthCheck")]
    rest = [request for requests in per_gateway for request in requests]
    return list(dict.fromkeys([*health, *host, *rest]))


def listening_check(
    sockets: Sequence[Mapping[str, Any]], role: str, ports: range, owned: Sequence[int], bind: str = "loopback"
) -> Check:
    """The gateway's own port must be listened on, by loopback only or, bound to the LAN or the tailnet, also where
    that bind listens and nowhere wider; its other ports by loopback or nobody."""
    span = f":{ports[0]}" if len(ports) == 1 else f":{ports[0]}-{ports[-1]}"
    name = f"listening {span}" + ("" if role == "gateway" else f" ({role})")
    wanted = set(owned)
    exposed = role == "gateway" and bind in BIND_LISTENERS
    beyond = sorted(
        {
            f"{socket['address']}:{socket['port']}"
            for socket in sockets
            if socket["port"] in wanted
            and not socket["loopback"]
            and not (exposed and listens_as_bound(str(socket["address"]), bind))
        }
    )
    if role != "gateway":
        return Check(name, "nothing beyond loopback", ", ".join(beyond) or "nothing beyond loopback")
    listened = any(socket["port"] in wanted for socket in sockets)
    expected = f"loopback or {BIND_LISTENERS[bind]} (bind {bind})" if exposed else "loopback only"
    return Check(name, expected, ", ".join(beyond) or (expected if listened else "nothing"))


def _sandbox_checks(networks: Any, sandbox_image: Any, loaded: Any, recorded: Any) -> list[Check]:
    """The agents' sandbox: its networks (the internal one internal), its image, and the egress rules as the
    deploy loaded them (a rule deleted or changed since, or the table gone, is drift)."""
    kinds = {name: "internal" if network["internal"] else "routed" for name, network in (networks or {}).items()}
    wanted_networks = {SANDBOX_NETWORK: "internal", EGRESS_NETWORK: "routed"}
    found_networks = ", ".join(f"{name} {kinds.get(name, 'missing')}" for name in wanted_networks)
    recorded_digest = agent_sandbox.recorded_digest(recorded)
    if loaded is None:
        rules = "no such table"
    elif loaded != recorded_digest:
        rules = f"changed since loaded (sha256 {str(loaded)[:12]}, loaded {str(recorded_digest)[:12]})"
    else:
        rules = "as loaded by the deploy"
    return [
        Check("docker networks", ", ".join(f"{name} {kind}" for name, kind in wanted_networks.items()), found_networks),
        Check(f"sandbox image {SANDBOX_IMAGE}", "present", "present" if sandbox_image else "missing"),
        Check(f"egress rules {agent_sandbox.NFT_FAMILY} {agent_sandbox.NFT_TABLE}", "as loaded by the deploy", rules),
    ]


def _firewall_checks(ufw: Any, settings: Settings) -> list[Check]:
    found = "not installed" if ufw is None else ("active" if ufw["active"] else "inactive")
    if ufw and ufw["active"]:
        found += f", incoming {ufw['default_incoming']}, outgoing {ufw['default_outgoing']}"
    allowed = settings.firewall.gateway_allowed_sources
    wanted = "from " + ", ".join(str(source) for source in allowed) if allowed else "from no other host"
    rules = [UfwRule.from_json(rule) for rule in (ufw or {}).get("rules", ())]
    exposing = exposing_rules(rules, firewalled_ports(settings), allowed)
    closed = localhost_only_ports(settings)
    checks = [
        Check("firewall (ufw)", "active, incoming deny, outgoing allow", found),
        Check(
            "firewall rules for the gateway ports",
            wanted,
            "; ".join(f"rule {rule.number}: {rule.text}" for rule in exposing) or wanted,
        ),
    ]
    if closed:
        span = f"{min(closed)}-{max(closed)}"
        admitting = exposing_rules(rules, closed, [])
        checks.append(
            Check(
                f"firewall rules for the local admin agent's gateway ports {span}",
                "none: localhost only",
                "; ".join(f"rule {rule.number}: {rule.text}" for rule in admitting) or "none: localhost only",
            )
        )
    return checks


def _foreign_entries(found: Any) -> str:
    """ "" when nothing under the tree breaks the rule, else the first few that do."""
    if not found or not found["count"]:
        return ""
    shown = [f"{entry['user']}:{entry['group']} {entry['mode']} {entry['path']}" for entry in found["sample"][:3]]
    more = found["count"] - len(shown)
    return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")


def _unit_checks(paths: GatewayPaths, unit_file: str, unit: Any, exposure: Any) -> list[Check]:
    """The unit as systemd runs it: its properties as the deploy's file sets them, no drop-in, the exposure."""
    found_properties = (unit or {}).get("properties", {})
    differing = [
        f"{key}={found_properties.get(key, '')} (deployed: {value})"
        for key, value in gateway_service.expected_properties(unit_file).items()
        if gateway_service.effective_value(found_properties.get(key, "")) != value
    ]
    drop_ins = sorted(
        {*found_properties.get(gateway_service.DROP_IN_PATHS, "").split(), *(unit or {}).get("drop_in_files", ())}
    )
    limit = gateway_service.MAX_EXPOSURE
    return [
        Check(f"effective settings {paths.unit_name}", "as deployed", "; ".join(differing) or "as deployed"),
        Check(f"drop-ins {paths.unit_name}", "none", ", ".join(drop_ins) or "none"),
        Check(
            f"hardening {paths.unit_name}",
            f"exposure at most {limit}",
            "unit not loaded" if exposure is None else f"exposure {exposure}",
            within=exposure is not None and exposure <= limit,
        ),
    ]
