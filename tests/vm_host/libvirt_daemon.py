"""A real libvirtd (qemu driver) on this machine for the VM host deploy's live test: Debian's packages installed when
missing, virtlogd and libvirtd started by hand (systemd is not PID 1 here) and stopped afterwards by the pids they
were started with. A libvirtd that was already running is used as it is and left running.

One quirk of these machines is worked around for the daemon the test starts: ``/dev/kvm`` exists but only root may
open it, so libvirt's capability probe (run as root) finds KVM while its later check (as libvirt-qemu) does not, and
it probes qemu again on every lookup (a ``virsh define`` then takes 30-60 s). That libvirtd runs in a mount namespace
of its own where /dev/kvm is an empty file (the probe then finds no KVM and the cache stays valid), with a copy of
qemu.conf that gives qemu no /dev namespace of its own (libvirt would try to carry the masking mount into it). The
test's domains are ``qemu`` (TCG) anyway; nothing outside that namespace sees either change.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGES = ["libvirt-daemon-system", "libvirt-clients", "qemu-system-x86", "qemu-utils", "dnsmasq-base", "genisoimage"]
URI = "qemu:///system"
NETWORK = "default"
LIBVIRTD_PID = Path("/run/libvirtd.pid")
VIRTLOGD_PID = Path("/run/virtlogd.pid")
QEMU_CONF = Path("/etc/libvirt/qemu.conf")
# The test's own files for the masking (names prefixed 'op', as everything this test makes).
MASK_DIR = Path("/run/openclaw-op-libvirt-test")


def virsh(*words: str, check: bool = True) -> str:
    result = subprocess.run(
        ["virsh", "-c", URI, *words], capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"}, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"virsh {' '.join(words)} exited {result.returncode}: {result.stderr.strip()}")
    return result.stdout


def install_missing_packages() -> None:
    missing = [
        package
        for package in PACKAGES
        if "install ok installed"
        not in subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True, check=False
        ).stdout
    ]
    if missing:
        environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=True, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
            check=True,
            capture_output=True,
            env=environment,
        )


def _running_pid(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def _wait_for(what: str, ready: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not come up within {seconds} s")
        time.sleep(0.2)


def _libvirtd_answers() -> bool:
    return subprocess.run(["virsh", "-c", URI, "version"], capture_output=True, check=False).returncode == 0


def _start_masked_libvirtd() -> None:
    MASK_DIR.mkdir(mode=0o700, exist_ok=True)
    no_kvm = MASK_DIR / "no-kvm"
    no_kvm.touch(mode=0o600)
    qemu_conf = MASK_DIR / "qemu.conf"
    qemu_conf.write_text(
        QEMU_CONF.read_text() + "\n# The live test's copy: no per-VM /dev namespace.\nnamespaces = []\n"
    )
    mounts = [f"mount --bind {qemu_conf} {QEMU_CONF}"]
    if Path("/dev/kvm").exists():
        mounts.append(f"mount --bind {no_kvm} /dev/kvm")
    subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", " && ".join([*mounts, "exec libvirtd -d"])],
        check=True,
    )


@dataclass
class LibvirtDaemon:
    """What the test started (and so stops), and how it found the network."""

    started_pids: list[int]
    network_was_active: bool
    network_was_autostarted: bool


@contextlib.contextmanager
def libvirt_daemon() -> Iterator[LibvirtDaemon]:
    install_missing_packages()
    started: list[int] = []
    if _running_pid(VIRTLOGD_PID) is None:
        subprocess.run(["virtlogd", "-d"], check=True)
        _wait_for("virtlogd", lambda: _running_pid(VIRTLOGD_PID) is not None)
        started.append(_running_pid(VIRTLOGD_PID) or 0)
    if _running_pid(LIBVIRTD_PID) is None:
        _start_masked_libvirtd()
        _wait_for("libvirtd", lambda: _running_pid(LIBVIRTD_PID) is not None and _libvirtd_answers())
        started.append(_running_pid(LIBVIRTD_PID) or 0)
    info = virsh("net-info", "--network", NETWORK)
    daemon = LibvirtDaemon(started, "Active:         yes" in info, "Autostart:      yes" in info)
    try:
        yield daemon
    finally:
        # The network as it was found (the deploy starts and autostarts it), then what this test started.
        if not daemon.network_was_autostarted:
            virsh("net-autostart", "--network", NETWORK, "--disable", check=False)
        if not daemon.network_was_active:
            virsh("net-destroy", "--network", NETWORK, check=False)
        for pid in reversed(started):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            _wait_for(f"pid {pid} to end", lambda pid=pid: not Path(f"/proc/{pid}").exists(), seconds=30)
        if started:
            shutil.rmtree(MASK_DIR, ignore_errors=True)
