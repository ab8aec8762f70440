"""The sandbox harness itself: real hosts boot, answer over SSH, are isolated, and leave nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import sandbox_hosts as sandbox
from sandbox_hosts import SandboxHost, network
from tests.conftest import SandboxFactory
from tests.helpers import PROJECT_ROOT, run_pyinfra

pytestmark = pytest.mark.sandbox


def traces_of(host: SandboxHost) -> list[str]:
    """Everything a host can leave behind on the machine; empty when it is fully gone."""
    found = []
    if host.directory in Path("/proc/mounts").read_text():
        found.append("mount")
    if network.netns_path(host.name).exists():
        found.append("netns")
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    if network.veth_name(host.name) + "@" in links:
        found.append("veth")
    if host.pid and Path(f"/proc/{host.pid}").exists():
        found.append("nspawn process")
    machine_processes = subprocess.run(
        ["pgrep", "-f", "--", f"--machine={host.name}( |$)"], capture_output=True, check=False
    )
    if machine_processes.returncode == 0:
        found.append("process")
    if Path(host.directory).exists():
        found.append("directory")
    if host.name in {listed.name for listed in sandbox.list_hosts()}:
        found.append("registry entry")
    return found


def test_host_boots_with_systemd_running(shared_sandbox_host: SandboxHost) -> None:
    assert shared_sandbox_host.run("systemctl is-system-running").stdout.strip() == "running"
    assert shared_sandbox_host.run("cat /proc/1/comm").stdout.strip() == "systemd"
    assert shared_sandbox_host.run("hostname").stdout.strip() == shared_sandbox_host.name


def test_pyinfra_runs_a_command_over_ssh(shared_sandbox_host: SandboxHost) -> None:
    marker = f"pyinfra-was-here-{os.getpid()}"
    result = run_pyinfra([shared_sandbox_host], "exec", "--", f"echo {marker} > /root/marker && cat /etc/hostname")
    assert shared_sandbox_host.name in result.stdout + result.stderr
    assert shared_sandbox_host.run("cat /root/marker").stdout.strip() == marker


def test_preflight_deploy_passes_on_a_sandbox_host(shared_sandbox_host: SandboxHost) -> None:
    result = run_pyinfra([shared_sandbox_host], "-v", "deploys/preflight.py")
    assert "host ready (Linux x86_64, systemd running)" in result.stdout + result.stderr


def test_host_reaches_package_registries_and_runs_docker(shared_sandbox_host: SandboxHost) -> None:
    status = shared_sandbox_host.run(
        "curl -sS -o /dev/null -w '%{http_code}' https://registry.npmjs.org/openclaw", timeout=60
    ).stdout
    assert status == "200"
    shared_sandbox_host.run("docker network create --internal harness-check && docker network rm harness-check")


def test_four_hosts_at_once_are_isolated(sandbox_factory: SandboxFactory) -> None:
    hosts = sandbox_factory.boot(4)
    try:
        assert len({host.address for host in hosts}) == 4
        first, *others = hosts
        first.run("echo only-on-first > /root/private && (sleep 600 >/dev/null 2>&1 &)")
        for other in others:
            assert other.run("systemctl is-system-running").stdout.strip() == "running"
            assert other.run("test -e /root/private", check=False).returncode == 1
            assert "sleep 600" not in other.run("ps -eo args").stdout
        assert first.run("cat /root/private").stdout.strip() == "only-on-first"
    finally:
        sandbox_factory.release(*hosts)
    for host in hosts:
        assert traces_of(host) == []


def test_twenty_hosts_boot_at_once(sandbox_factory: SandboxFactory) -> None:
    # Each host's systemd, logind, dbus and containerd hold root's inotify instances: at the kernel's default
    # limit (128) the 15th host failed to boot. The harness raises the limit before it boots a host.
    hosts = sandbox_factory.boot(20)
    try:
        limit = int(Path("/proc/sys/fs/inotify/max_user_instances").read_text())
        assert limit >= sandbox.hosts.config.KERNEL_LIMITS["fs/inotify/max_user_instances"]
        states = {host.name: host.run("systemctl is-system-running").stdout.strip() for host in hosts}
        assert set(states.values()) == {"running"}, states
    finally:
        sandbox_factory.release(*hosts)


def test_teardown_leaves_no_mount_namespace_or_process(sandbox_factory: SandboxFactory) -> None:
    (host,) = sandbox_factory.boot(1)
    # Docker inside mounts overlays of its own; those must go with the host too.
    host.run("docker network create --internal teardown-check")
    # While up, every kind of trace is there: proof that traces_of can see what it looks for.
    assert set(traces_of(host)) == {
        "mount",
        "netns",
        "veth",
        "nspawn process",
        "process",
        "directory",
        "registry entry",
    }
    sandbox_factory.release(host)
    assert traces_of(host) == []


@pytest.mark.parametrize("selftest", ["test_fails_with_host_up", "test_terminated_with_host_up"])
def test_fixture_tears_down_when_a_test_fails_or_is_terminated(selftest: str, tmp_path: Path) -> None:
    report = tmp_path / "host-name"
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            f"tests/fixtures/selftest/selftest_sandbox_cleanup.py::{selftest}",
        ],
        cwd=PROJECT_ROOT,
        env={**os.environ, "SELFTEST_REPORT": str(report)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert child.returncode != 0, child.stdout
    name = report.read_text()
    assert name not in {host.name for host in sandbox.list_hosts()}, child.stdout
    assert not (sandbox.hosts.config.STATE_DIR / name).exists()
    assert not network.netns_path(name).exists()


def test_orphans_of_a_killed_run_are_pruned() -> None:
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, signal; import sandbox_hosts as sandbox; "
            "h = sandbox.up('orphan1', owner_pid=os.getpid()); print(h.pid, flush=True); "
            "os.kill(os.getpid(), signal.SIGKILL)",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert child.returncode == -9, child.stderr
    orphan = sandbox.get_host("orphan1")
    assert orphan.is_alive()
    assert "orphan1" in sandbox.prune_orphans()
    assert traces_of(orphan) == []


def test_parallel_boots_in_a_gevent_patched_process(tmp_path: Path) -> None:
    # pyinfra's CLI modules monkey-patch whatever imports them: threads become greenlets of one OS thread, and a
    # greenlet that yields while holding the registry's flock would leave the next one blocked in flock for good.
    script = (
        "import os, pyinfra_cli; import sandbox_hosts as s; "
        "hosts = s.up_many(['gv1', 'gv2', 'gv3'], owner_pid=os.getpid()); print(len(hosts), flush=True); "
        "[s.down(h.name) for h in hosts]"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.stdout.strip() == "3", result.stderr[-3000:]


@pytest.mark.parametrize("patched", [False, True], ids=["threads", "gevent-patched"])
def test_hosts_booted_in_parallel_on_a_fresh_state_share_one_key_pair_and_token(tmp_path: Path, patched: bool) -> None:
    # up_many boots hosts in threads; on an empty state directory each one makes the key and the token. Under
    # pyinfra's gevent patching the threads are greenlets: a lock one waits for by blocking would never be released.
    script = (
        ("import pyinfra_cli; " if patched else "")
        + "from concurrent.futures import ThreadPoolExecutor; from sandbox_hosts import hosts; "
        "pool = ThreadPoolExecutor(max_workers=8); "
        "keys = set(pool.map(lambda _: str(hosts.ensure_ssh_key()), range(8))); "
        "tokens = set(pool.map(lambda _: str(hosts.ensure_demo_token()), range(8))); "
        "print(*sorted(keys), *sorted(tokens))"
    )
    state = tmp_path / "state"
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=PROJECT_ROOT, env={**os.environ, "OPENCLAW_SANDBOX_STATE": str(state)},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    key, token = (Path(path) for path in result.stdout.split())
    assert (key.parent.parent, token.parent) == (state, state)
    derived = subprocess.run(["ssh-keygen", "-y", "-f", str(key)], capture_output=True, text=True, check=True)
    assert derived.stdout.split()[:2] == key.with_suffix(".pub").read_text().split()[:2]
    assert len(token.read_text().strip()) >= 40 and token.stat().st_mode & 0o777 == 0o600
    assert sorted(path.name for path in token.parent.iterdir() if path.is_file()) == [token.name]
