"""Which expected state a gateway host is checked against, by its model: one choice for the deploy-independent
readers (the drift command and the testinfra host suite); each deploy's verification names its own."""

from __future__ import annotations

from openclaw_infra.container_expected_state import ContainerExpectedState
from openclaw_infra.expected_state import ExpectedState
from openclaw_infra.host_settings import HostSettings
from openclaw_infra.macos_expected_state import MacExpectedState


def expected_state_of(host_settings: HostSettings, health_wait_seconds: int) -> ExpectedState:
    """A Mac's as ``deploys/macos_host.py`` leaves it, a containerized host's as ``deploys/docker_containerized.py``
    does, else the Linux systemd one's."""
    if host_settings.settings.os_family == "macos":
        return MacExpectedState(host_settings, health_wait_seconds)
    if host_settings.settings.isolation == "docker-containerized":
        return ContainerExpectedState(host_settings, health_wait_seconds)
    return ExpectedState(host_settings, health_wait_seconds)
