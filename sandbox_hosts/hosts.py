"""Boot, find and tear down sandbox hosts: systemd-nspawn containers with systemd as PID 1.

Each host is an overlay on the cached base image (so it starts clean), in its own network namespace with its
own address, with Docker's data on a plain directory (overlayfs cannot be Docker's overlay2 backing store).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from sandbox_hosts import cgroups, config, image, mirror_service, network
from sandbox_hosts.locks import lock_cooperatively

HOST_NAME = re.compile(r"^[a-z][a-z0-9-]{0,9}$")
SSH_KEY_NAME = "id_ed25519"
# How a host is reached: root over SSH (the default), or only as a non-root sudo user, the way most VPS and
# cloud images are (root's SSH login refused), with passwordless sudo or sudo that asks for a password.
Login = Literal["root", "sudo-nopasswd", "sudo-password"]
LOGINS: tuple[Login, ...] = ("root", "sudo-nopasswd", "sudo-password")
SUDO_USER = "admin"


class SandboxError(RuntimeError):
    pass


@dataclass(frozen=True)
class SandboxHost:
    name: str
    index: int
    address: str
    pid: int
    directory: str
    # The process that asked for this host and tears it down (pytest); 0 for hosts made from the CLI.
    owner_pid: int = 0
    created: float = field(default_factory=time.time)
    login: Login = "root"

    @property
    def login_user(self) -> str:
        return "root" if self.login == "root" else SUDO_USER

    @property
    def sudo_password_file(self) -> Path:
        return Path(self.directory) / "sudo-password"

    @property
    def ssh_key(self) -> Path:
        return ssh_key_path()

    @property
    def known_hosts(self) -> Path:
        return Path(self.directory) / "known_hosts"

    @property
    def root(self) -> Path:
        return Path(self.directory) / "root"

    def ssh_args(self) -> list[str]:
        return [
            "ssh",
            "-i",
            str(self.ssh_key),
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=accept-new",
            "-o",
            f"UserKnownHostsFile={self.known_hosts}",
            "-o",
            "LogLevel=ERROR",
            "-o",
            "ConnectTimeout=5",
            f"{self.login_user}@{self.address}",
        ]

    def root_shell_args(self) -> list[str]:
        """A root shell on the host: over SSH where root logs in, else entered from the machine (nsenter into
        the host's PID 1), so tests can inspect a host whose only SSH login is a sudo user."""
        if self.login == "root":
            return self.ssh_args()
        leader = _container_leader(self.pid)
        namespaces = ["--mount", "--uts", "--ipc", "--net", "--pid", "--cgroup"]
        return ["nsenter", f"--target={leader}", *namespaces, "--", "env", "-i", f"PATH={ROOT_PATH}", "sh", "-c"]

    def run(self, command: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run a shell command on the host as root (over real SSH where root may log in)."""
        result = subprocess.run(
            [*self.root_shell_args(), command], capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise SandboxError(f"{self.name}: {command!r} exited {result.returncode}\n{result.stdout}{result.stderr}")
        return result

    def pyinfra_data(self) -> dict[str, object]:
        """Connection data for pyinfra's @ssh connector."""
        data: dict[str, object] = {
            "ssh_hostname": self.address,
            "ssh_user": self.login_user,
            "ssh_key": str(self.ssh_key),
            "ssh_known_hosts_file": str(self.known_hosts),
            "ssh_strict_host_key_checking": "accept-new",
            "sandbox_name": self.name,
        }
        if self.login != "root":
            data["_sudo"] = True
        if self.login == "sudo-password":
            data["_sudo_password"] = self.sudo_password_file.read_text().strip()
        return data

    def testinfra_url(self) -> str:
        return f"paramiko://root@{self.address}?ssh_identity_file={self.ssh_key}"

    def is_alive(self) -> bool:
        return _process_alive(self.pid)


ROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _container_leader(nspawn_pid: int) -> int:
    """The host's PID 1 as the machine sees it: the child systemd-nspawn forked."""
    for task in Path(f"/proc/{nspawn_pid}/task").iterdir():
        children = (task / "children").read_text().split()
        if children:
            return int(children[0])
    raise SandboxError(f"systemd-nspawn {nspawn_pid} has no child: the host is not running")


def ssh_key_path() -> Path:
    return config.STATE_DIR / "ssh" / SSH_KEY_NAME


def ensure_ssh_key() -> Path:
    """The harness's key pair, made once. Hosts booted in parallel (threads or processes) race here, and ssh-keygen
    fails rather than overwrite: one makes the pair under a lock while the others wait for it."""
    key = ssh_key_path()
    if not key.exists():
        config.state_dir()
        key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with (key.parent / ".lock").open("w") as lock:
            lock_cooperatively(lock)
            if not key.exists():
                made = key.with_name(f"{SSH_KEY_NAME}.new")
                for stale in (made, made.with_name(f"{made.name}.pub")):
                    stale.unlink(missing_ok=True)
                subprocess.run(
                    ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "openclaw-sandbox", "-f", str(made)],
                    check=True,
                )
                # The private key last: a reader that finds it finds the public half too.
                made.with_name(f"{made.name}.pub").rename(key.with_name(f"{SSH_KEY_NAME}.pub"))
                made.rename(key)
    return key


def demo_token_path() -> Path:
    return config.STATE_DIR / "demo-gateway-token"


def ensure_demo_token() -> Path:
    """A random gateway token for deploys to sandbox hosts, readable by root only. Written whole under a name
    of its own, then linked into place: of hosts booted in parallel, the first link wins, none reads it half-written."""
    path = demo_token_path()
    if not path.exists():
        config.state_dir()
        staged = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}")
        descriptor = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
        try:
            with contextlib.suppress(FileExistsError):
                os.link(staged, path)
        finally:
            staged.unlink()
    return path


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _registry_file(name: str) -> Path:
    return config.RUN_DIR / f"{name}.json"


