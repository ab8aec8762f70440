"""The tailnet policy generated from ``openclaw_tailscale``, parsed as HuJSON the way Tailscale reads a policy file
(comments and trailing commas allowed), and every rule in it checked against what the guide asks: the tag owned as
set, the gateway's host reachable only from the clients and only on its ports, no grant or SSH rule from its tag."""

from __future__ import annotations

import json
from typing import Any

import json5
import pytest
from pydantic import ValidationError

from openclaw_infra.settings import Settings
from openclaw_infra.tailscale_policy import policy_text

TOKEN = {"OPENCLAW_GATEWAY_TOKEN": {"env": "OPENCLAW_TOKEN"}}
# Sources that include every tagged device, so the gateway's own tag too.
INCLUDES_EVERY_TAG = {"*", "autogroup:tagged"}


def settings(**tailscale: Any) -> Settings:
    gateways = tailscale.pop("gateways", [{}])
    # A tailnet-bound gateway is firewalled to the tailnet's addresses.
    firewall = {"gateway_allowed_sources": ["100.64.0.0/10"]}
    return Settings.model_validate(
        {"tailscale": tailscale, "secrets": TOKEN, "gateways": gateways, "firewall": firewall}
    )


def violations(policy: dict[str, Any], tag: str, clients: list[str], ip: list[str], ssh_users: list[str]) -> list[str]:
    """Every way ``policy`` breaks the guide's rules for the host tagged ``tag``; empty when it keeps them all."""
    found = []
    reaches_tag = {tag, *INCLUDES_EVERY_TAG}
    for index, grant in enumerate(policy.get("grants", [])):
        if reaches_tag & set(grant["src"]):
            found.append(f"grant {index} is an outbound grant from {tag}: src {grant['src']}")
        if reaches_tag & set(grant["dst"]) and (sorted(grant["src"]) != sorted(clients) or grant["ip"] != ip):
            found.append(f"grant {index} lets {grant['src']} reach {tag} on {grant['ip']}")
    for index, rule in enumerate(policy.get("ssh", [])):
        if reaches_tag & set(rule["src"]):
            found.append(f"ssh rule {index} lets {tag} log in elsewhere")
        if reaches_tag & set(rule["dst"]) and (
            rule["action"] != "check" or sorted(rule["src"]) != sorted(clients) or rule["users"] != ssh_users
        ):
            found.append(f"ssh rule {index} into {tag}: {rule}")
    for index, acl in enumerate(policy.get("acls", [])):
        found.append(f"legacy acl {index} ({acl}): only grants are generated")
    return found


def parsed(text: str) -> dict[str, Any]:
    policy = json5.loads(text)
    assert isinstance(policy, dict)
    return policy


def test_the_default_policy_is_hujson_and_keeps_every_rule() -> None:
    text = policy_text(settings())
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)  # comments and trailing commas: HuJSON, not JSON
    policy = parsed(text)
    assert set(policy) == {"tagOwners", "grants", "ssh"}
    assert policy["tagOwners"] == {"tag:openclaw": ["autogroup:admin"]}
    assert (
        violations(policy, "tag:openclaw", ["autogroup:member"], ["tcp:22", "tcp:8443"], ["autogroup:nonroot", "root"])
        == []
    )
    # The clients' grant to the host exists (an empty policy would break no rule and reach nothing).
    assert {"src": ["autogroup:member"], "dst": ["tag:openclaw"], "ip": ["tcp:22", "tcp:8443"]} in policy["grants"]
    # Personal devices keep reaching each other, and nothing reaches "*".
    assert all(grant["dst"] != ["*"] for grant in policy["grants"])


def test_chosen_tag_clients_and_ports_end_up_in_every_rule() -> None:
    chosen = settings(
        tag="tag:ai-gateway",
        tag_owners=["group:admins", "alice@example.com"],
        clients=["group:admins", "tag:laptops"],
        ssh_users=["admin"],
        serve_https_port=None,
        gateways=[
            {},
            {
                "profile": "tn",
                "port": 18809,
                "bind": "tailnet",
                "secrets": {"OPENCLAW_GATEWAY_TOKEN": {"env": "OPENCLAW_TOKEN_TN"}},
            },
        ],
    )
    policy = parsed(policy_text(chosen))
    assert policy["tagOwners"] == {"tag:ai-gateway": ["group:admins", "alice@example.com"]}
    # No Serve: SSH and the tailnet-bound gateway only, not the loopback one's port.
    ip = ["tcp:22", "tcp:18809"]
    assert violations(policy, "tag:ai-gateway", ["group:admins", "tag:laptops"], ip, ["admin"]) == []
    assert {"src": ["group:admins", "tag:laptops"], "dst": ["tag:ai-gateway"], "ip": ip} in policy["grants"]
    into_host = [rule for rule in policy["ssh"] if rule["dst"] == ["tag:ai-gateway"]]
    assert into_host == [
        {"action": "check", "src": ["group:admins", "tag:laptops"], "dst": ["tag:ai-gateway"], "users": ["admin"]}
    ]


@pytest.mark.parametrize(
    ("bad_rule", "complaint"),
    [
        ({"grants": [{"src": ["tag:openclaw"], "dst": ["*"], "ip": ["*"]}]}, "outbound grant from tag:openclaw"),
        ({"grants": [{"src": ["*"], "dst": ["tag:openclaw"], "ip": ["tcp:22", "tcp:8443"]}]}, "outbound grant"),
        ({"grants": [{"src": ["autogroup:member"], "dst": ["*"], "ip": ["*"]}]}, "reach tag:openclaw on ['*']"),
        (
            {
                "ssh": [
                    {
                        "action": "accept",
                        "src": ["autogroup:member"],
                        "dst": ["tag:openclaw"],
                        "users": ["autogroup:nonroot", "root"],
                    }
                ]
            },
            "ssh rule 2 into tag:openclaw",
        ),
        ({"acls": [{"action": "accept", "src": ["*"], "dst": ["*:*"]}]}, "legacy acl"),
    ],
)
def test_the_checks_catch_what_the_guide_forbids(bad_rule: dict[str, Any], complaint: str) -> None:
    """The checks above are not vacuous: each rule the guide forbids, added to the generated policy, is reported."""
    policy = parsed(policy_text(settings()))
    for key, rules in bad_rule.items():
        policy[key] = [*policy.get(key, []), *rules]
    found = violations(
        policy, "tag:openclaw", ["autogroup:member"], ["tcp:22", "tcp:8443"], ["autogroup:nonroot", "root"]
    )
    assert any(complaint in problem for problem in found), found


@pytest.mark.parametrize(
    ("tailscale", "message"),
    [
        ({"clients": ["tag:openclaw"]}, "clients holds 'tag:openclaw', which includes the gateway's own tag"),
        ({"clients": ["autogroup:tagged"]}, "clients holds 'autogroup:tagged', which includes the gateway's own tag"),
        ({"clients": ["*"]}, "is not a Tailscale tag, group, autogroup or user"),
        ({"tag": "openclaw"}, "is not a Tailscale tag"),
        ({"serve_https_port": 9000}, "serve_https_port 9000 is not a port Tailscale Serve offers HTTPS on"),
        ({"ssh_users": ["root; rm"]}, "is not an account"),
        ({"tag_owners": []}, "at least 1 item"),
    ],
)
def test_settings_that_would_open_the_host_are_refused(tailscale: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        settings(**tailscale)
