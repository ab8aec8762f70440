"""Shared fixtures: real sandbox hosts, booted for a test and always torn down."""

from __future__ import annotations

import itertools
import os
import signal
from collections.abc import Iterator

import pytest

import sandbox_hosts as sandbox
from sandbox_hosts import SandboxHost, docker_images, mirror_service


class SandboxFactory:
    """Boots sandbox hosts owned by this pytest process; ``teardown`` removes every one still up."""

    _counter = itertools.count(1)

    def __init__(self) -> None:
        self.hosts: dict[str, SandboxHost] = {}

    def boot(self, count: int = 1, login: sandbox.Login = "root", sandbox_images: bool = True) -> list[SandboxHost]:
        """``count`` fresh hosts; with ``sandbox_images``, the agents' sandbox images loaded from the harness's cache
        (``sandbox_hosts.docker_images``), which a deploy with the Docker sandbox would otherwise build on each."""
        names = [f"t{os.getpid() % 10000}x{next(self._counter)}" for _ in range(count)]
        booted = sandbox.up_many(names, owner_pid=os.getpid(), login=login)
        self.hosts.update({host.name: host for host in booted})
        if sandbox_images:
            for host in booted:
                docker_images.load_into(host)
        return booted

    def boot_vm_host(self, login: sandbox.Login = "root") -> SandboxHost:
        """A VM host (``sandbox_hosts.vm_host``): libvirt not yet installed, the guest image at its ``IMAGE_DIR``."""
        from sandbox_hosts import vm_host  # builds on the guest image's module: only tests that boot one load it

        host = vm_host.up_vm_host(f"hv{os.getpid() % 10000}x{next(self._counter)}", os.getpid(), login)
        self.hosts[host.name] = host
        return host

    def release(self, *hosts: SandboxHost) -> None:
        for host in hosts:
            sandbox.down(host.name)
            self.hosts.pop(host.name, None)

    def teardown(self) -> None:
        self.release(*self.hosts.values())


def _raise_interrupt(signum: int, frame: object) -> None:
    # pytest runs fixture finalizers on KeyboardInterrupt, not on SIGTERM: turn one into the other.
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def sandbox_factory() -> Iterator[SandboxFactory]:
    if os.geteuid() != 0:
        pytest.fail("sandbox tests boot systemd-nspawn hosts and must run as root")
    sandbox.prune_orphans()  # hosts of an earlier run that was killed before it could clean up
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    factory = SandboxFactory()
    try:
        yield factory
    finally:
        factory.teardown()
        if not sandbox.list_hosts() and not os.environ.get("OPENCLAW_TEST_LANES"):
            # Nothing of this run may keep serving after it: the next run must start its own. With lanes
            # (scripts/test_lanes.py) other pytest processes still use it; the lanes stop it when all are done.
            mirror_service.stop()
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture
def sandbox_host(sandbox_factory: SandboxFactory) -> Iterator[SandboxHost]:
    """A fresh host for this test alone."""
    (host,) = sandbox_factory.boot(1)
    try:
        yield host
    finally:
        sandbox_factory.release(host)


@pytest.fixture
def bare_sandbox_host(sandbox_factory: SandboxFactory) -> Iterator[SandboxHost]:
    """A fresh host for this test alone, without the cached sandbox images: its deploy builds them."""
    (host,) = sandbox_factory.boot(1, sandbox_images=False)
    try:
        yield host
    finally:
        sandbox_factory.release(host)


@pytest.fixture
def vm_host(sandbox_factory: SandboxFactory) -> Iterator[SandboxHost]:
    """A fresh VM host for this test alone (its VMs end with it)."""
    host = sandbox_factory.boot_vm_host()
    try:
        yield host
    finally:
        sandbox_factory.release(host)


@pytest.fixture(scope="module")
def shared_sandbox_host(sandbox_factory: SandboxFactory) -> Iterator[SandboxHost]:
    """One host for all tests of a module that only read from it or clean up after themselves."""
    (host,) = sandbox_factory.boot(1)
    try:
        yield host
    finally:
        sandbox_factory.release(host)
