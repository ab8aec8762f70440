"""TCP_NODELAY on pyinfra's SSH connections, read back from the live socket of a real connection."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from pyinfra.api.config import Config
from pyinfra.api.host import Host
from pyinfra.api.inventory import Inventory
from pyinfra.api.state import State
from pyinfra.connectors.ssh import SSHConnector
from pyinfra.context import ctx_host, ctx_state

from openclaw_infra.deploy_context import require_deploy

# Imports pyinfra_cli, which gevent-patches this process: at collection, before any SSH thread runs, as the CLI does.
from openclaw_infra.drift.run import connect_host
from openclaw_infra.ssh_tuning import set_tcp_nodelay
from sandbox_hosts import SandboxHost

TOKEN_ENV = "SSH_TUNING_TEST_TOKEN"


def pyinfra_host(name: str, data: dict[str, object]) -> Host:
    """One host of a fresh pyinfra state, as pyinfra's API makes it (not connected)."""
    inventory = Inventory(([(name, data)], {}))
    State(inventory, Config())  # type: ignore[no-untyped-call]
    (host,) = inventory
    return host


def nodelay(host: Host) -> int:
    assert isinstance(host.connector, SSHConnector) and host.connector.client is not None
    transport = host.connector.client.get_transport()
    assert transport is not None
    return int(transport.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))  # type: ignore[union-attr]


@pytest.fixture
def connected(shared_sandbox_host: SandboxHost, monkeypatch: pytest.MonkeyPatch) -> Iterator[Host]:
    """A sandbox host connected through pyinfra's SSH connector, with the settings a deploy validates."""
    monkeypatch.setenv(TOKEN_ENV, "ssh-tuning-test-token")
    host = pyinfra_host(
        shared_sandbox_host.name,
        {
            **shared_sandbox_host.pyinfra_data(),
            "openclaw_isolation": "linux-vm",
            "openclaw_secrets": {"OPENCLAW_GATEWAY_TOKEN": {"env": TOKEN_ENV}},
        },
    )
    host.connect(raise_exceptions=True)
    try:
        # Without the tuning pyinfra's socket keeps Nagle's algorithm on: the checks below would fail.
        assert nodelay(host) == 0
        yield host
    finally:
        host.disconnect()
        assert isinstance(host.connector, SSHConnector) and host.connector.client is not None
        host.connector.client.close()


@pytest.mark.sandbox
def test_set_tcp_nodelay_turns_nagle_off_on_the_live_socket(connected: Host) -> None:
    assert set_tcp_nodelay(connected) is True
    assert nodelay(connected) != 0
    status, output = connected.run_shell_command("hostname")
    assert status and output.stdout == connected.name


@pytest.mark.sandbox
def test_every_deploy_turns_nagle_off_on_its_connected_hosts(connected: Host) -> None:
    with ctx_state.use(connected.state), ctx_host.use(connected):
        require_deploy("deploys/linux_vm.py")
    assert nodelay(connected) != 0


@pytest.mark.sandbox
def test_a_drift_run_connects_with_nagle_off(shared_sandbox_host: SandboxHost) -> None:
    host = pyinfra_host(shared_sandbox_host.name, shared_sandbox_host.pyinfra_data())
    connect_host(host)
    try:
        assert nodelay(host) != 0
    finally:
        host.disconnect()
        assert isinstance(host.connector, SSHConnector) and host.connector.client is not None
        host.connector.client.close()


def test_hosts_without_a_tcp_socket_of_their_own_are_left_alone() -> None:
    local = pyinfra_host("@local", {})
    local.connect(raise_exceptions=True)
    assert set_tcp_nodelay(local) is False
    not_connected = pyinfra_host("192.0.2.1", {})
    assert set_tcp_nodelay(not_connected) is False
