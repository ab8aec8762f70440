"""Host firewall with ufw: deny incoming, allow outgoing, SSH always reachable, gateway port for named sources."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from ipaddress import ip_network

from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import OperationError, OperationValueError
from pyinfra.api.operation import operation
from pyinfra.context import host

from openclaw_infra.facts.batch import read_facts
from openclaw_infra.facts.ufw import UfwRule, UfwStatus
from openclaw_infra.firewall_policy import exposing_rules
from openclaw_infra.quoting import quoted

# Rules this project adds carry this comment, so it can tell them from the operator's own and remove its stale ones.
RULE_COMMENT_PREFIX = "openclaw-infra"
# What gateway_ports_closed adds (the emergency's containment); the gateway deploy removes them again.
CONTAINED_COMMENT = f"{RULE_COMMENT_PREFIX}: contained"


def _is_containment(rule: UfwRule) -> bool:
    return rule.action == "DENY" and rule.comment == CONTAINED_COMMENT


def _rule_key(rule: UfwRule) -> tuple[str, str] | None:
    """(port/proto, source) of an ALLOW IN rule of ours, else None; v4 and v6 rows collapse to one key."""
    if rule.action != "ALLOW" or rule.direction not in (None, "IN"):
        return None
    if not (rule.comment or "").startswith(RULE_COMMENT_PREFIX):
        return None
    source = "any" if rule.source.address.startswith("Anywhere") else rule.source.address
    return rule.to.address, source


def _allow(port: int, source: str, purpose: str) -> StringCommand:
    return StringCommand(
        "ufw", "allow", "proto", "tcp", "from", quoted(source), "to", "any", "port", quoted(port),
        "comment", quoted(f"{RULE_COMMENT_PREFIX}: {purpose}"),
    )  # fmt: skip


def _numbered_delete(number: int) -> StringCommand:
    return StringCommand("ufw", "--force", "delete", str(number))


@operation()
def ufw_firewall(
    ssh_port: int,
    gateway_ports: Sequence[int],
    gateway_sources: Sequence[str],
    reserved_ports: Sequence[int] = (),
    closed_ports: Sequence[int] = (),
) -> Generator[StringCommand, None, None]:
    """
    ufw with default deny incoming / allow outgoing. The SSH port is allowed BEFORE ufw is enabled: enabling
    first keeps the running session but refuses every new SSH connection, the deploy's own included.

    Any rule admitting a reserved port from a source outside ``gateway_sources`` (an operator's
    ``ufw allow 18789/tcp``, an intruder's) is removed when the gateways' ports are all it admits. One that also
    admits other ports (``ufw allow from 192.0.2.7``, a wide range) is refused, naming it: removing it could cut
    its owner off from SSH or another service, so the operator narrows it.

    + ssh_port: the port SSH must stay reachable on (the one pyinfra is connected on)
    + gateway_ports: the gateways' ports, opened only to ``gateway_sources``
    + gateway_sources: IP addresses or networks allowed to reach the gateway ports; empty keeps them closed
    + reserved_ports: every port the gateways own (browser, CDP ranges); default ``gateway_ports``
    + closed_ports: ports no source may reach (a gateway kept to localhost): any rule admitting them is handled as
      one admitting a reserved port from a source not allowed

    The deny rules an emergency's ``gateway_ports_closed`` added are removed: the deploy puts the gateways back.
    """
    allowed = []
    for source in gateway_sources:
        try:
            allowed.append(ip_network(source, strict=False))
        except ValueError:
            raise OperationValueError(f"{source!r} is not an IP address or network") from None
    (status,) = read_facts((UfwStatus, {}))  # remembered: the verification need not run ufw again
    if status is None:
        raise OperationError("ufw is not installed; install it before configuring the firewall")

    wanted = {(f"{ssh_port}/tcp", "any"): (ssh_port, "any", "ssh")}
    for port in gateway_ports:
        for network in allowed:
            # ufw prints a single address without /32.
            shown = str(network).removesuffix("/32").removesuffix("/128")
            wanted[(f"{port}/tcp", shown)] = (port, str(network), f"gateway {port}")

    # ufw lists rules only while active; when inactive, add them all (ufw skips ones it already has).
    rules = status.rules if status.active else ()
    # A rule admitting a closed port from an allowed source counts too; judged "gateway ports only" against all
    # the reserved ones (the later list wins).
    closed = exposing_rules(rules, closed_ports, [])
    found = {rule.number: rule for rule in [*closed, *exposing_rules(rules, reserved_ports or gateway_ports, allowed)]}
    exposing = [
        rule
        for _, rule in sorted(found.items())
        if _rule_key(rules[rule.number - 1]) is None  # ours that are no longer wanted are deleted by spec below
    ]
    refused = [rule for rule in exposing if not rule.gateway_ports_only]
    if refused:
        raise OperationError(
            "ufw rules admit the gateway's ports from sources not in openclaw_firewall.gateway_allowed_sources, "
            "and other ports too (removing them could cut you off): "
            + "; ".join(f"rule {rule.number}: {rule.text}" for rule in refused)
            + ". Fix: narrow each so it leaves the gateway's ports alone, or add its source to "
            "gateway_allowed_sources; then deploy again."
        )
    present = {key for rule in rules if (key := _rule_key(rule))}
    # Foreign rules and a containment's deny rules go first, by number and highest first, so the numbers still to
    # delete do not shift; then ours are added, and only then our stale ones deleted (by their spec), so a moved
    # SSH port is never closed.
    numbers = [rule.number for rule in exposing]
    numbers += [number for number, rule in enumerate(rules, start=1) if _is_containment(rule)]
    commands = [_numbered_delete(number) for number in sorted(numbers, reverse=True)]
    commands += [_allow(*wanted[key]) for key in wanted if key not in present]
    for port_proto, source in sorted(present - wanted.keys()):
        rule = ["proto", "tcp", "from", quoted(source), "to", "any", "port", quoted(port_proto.split("/")[0])]
        commands.append(StringCommand("ufw", "delete", "allow", *rule))
    if status.default_incoming != "deny" or not status.active:
        commands.append(StringCommand("ufw", "default", "deny", "incoming"))
    if status.default_outgoing != "allow" or not status.active:
        commands.append(StringCommand("ufw", "default", "allow", "outgoing"))
    if not status.active:
        commands.append(StringCommand("ufw", "--force", "enable"))
    if not commands:
        host.noop("ufw is active with the wanted policies and rules, and no other rule admits the gateway ports")
    yield from commands


@operation()
def gateway_ports_closed(ports: Sequence[int]) -> Generator[StringCommand, None, None]:
    """
    Deny every source on the gateways' ``ports``, ahead of any rule that admits them: an emergency's
    containment. The next gateway deploy (``ufw_firewall``) removes these rules.

    + ports: the ports to close (TCP)

    On an inactive ufw the rules are added for when it is enabled; a gateway contained there is stopped, and
    nothing else closes its port.
    """
    for port in ports:
        if not 0 < int(port) < 65536:
            raise OperationValueError(f"port {port!r} is not a TCP port")
    (status,) = read_facts((UfwStatus, {}))
    if status is None:
        raise OperationError("ufw is not installed: the gateway ports cannot be closed")
    rules = status.rules if status.active else ()
    closed = {rule.to.address for rule in rules if _is_containment(rule)}
    missing = [int(port) for port in ports if f"{int(port)}/tcp" not in closed]
    if not missing:
        host.noop(f"ufw denies every source on {', '.join(str(port) for port in ports)}")
        return
    for port in missing:
        # `insert 1` puts the deny before every allow; ufw refuses a position in an empty (or inactive) table.
        where = ["insert", "1"] if rules else []
        yield StringCommand(
            "ufw", *where, "deny", "proto", "tcp", "from", "any", "to", "any", "port", quoted(port),
            "comment", quoted(CONTAINED_COMMENT),
        )  # fmt: skip
