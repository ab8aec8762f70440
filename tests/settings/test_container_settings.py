"""The settings of the Docker containerized model: refused with a message naming host, field and fix."""

from __future__ import annotations

import pytest

from openclaw_infra.host_settings import settings_for_host
from openclaw_infra.operations.gateway_config import content_for
from openclaw_infra.operations.gateway_container import image_reference
from tests.settings.test_settings_rules import TOKEN, only_problem

CONTAINERIZED = {"openclaw_isolation": "docker-containerized", "openclaw_docker_sandbox": False}
DIGEST = "registry.example.com/openclaw-gateway@sha256:" + "ab" * 32


@pytest.fixture(autouse=True)
def _token_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_OPENCLAW_TOKEN", "tok-abc-123")


def test_the_default_docker_sandbox_is_refused_for_a_container_naming_the_fix() -> None:
    problem = only_problem({"openclaw_isolation": "docker-containerized"})
    assert "openclaw_docker_sandbox" in problem and "set openclaw_docker_sandbox to false" in problem


def test_a_bind_beyond_loopback_is_refused_for_a_container() -> None:
    problem = only_problem({**CONTAINERIZED, "openclaw_gateways": [{"bind": "lan"}]})
    assert "openclaw_gateways[0].bind" in problem and 'set its bind to "loopback"' in problem


def test_container_settings_on_another_model_are_refused() -> None:
    problem = only_problem({"openclaw_container": {"stop_timeout_seconds": 60}})
    assert "openclaw_container" in problem and "'docker-isolation'" in problem


@pytest.mark.parametrize(
    "image", ["registry.example.com/openclaw-gateway:2026.9.6", "openclaw@sha256:abc", "UPPER@sha256:" + "0" * 64]
)
def test_an_image_not_pinned_by_digest_is_refused(image: str) -> None:
    problem = only_problem({**CONTAINERIZED, "openclaw_container": {"image": image}})
    assert "openclaw_container.image" in problem and "pinned by digest" in problem


def test_the_image_is_the_users_by_digest_or_the_one_built_for_the_pins() -> None:
    built = settings_for_host("gw1", {"openclaw_secrets": TOKEN, **CONTAINERIZED}).settings
    assert image_reference(built) == f"openclaw-infra/gateway:{built.openclaw.version}-node{built.node.version}"
    named = settings_for_host(
        "gw1", {"openclaw_secrets": TOKEN, **CONTAINERIZED, "openclaw_container": {"image": DIGEST}}
    ).settings
    assert image_reference(named) == DIGEST


def test_a_containerized_gateway_listens_on_its_container_network_and_others_on_loopback() -> None:
    container = settings_for_host("gw1", {"openclaw_secrets": TOKEN, **CONTAINERIZED}).settings
    systemd = settings_for_host("gw1", {"openclaw_secrets": TOKEN}).settings
    assert '"bind": "lan"' in content_for(container, container.gateways[0])
    assert '"bind": "loopback"' in content_for(systemd, systemd.gateways[0])