def _register(host: SandboxHost) -> None:
    """Write ``host``'s registry entry in one rename: hosts booting in parallel list the registry while others
    write to it, and must never read a half-written entry."""
    staged = config.RUN_DIR / f".{host.name}.json.new"
    staged.write_text(json.dumps(asdict(host)))
    staged.replace(_registry_file(host.name))


@contextlib.contextmanager
def _registry_lock() -> Iterator[None]:
    with (config.run_dir() / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def list_hosts() -> list[SandboxHost]:
    if not config.RUN_DIR.is_dir():
        return []
    hosts = [SandboxHost(**json.loads(path.read_text())) for path in sorted(config.RUN_DIR.glob("*.json"))]
    return sorted(hosts, key=lambda host: host.index)


def get_host(name: str) -> SandboxHost:
    path = _registry_file(name)
    if not path.exists():
        raise SandboxError(f"no sandbox host named {name!r}; `python -m sandbox_hosts list` shows them")
    return SandboxHost(**json.loads(path.read_text()))


def _reserve(name: str) -> int:
    """Claim a free index for ``name`` (written before boot so parallel ups never share an address).

    Indexes whose subnet is already on one of the machine's interfaces are skipped: a host of another run
    (another ``RUN_DIR``, or one whose registry was lost) may still hold it. That is read before the lock is
    taken: the lock is a blocking flock, and under gevent (pyinfra's CLI modules monkey-patch whatever imports
    them) a subprocess inside it would let another greenlet of this thread block on the flock for good.
    """
    if not _registry_file(name).exists() and network.exists(name):
        if network.has_processes(name):
            raise SandboxError(
                f"a sandbox host named {name!r} of another run (another OPENCLAW_SANDBOX_RUN) is running; "
                "take it down there, or choose another name"
            )
        network.destroy(name)  # a stale namespace: its host is gone
    held_elsewhere = network.indexes_in_use()
    with _registry_lock():
        if _registry_file(name).exists():
            raise SandboxError(f"sandbox host {name!r} already exists; take it down first")
        used = {host.index for host in list_hosts()} | held_elsewhere
        free = next((index for index in range(1, config.MAX_HOSTS + 1) if index not in used), None)
        if free is None:
            raise SandboxError(f"all {config.MAX_HOSTS} sandbox addresses are in use")
        placeholder = SandboxHost(name, free, str(network.host_address(free)), 0, str(config.STATE_DIR / name))
        _register(placeholder)
        return free


def _mount_overlay(lower: Path, directory: Path) -> Path:
    upper, work, root = directory / "upper", directory / "work", directory / "root"
    for path in (upper, work, root, directory / "docker"):
        path.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={lower},upperdir={upper},workdir={work}", str(root)],
        check=True,
    )
    return root


def _authorize_key(home: Path, uid: int) -> None:
    ssh_dir = home / ".ssh"
    ssh_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    authorized = ssh_dir / "authorized_keys"
    authorized.write_text(ssh_key_path().with_suffix(".pub").read_text())
    authorized.chmod(0o600)
    for path in (ssh_dir, authorized):
        os.chown(path, uid, uid)


