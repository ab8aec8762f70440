"""Which ufw rules expose a gateway's ports: the one judgement the deploy and the drift checks share."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from openclaw_infra.facts.ufw import UfwStatus
from openclaw_infra.firewall_policy import exposing_rules

GATEWAY = [18789, 18790, 18791, *range(18800, 18900)]
HEAD = ["Status: active", "Default: deny (incoming), allow (outgoing), deny (routed)", "",
        "To                         Action      From", "--                         ------      ----"]  # fmt: skip


def judged(row: str, allowed: tuple[str, ...] = ()) -> list[tuple[int, str, bool]]:
    """The judgement of one row of `ufw status verbose`, parsed by the real fact."""
    rules = UfwStatus().process([*HEAD, row]).rules
    networks = [ip_network(source) for source in allowed]
    return [(rule.number, rule.text, rule.gateway_ports_only) for rule in exposing_rules(rules, GATEWAY, networks)]


@pytest.mark.parametrize(
    ("row", "allowed", "verdict"),
    [
        ("18789/tcp                  ALLOW IN    Anywhere", (), [(1, "18789/tcp ALLOW IN from Anywhere", True)]),
        ("18789                      ALLOW IN    Anywhere", (), [(1, "18789 ALLOW IN from Anywhere", True)]),
        ("18791/tcp (v6)             LIMIT IN    Anywhere (v6)", (),
         [(1, "18791/tcp (v6) LIMIT IN from Anywhere (v6)", True)]),
        ("18789,18791/tcp            ALLOW IN    Anywhere", (), [(1, "18789,18791/tcp ALLOW IN from Anywhere", True)]),
        ("80,18789/tcp               ALLOW IN    Anywhere", (), [(1, "80,18789/tcp ALLOW IN from Anywhere", False)]),
        ("18850:18860/tcp            ALLOW IN    Anywhere", (), [(1, "18850:18860/tcp ALLOW IN from Anywhere", True)]),
        ("10.0.0.5 18789/tcp         ALLOW IN    Anywhere", (),
         [(1, "10.0.0.5 18789/tcp ALLOW IN from Anywhere", True)]),
        ("10.0.0.5                   ALLOW IN    203.0.113.4", (), [(1, "10.0.0.5 ALLOW IN from 203.0.113.4", False)]),
        ("18800/tcp on eth0          ALLOW IN    Anywhere", (),
         [(1, "18800/tcp on eth0 ALLOW IN from Anywhere", True)]),
        # Allowed sources, and subnets of them, are what the settings ask for.
        ("18789/tcp                  ALLOW IN    10.1.2.0/24", ("10.1.0.0/16",), []),
        ("18789/tcp                  ALLOW IN    10.2.0.0/16", ("10.1.0.0/16",),
         [(1, "18789/tcp ALLOW IN from 10.2.0.0/16", True)]),
        ("18789/tcp                  ALLOW IN    10.0.0.0/8", ("10.1.0.0/16",),
         [(1, "18789/tcp ALLOW IN from 10.0.0.0/8", True)]),
        # Not admitting TCP to a gateway port: left alone.
        ("18789/udp                  ALLOW IN    Anywhere", (), []),
        ("18789/tcp                  DENY IN     Anywhere", (), []),
        ("18789/tcp                  ALLOW OUT   Anywhere", (), []),
        ("18792:18799/tcp            ALLOW IN    Anywhere", (), []),
        ("22/tcp (OpenSSH)           ALLOW IN    Anywhere", (), []),
    ],
)  # fmt: skip
def test_rules_are_judged_by_ports_admitted_and_source(
    row: str, allowed: tuple[str, ...], verdict: list[tuple[int, str, bool]]
) -> None:
    assert judged(row, allowed) == verdict
