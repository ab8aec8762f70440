"""Which ufw rules let someone reach a gateway's ports who is not among ``gateway_allowed_sources``.

One judgement for the deploy (which removes such rules, or refuses and names them) and for the expected state
(which reports them as drift), so the two can never disagree about a rule.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable, Sequence

from openclaw_infra.facts.ufw import UfwRule
from openclaw_infra.settings import Settings

ADMITTING_ACTIONS = ("ALLOW", "LIMIT")
ALL_PORTS = range(1, 65536)
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclasses.dataclass(frozen=True)
class ExposingRule:
    """A rule as ``ufw status`` lists it; ``number`` is its place there, which ``ufw delete <number>`` takes."""

    number: int
    text: str
    # True when every port it admits is a gateway's: removing it takes nothing else away. False when it also
    # admits other ports (all of them, a wider range): removing it could cut the operator off, so it is refused.
    gateway_ports_only: bool


def gateway_ports(settings: Settings) -> set[int]:
    """Every port of every gateway of the host: its own, the browser's, the CDP range."""
    return {port for gateway in settings.gateways for _, ports in gateway.port_ranges() for port in ports}


def firewalled_ports(settings: Settings) -> set[int]:
    """The ports the firewall admits only from ``gateway_allowed_sources``: the gateways' and the reverse proxy's."""
    return gateway_ports(settings) | {https_port for _, https_port in settings.proxied_gateways()}


def localhost_only_ports(settings: Settings) -> set[int]:
    """The ports of the gateway carrying the local admin agent: the guide firewalls them to localhost, so no
    source at all may be admitted to them."""
    gateway = settings.admin_agent_gateway()
    if gateway is None:
        return set()
    # Another gateway's own port inside this one's CDP range is that gateway's to open.
    others = {other.port for other in settings.gateways if other != gateway}
    return {port for _, ports in gateway.port_ranges() for port in ports} - others


def _admitted_tcp_ports(to_address: str) -> set[int] | range | None:
    """The TCP ports a rule's ``To`` column admits: all of them, a set, or None for a UDP-only rule or an
    application profile's name (whose ports ufw's verbose listing would have printed had it known them)."""
    words = to_address.split()
    port_spec = words[-1]
    if port_spec == "Anywhere" or _is_address(port_spec):
        return ALL_PORTS  # no port: every port (of that destination address)
    ports, _, protocol = port_spec.partition("/")
    if protocol == "udp":
        return None
    admitted: set[int] = set()
    for part in ports.split(","):
        first, _, last = part.partition(":")
        if not first.isdigit() or (last and not last.isdigit()):
            return None
        admitted.update(range(int(first), int(last or first) + 1))
    return admitted


def _is_address(word: str) -> bool:
    try:
        ipaddress.ip_network(word, strict=False)
    except ValueError:
        return False
    return True


def _source_allowed(source_address: str, allowed: Sequence[IPNetwork]) -> bool:
    first = source_address.split()[0]
    if first == "Anywhere":
        return False
    try:
        source = ipaddress.ip_network(first, strict=False)
    except ValueError:
        return False  # not an address ufw would print: judged as exposing, and named in the report
    return any(
        source.version == network.version and source.subnet_of(network)  # type: ignore[arg-type]
        for network in allowed
    )


def exposing_rules(rules: Iterable[UfwRule], ports: Iterable[int], allowed: Sequence[IPNetwork]) -> list[ExposingRule]:
    """The rules of ``ufw status`` (``UfwStatus``'s ``rules``, in order) admitting any of ``ports`` from a source
    outside the ``allowed`` networks."""
    ours = set(ports)
    found = []
    for number, rule in enumerate(rules, start=1):
        if rule.action not in ADMITTING_ACTIONS or rule.direction not in (None, "IN"):
            continue
        admitted = _admitted_tcp_ports(rule.to.address)
        if admitted is None or not ours.intersection(admitted):
            continue
        if _source_allowed(rule.source.address, allowed):
            continue
        found.append(ExposingRule(number, rule_text(rule), gateway_ports_only=set(admitted) <= ours))
    return found


def rule_text(rule: UfwRule) -> str:
    """A rule in words close to ``ufw status``: ``18789/tcp (v6) ALLOW IN from Anywhere (v6)``."""
    v6 = " (v6)" if rule.ipv6 else ""
    to = rule.to.address + (f" on {rule.to.interface}" if rule.to.interface else "")
    direction = f" {rule.direction}" if rule.direction else ""
    return f"{to}{v6} {rule.action}{direction} from {rule.source.address}{v6}"