def _add_sudo_user(root: Path, login: Login, password_file: Path) -> None:
    """The only SSH login of the host: ``admin``, with sudo; root may not log in over SSH."""
    chroot = ["chroot", str(root)]
    subprocess.run([*chroot, "useradd", "--create-home", "--shell", "/bin/bash", SUDO_USER], check=True)
    uid = int(subprocess.run([*chroot, "id", "-u", SUDO_USER], capture_output=True, text=True, check=True).stdout)
    _authorize_key(root / "home" / SUDO_USER, uid)
    (root / "etc/ssh/sshd_config.d/00-login.conf").write_text(image.harness_file("sshd-no-root-login.conf"))
    keep_ca = root / "etc/sudoers.d/00-sandbox-ca"
    keep_ca.write_text(image.harness_file("sudoers-keep-ca"))
    keep_ca.chmod(0o440)
    sudoers = root / "etc/sudoers.d" / SUDO_USER
    if login == "sudo-nopasswd":
        sudoers.write_text(f"{SUDO_USER} ALL=(ALL:ALL) NOPASSWD: ALL\n")
    else:
        password = secrets.token_urlsafe(18)
        descriptor = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(password + "\n")
        # Through stdin: a password never goes on a command line.
        subprocess.run([*chroot, "chpasswd"], input=f"{SUDO_USER}:{password}\n", text=True, check=True)
        sudoers.write_text(f"{SUDO_USER} ALL=(ALL:ALL) ALL\n")
    sudoers.chmod(0o440)


def _personalise(root: Path, name: str, login: Login, directory: Path) -> None:
    if login == "root":
        _authorize_key(root / "root", 0)
    else:
        _add_sudo_user(root, login, directory / "sudo-password")
    (root / "etc/hostname").write_text(f"{name}\n")
    (root / "etc/environment").write_text(image.harness_file("environment"))
    (root / "etc/hosts").write_text(f"127.0.0.1 localhost\n127.0.1.1 {name}\n::1 localhost ip6-localhost\n")


def raise_kernel_limits() -> dict[str, int]:
    """Raise the machine-wide limits many hosts need (``config.KERNEL_LIMITS``) where they are lower; returns
    the values in force afterwards."""
    in_force = {}
    for name, wanted in config.KERNEL_LIMITS.items():
        setting = Path("/proc/sys") / name
        current = int(setting.read_text())
        if current < wanted:
            setting.write_text(f"{wanted}\n")
            current = wanted
        in_force[name] = current
    return in_force


def _nspawn_command(name: str, directory: Path, read_only_binds: Sequence[tuple[Path, str]] = ()) -> list[str]:
    return [
        "systemd-nspawn",
        # The machine has no systemd/dbus of its own to register with.
        "--register=no",
        "--keep-unit",
        "--boot",
        f"--directory={directory / 'root'}",
        f"--machine={name}",
        f"--network-namespace-path={network.netns_path(name)}",
        "--resolv-conf=copy-host",
        # Docker inside needs these; the host is disposable and has its own network namespace.
        "--capability=all",
        "--system-call-filter=@mount @keyring bpf",
        f"--bind={directory / 'docker'}:/var/lib/docker",
        "--console=passive",
        *(f"--bind-ro={source}:{target}" for source, target in read_only_binds),
    ]


def _nspawn_env() -> dict[str, str]:
    return {
        **os.environ,
        # Without it nspawn fails on this kernel's hybrid cgroup layout.
        "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY": "1",
        # /proc/sys/net writable: Docker and ufw set forwarding sysctls; the namespace is the host's own.
        "SYSTEMD_NSPAWN_API_VFS_WRITABLE": "network",
    }


def _wait_for_ssh(host: SandboxHost, deadline: float) -> None:
    while time.monotonic() < deadline:
        if not host.is_alive():
            raise SandboxError(f"{host.name}: systemd-nspawn exited during boot")
        with contextlib.suppress(OSError), socket.create_connection((host.address, 22), timeout=1):
            break
        time.sleep(0.2)
    else:
        raise SandboxError(f"{host.name}: sshd did not answer within {config.BOOT_TIMEOUT_SECONDS}s")
    retried = False
    while time.monotonic() < deadline:
        state = host.run("systemctl is-system-running --wait", check=False, timeout=max(1, deadline - time.monotonic()))
        if state.stdout.strip() == "running":
            return
        if state.stdout.strip() in {"degraded", "maintenance", "stopping"}:
            failed = host.run("systemctl --failed --no-legend --plain", check=False).stdout
            units = [line.split()[0] for line in failed.splitlines() if line.strip()]
            if retried or not units:
                raise SandboxError(f"{host.name}: system is {state.stdout.strip()}; failed units:\n{failed}")
            # Several hosts booting at once on a busy machine: a start-up job (ufw-init, seen) may time out.
            # One restart tells a passing hiccup from a broken image; a second failure fails the boot.
            retried = True
            host.run(f"systemctl reset-failed && systemctl restart {' '.join(units)}", check=False, timeout=60)
            continue
        time.sleep(0.5)
    raise SandboxError(f"{host.name}: not running within {config.BOOT_TIMEOUT_SECONDS}s")


