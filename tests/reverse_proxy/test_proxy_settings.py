"""``openclaw_reverse_proxy``: refused before any host is touched when it would let clients around the proxy or
past the firewall, or does not say where its certificate comes from; the operator's certificate and key read
(the key masked); the gateways behind it trusting the proxy's address and nothing an inventory adds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from openclaw_infra.host_settings import SettingsError, settings_for_hosts
from openclaw_infra.operations.gateway_config import content_for

KEY_TEXT = "-----BEGIN PRIVATE KEY-----\nTESTONLYKEYMATERIAL\n-----END PRIVATE KEY-----\n"
CHAIN_TEXT = "-----BEGIN CERTIFICATE-----\nTESTONLYCERT\n-----END CERTIFICATE-----\n"


def host_data(tmp_path: Path, proxy: dict[str, Any], **data: Any) -> dict[str, Any]:
    for profile in ("", "wa"):
        (tmp_path / f"token{profile}").write_text(profile + "t" * 40)
    return {
        "openclaw_secrets": {"OPENCLAW_GATEWAY_TOKEN": {"file": str(tmp_path / "token")}},
        "openclaw_firewall": {"gateway_allowed_sources": ["192.0.2.0/24"]},
        "openclaw_reverse_proxy": {"server_name": "gw.example", **proxy},
        **data,
    }


def problems(data: dict[str, Any]) -> str:
    with pytest.raises(SettingsError) as refused:
        settings_for_hosts([("gw", data)])
    return str(refused.value)


def test_the_proxied_gateway_trusts_only_the_proxy(tmp_path: Path) -> None:
    second = {
        "profile": "wa",
        "port": 18809,
        "secrets": {"OPENCLAW_GATEWAY_TOKEN": {"file": str(tmp_path / "tokenwa")}},
    }
    data = host_data(tmp_path, {"gateways": [{"profile": "wa", "https_port": 8443}]}, openclaw_gateways=[{}, second])
    (host,) = settings_for_hosts([("gw", data)]).values()
    settings = host.settings
    default, wa = settings.gateways
    assert settings.proxied_gateways() == [(wa, 8443)]
    assert json.loads(content_for(settings, wa))["gateway"]["trustedProxies"] == ["127.0.0.1"]
    assert json.loads(content_for(settings, wa))["gateway"]["allowRealIpFallback"] is False
    # The gateway not behind it trusts no forwarded header.
    assert "trustedProxies" not in json.loads(content_for(settings, default))["gateway"]


@pytest.mark.parametrize(
    ("proxy", "extra", "wanted"),
    [
        ({}, {"openclaw_firewall": {"gateway_allowed_sources": []}}, "openclaw_reverse_proxy: the reverse proxy would"),
        ({}, {"openclaw_gateways": [{"bind": "lan"}]}, "has bind 'lan': clients could skip the proxy"),
        ({"gateways": [{"profile": "nope"}]}, {}, "openclaw_reverse_proxy.gateways[0].profile: no gateway has profile"),
        ({"gateways": [{"https_port": 18791}]}, {}, "https_port 18791 is a port of gateway default"),
        ({"gateways": [{}, {"https_port": 443}]}, {}, "share https_port 443"),
        ({"tls": "certificate"}, {}, "openclaw_reverse_proxy.certificate: tls 'certificate' needs both"),
        ({"certificate": "/x.pem"}, {}, "certificate is set, but tls is 'local-ca'"),
        ({"server_name": "gw example"}, {}, "openclaw_reverse_proxy.server_name"),
        ({}, {"openclaw_os_family": "macos", "openclaw_isolation": "docker-isolation"}, "is set up by the Linux"),
    ],
)
def test_unsafe_or_incomplete_proxies_are_refused(
    tmp_path: Path, proxy: dict[str, Any], extra: dict[str, Any], wanted: str
) -> None:
    assert wanted in problems({**host_data(tmp_path, proxy), **extra})


def test_an_inventory_cannot_set_the_trusted_proxies_itself(tmp_path: Path) -> None:
    extra = {"openclaw_gateways": [{"extra_config": {"gateway": {"trustedProxies": ["0.0.0.0/0"]}}}]}
    assert "extra_config sets gateway.trustedProxies, which the deploy manages" in problems(
        {**host_data(tmp_path, {}), **extra}
    )


def test_the_operators_certificate_is_read_and_its_key_masked(tmp_path: Path) -> None:
    (tmp_path / "chain.pem").write_text(CHAIN_TEXT)
    (tmp_path / "key.pem").write_text(KEY_TEXT)
    proxy = {"tls": "certificate", "certificate": str(tmp_path / "chain.pem"),
             "certificate_key": {"file": str(tmp_path / "key.pem")}}  # fmt: skip
    (host,) = settings_for_hosts([("gw", host_data(tmp_path, proxy))]).values()
    assert host.proxy_certificate == CHAIN_TEXT
    assert host.proxy_certificate_key is not None and host.proxy_certificate_key.unmask() == KEY_TEXT
    assert "TESTONLYKEYMATERIAL" not in repr(host)


@pytest.mark.parametrize(
    ("chain", "wanted"),
    [
        (None, "cannot be read"),
        (KEY_TEXT, "is not a PEM certificate chain"),
        (CHAIN_TEXT + KEY_TEXT, "holds a private key"),
    ],
)
def test_a_certificate_that_is_no_chain_is_refused(tmp_path: Path, chain: str | None, wanted: str) -> None:
    if chain is not None:
        (tmp_path / "chain.pem").write_text(chain)
    (tmp_path / "key.pem").write_text(KEY_TEXT)
    proxy = {"tls": "certificate", "certificate": str(tmp_path / "chain.pem"),
             "certificate_key": {"file": str(tmp_path / "key.pem")}}  # fmt: skip
    found = problems(host_data(tmp_path, proxy))
    assert "host 'gw': openclaw_reverse_proxy.certificate:" in found and wanted in found
    assert "TESTONLYKEYMATERIAL" not in found