def up(
    name: str, owner_pid: int = 0, login: Login = "root", read_only_binds: Sequence[tuple[Path, str]] = ()
) -> SandboxHost:
    """Boot one host and return when sshd answers and systemd reports ``running``.

    ``read_only_binds``: ``(directory on the machine, path in the host)`` pairs the host sees read-only (a VM
    host's guest image, see ``vm_host``).
    """
    if not HOST_NAME.match(name):
        raise SandboxError(f"host name {name!r}: use 1-10 characters, a lowercase letter first, then [a-z0-9-]")
    if login not in LOGINS:
        raise SandboxError(f"login {login!r}: one of {', '.join(LOGINS)}")
    lower = image.ensure_image()
    ensure_ssh_key()
    ensure_demo_token()
    network.ensure_nat()
    raise_kernel_limits()
    mirror_service.ensure_running()
    index = _reserve(name)
    directory = config.STATE_DIR / name
    _cleanup(name, directory)  # whatever a crashed run left under this name
    try:
        root = _mount_overlay(lower, directory)
        _personalise(root, name, login, directory)
        network.create(name, index)
        with (directory / "console.log").open("w") as console:
            process = subprocess.Popen(
                cgroups.started_in(cgroups.create(name), _nspawn_command(name, directory, read_only_binds)),
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                env=_nspawn_env(),
                start_new_session=True,
            )
        host = SandboxHost(
            name, index, str(network.host_address(index)), process.pid, str(directory), owner_pid, login=login
        )
        _register(host)
        _wait_for_ssh(host, time.monotonic() + config.BOOT_TIMEOUT_SECONDS)
    except BaseException as error:
        console_log = directory / "console.log"
        tail = console_log.read_text()[-2000:] if console_log.exists() else ""
        down(name)
        if isinstance(error, SandboxError | subprocess.CalledProcessError):
            raise SandboxError(f"{name}: boot failed: {error}\nconsole:\n{tail}") from error
        raise
    return host


def up_many(names: Sequence[str], owner_pid: int = 0, login: Login = "root") -> list[SandboxHost]:
    """Boot several hosts in parallel; if any fails, the others are taken down too."""
    image.ensure_image()  # once, before the threads race for it
    mirror_service.ensure_running()
    with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
        futures = [pool.submit(up, name, owner_pid, login) for name in names]
        results: list[SandboxHost] = []
        errors: list[BaseException] = []
        for future in futures:
            try:
                results.append(future.result())
            except BaseException as error:  # collect all, so none is left running
                errors.append(error)
    if errors:
        for host in results:
            down(host.name)
        raise errors[0]
    return results


def _stop_process(pid: int) -> None:
    if not _process_alive(pid):
        return
    # SIGTERM to nspawn asks the host's systemd for a clean halt.
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + config.STOP_TIMEOUT_SECONDS
    while time.monotonic() < deadline and _process_alive(pid):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.2)
    if _process_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def _cleanup(name: str, directory: Path) -> None:
    root = directory / "root"
    if os.path.ismount(root):
        result = subprocess.run(["umount", str(root)], capture_output=True, check=False)
        if result.returncode != 0:
            subprocess.run(["umount", "-l", str(root)], check=False)
    network.destroy(name)
    cgroups.remove(name)
    shutil.rmtree(directory, ignore_errors=True)


def down(name: str) -> None:
    """Halt the host and remove every trace of it: process, mount, namespace, files, registry entry."""
    path = _registry_file(name)
    if path.exists():
        host = SandboxHost(**json.loads(path.read_text()))
        _stop_process(host.pid)
        directory = Path(host.directory)
    else:
        directory = config.STATE_DIR / name
    _cleanup(name, directory)
    path.unlink(missing_ok=True)


def down_all() -> list[str]:
    names = [host.name for host in list_hosts()]
    for name in names:
        down(name)
    mirror_service.stop()
    return names


def prune_orphans() -> list[str]:
    """Tear down hosts whose owner (a test run) died without tearing them down, or whose nspawn is gone."""
    orphans = [
        host.name
        for host in list_hosts()
        if (host.owner_pid and not _process_alive(host.owner_pid)) or (host.pid and not host.is_alive())
    ]
    for name in orphans:
        down(name)
    return orphans
