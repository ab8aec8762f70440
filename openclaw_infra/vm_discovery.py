"""Which declared VMs are running, and at which address: the pyinfra hosts of ``inventories/vms.py``.

Given the VM hosts file's entries, ``vm_groups`` validates every VM host and VM (before any connection), asks
every VM host at once for its VMs with its hypervisor's VM-list fact (``LibvirtVms``, ``MultipassVms``,
``UtmVms``: the fact's own command, wrapped as pyinfra wraps it, over paramiko for a VM host reached by SSH or in a
local subprocess for ``@local``, and parsed by the fact's own ``process``), and returns one pyinfra host per
running declared VM, in a group per VM host, reached through the VM host where its network is private to it.

A declared VM that is not there as declared (stopped, missing, running without an address, or on a VM host that
cannot be asked) is never dropped silently: one line on stderr names it and the fix, and the drift command reads
the same list (``recording_unavailable``) to report it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from pathlib import Path
from typing import IO, Any

from paramiko import SSHClient as ParamikoClient
from paramiko import SSHException
from pyinfra.api.facts import _MISSING_COMMAND_MARKER, FactBase
from pyinfra.connectors.sshuserclient.client import SSHClient

from openclaw_infra.facts.libvirt import LibvirtVms
from openclaw_infra.facts.lume import LumeVms
from openclaw_infra.facts.multipass import MultipassVms
from openclaw_infra.facts.parallels import ParallelsVms
from openclaw_infra.facts.utm import UtmVms
from openclaw_infra.facts.vm_record import VmRecord, VmState
from openclaw_infra.host_settings import SettingsError
from openclaw_infra.host_suite.fact_reading import FactUnreadable, read_fact_value
from openclaw_infra.inventory import HostEntry, vm_hosts_with_settings
from openclaw_infra.operations.lume_vms import owner_path
from openclaw_infra.quoting import shell_word
from openclaw_infra.settings import Hypervisor, VirtualMachine, VmHost
from openclaw_infra.ssh_tuning import set_client_tcp_nodelay
from openclaw_infra.vm_host_settings import VM_HOST_KEY, VmHostSettings

LOCAL = "@local"
# What converges the VMs themselves (create, start, stop, remove): every fix below names it.
VM_HOST_DEPLOY = "pyinfra inventories/vm_hosts.py deploys/vm_host.py"
FACTS: dict[Hypervisor, type[FactBase[list[VmRecord]]]] = {
    "libvirt": LibvirtVms,
    "multipass": MultipassVms,
    "utm": UtmVms,
    "lume": LumeVms,
    "parallels": ParallelsVms,
}
TOOLS: dict[Hypervisor, str] = {
    "libvirt": "virsh",
    "multipass": "multipass",
    "utm": "utmctl",
    "lume": "lume",
    "parallels": "prlctl",
}
# The addresses libvirt's own DHCP handed out: the network deploys/vm_host.py attaches its VMs to.
LIBVIRT_ADDRESS_SOURCE = "lease"
# The tools' words for a VM on its way up (multipass "Starting", UTM "starting"/"resuming"): only then is an
# address worth waiting for. libvirt has no such state, so loading the inventory never waits on it.
STARTING_STATES = frozenset({"starting", "restarting", "resuming"})
POLL_SECONDS = 2.0
CONNECT_TIMEOUT = 10  # pyinfra's own default (config.CONNECT_TIMEOUT)
COMMAND_TIMEOUT = 120
# Connection data a VM takes from its VM host's: the operator's key (declare its .pub as the VM's ssh_public_key)
# and where host keys are kept and how they are trusted. Never the address, user, port or password.
INHERITED_DATA = (
    "ssh_key",
    "ssh_key_password",
    "ssh_known_hosts_file",
    "ssh_strict_host_key_checking",
    "ssh_allow_agent",
    "ssh_look_for_keys",
)
# A VM that has just come up may turn SSH away for a moment after the VM host deploy saw its port answer (its
# sshd restarted while cloud-init finishes; seen in the real libvirt flow): pyinfra's connector tries again, up
# to this many times, 2-5 s apart. The VM host's data may set other values.
CONNECT_RETRIES = {"ssh_connect_retries": 5, "ssh_connect_retry_min_delay": 2.0, "ssh_connect_retry_max_delay": 5.0}
STRICT_HOST_KEY_CHECKING = ("yes", "no", "off", "accept-new", "ask")
DEFAULT_STRICT_HOST_KEY_CHECKING = "accept-new"  # pyinfra's default for the ssh_strict_host_key_checking data
# The VM host as the jump's name in the SSH config written for its VMs.
JUMP_ALIAS = "openclaw-vm-host"
# A value an SSH config line can carry as it is: no space (pyinfra splits UserKnownHostsFile on it), no quote or
# '#' (paramiko would strip or cut them), no '%' (ssh's tokens), no control character (a new line is a new option).
_UNSAFE_IN_SSH_CONFIG = frozenset(' \t"#%\\') | {chr(code) for code in (*range(32), 127)}
# Configs of addresses no longer current are removed after this long (a run still using one is long over).
STALE_CONFIG_SECONDS = 7 * 24 * 3600

GroupData = dict[str, Any]
Groups = dict[str, tuple[list[HostEntry], GroupData]]


@dataclasses.dataclass(frozen=True)
class UnavailableVm:
    """A declared VM not there as declared: the VM host, the VM, what was found, and what fixes it.

    ``listed`` is False when the VM host could not be asked at all (unreachable, its hypervisor not answering):
    then the VM's state is unknown rather than wrong.
    """

    vm_host: str
    vm: str
    declared: str
    found: str
    fix: str
    listed: bool = True

    def message(self) -> str:
        state = "" if self.declared == "running" else f" {self.declared}"
        return f"VM {self.vm!r} on {self.vm_host} is declared{state} but {self.found}: {self.fix}"


@dataclasses.dataclass(frozen=True)
class Discovery:
    """What one discovery found: the pyinfra groups (one per VM host with a VM to reach) and what is unavailable."""

    groups: Groups
    unavailable: list[UnavailableVm]


class VmDiscoveryError(SettingsError):
    """The jump configs' directory is not this user's alone: checked before any VM host is asked."""


# The drift command's window onto what an inventory's discovery found (see ``recording_unavailable``).
_RECORDED: ContextVar[list[UnavailableVm] | None] = ContextVar("openclaw_unavailable_vms", default=None)


@contextlib.contextmanager
def recording_unavailable() -> Iterator[list[UnavailableVm]]:
    """Collect every unavailable VM the discoveries run inside this block report.

    The drift command wraps loading the inventory in it: pyinfra executes an inventory file and keeps only its
    host groups, so what the file found missing comes back through here, from any inventory (yours too) that
    calls ``vm_groups``. Outside such a block nothing is kept: the stderr lines are the whole report.
    """
    found: list[UnavailableVm] = []
    token = _RECORDED.set(found)
    try:
        yield found
    finally:
        _RECORDED.reset(token)


@dataclasses.dataclass
class _Result:
    # Mutable on purpose: fact_reading's CommandResult protocol declares plain attributes.
    rc: int
    stdout: str
    stderr: str


class _Runner:
    """Runs one shell command line (a fact's, as pyinfra wraps it) on a VM host; keeps the last output."""

    def __init__(self, sudo: bool) -> None:
        # As testinfra's --sudo: non-interactive, so a sudo that wants a password fails at once and says so.
        self.sudo_prefix = ["sudo", "-H", "-n"] if sudo else []
        self.last_stdout = ""
        # A PATH the command needs beyond the login's (lume's ~/.local/bin), or None.
        self.path: str | None = None

    def run(self, command: str, *args: str, **kwargs: Any) -> _Result:
        if self.path is not None:
            command = f"PATH={shell_word(self.path)}:\"$PATH\"; export PATH; {command}"
        result = self._run(command)
        self.last_stdout = result.stdout
        return result

    def _run(self, command: str) -> _Result:
        raise NotImplementedError

    def close(self) -> None:
        pass


class _LocalRunner(_Runner):
    def _run(self, command: str) -> _Result:
        done = subprocess.run(
            [*self.sudo_prefix, "sh", "-c", command],
            capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        return _Result(done.returncode, done.stdout, done.stderr)


class _SshRunner(_Runner):
    def __init__(self, client: ParamikoClient, sudo: bool) -> None:
        super().__init__(sudo)
        self.client = client

    def _run(self, command: str) -> _Result:
        line = " ".join([*self.sudo_prefix, command])
        stdin, stdout, stderr = self.client.exec_command(line, timeout=COMMAND_TIMEOUT)
        stdin.close()
        out = stdout.read().decode("utf-8", "replace")
        err = stderr.read().decode("utf-8", "replace")
        return _Result(stdout.channel.recv_exit_status(), out, err)

    def close(self) -> None:
        self.client.close()


def _ssh_client(name: str, data: Mapping[str, Any]) -> ParamikoClient:
    """A paramiko connection to the VM host as pyinfra's SSH connector makes it from the same host data (pyinfra's
    own client: the operator's SSH config, known hosts and host key policy honoured), Nagle off."""
    kwargs: dict[str, Any] = {"timeout": CONNECT_TIMEOUT}
    if data.get("ssh_user"):
        kwargs["username"] = data["ssh_user"]
    if data.get("ssh_port"):
        kwargs["port"] = int(data["ssh_port"])
    if data.get("ssh_password"):
        kwargs["password"] = data["ssh_password"]
    if data.get("ssh_key"):
        kwargs.update(
            key_filename=os.path.expanduser(data["ssh_key"]),
            passphrase=data.get("ssh_key_password"),
            allow_agent=False,
            look_for_keys=False,
        )
    else:
        kwargs.update(allow_agent=data.get("ssh_allow_agent", True), look_for_keys=data.get("ssh_look_for_keys", True))
    client = SSHClient()
    try:
        client.connect(  # type: ignore[no-untyped-call]  # pyinfra leaves it unannotated
            data.get("ssh_hostname") or name,
            _pyinfra_ssh_config_file=data.get("ssh_config_file"),
            _pyinfra_ssh_known_hosts_file=data.get("ssh_known_hosts_file"),
            _pyinfra_ssh_strict_host_key_checking=data.get("ssh_strict_host_key_checking")
            or DEFAULT_STRICT_HOST_KEY_CHECKING,
            _pyinfra_ssh_paramiko_connect_kwargs=data.get("ssh_paramiko_connect_kwargs"),
            **kwargs,
        )
    except BaseException:
        client.close()
        raise
    set_client_tcp_nodelay(client)
    return client


@dataclasses.dataclass(frozen=True)
class VmListing:
    """One VM host's answer: its VMs, or why it could not be asked."""

    vms: list[VmRecord] = dataclasses.field(default_factory=list)
    error: str | None = None
    tool_missing: bool = False


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if isinstance(error, FactUnreadable) else f"{type(error).__name__}: {text}"


def _starting(vm_host: VmHost, vms: list[VmRecord]) -> bool:
    wanted = {vm.name for vm in vm_host.vms if vm.state == "running"}
    return any(record.name in wanted and record.raw_state.strip().lower() in STARTING_STATES for record in vms)


def vm_list_fact(vm_host: VmHost) -> tuple[type[FactBase[list[VmRecord]]], dict[str, Any]]:
    """The VM-list fact of ``vm_host``'s hypervisor and its arguments."""
    if vm_host.hypervisor == "libvirt":
        return LibvirtVms, {"uri": vm_host.libvirt_uri, "address_source": LIBVIRT_ADDRESS_SOURCE}
    return FACTS[vm_host.hypervisor], {}


def list_vms(name: str, data: Mapping[str, Any], vm_host: VmHost) -> VmListing:
    """The VMs on one VM host, as its hypervisor's fact reads them; while a declared VM is starting, asked again
    until it is not or ``address_wait_seconds`` have passed."""
    fact, arguments = vm_list_fact(vm_host)
    runner: _Runner
    # Lume and Parallels list the VMs of the user who asks: their owner's, as the VM host deploy runs them.
    sudo = bool(data.get("_sudo")) and not vm_host.macos_guests
    try:
        runner = _LocalRunner(sudo) if name == LOCAL else _SshRunner(_ssh_client(name, data), sudo)
        if vm_host.macos_guests and vm_host.vm_owner:
            runner.path = owner_path(vm_host.vm_owner)
    except (OSError, SSHException, EOFError) as error:
        return VmListing(error=f"cannot connect: {_one_line(error)}")
    try:
        started = time.monotonic()
        while True:
            vms: list[VmRecord] = read_fact_value(runner, fact, arguments)
            if not _starting(vm_host, vms) or time.monotonic() - started >= vm_host.address_wait_seconds:
                break
            time.sleep(POLL_SECONDS)
    except (FactUnreadable, OSError, SSHException, EOFError, subprocess.TimeoutExpired) as error:
        return VmListing(error=f"cannot list its VMs: {_one_line(error)}")
    finally:
        runner.close()
    return VmListing(vms, tool_missing=runner.last_stdout.strip() == _MISSING_COMMAND_MARKER)


def _deploy_fix(action: str) -> str:
    return f"run `{VM_HOST_DEPLOY}` to {action} it."


def judge_vm(
    host_name: str, vm_host: VmHost, vm: VirtualMachine, listing: VmListing, needs_address: bool = True
) -> VmRecord | UnavailableVm | None:
    """The VM's record when it runs as declared with an address to reach it at (any address, unless
    ``needs_address``); what is wrong with it when it is not as declared; None when it is as declared and not
    running (stopped, or absent)."""
    tool = TOOLS[vm_host.hypervisor]

    def unavailable(found: str, fix: str, listed: bool = True) -> UnavailableVm:
        return UnavailableVm(host_name, vm.name, vm.state, found, fix, listed)

    if listing.error is not None:
        return unavailable(
            f"its VM host cannot be asked ({listing.error})",
            f"its state is unknown; make {host_name} answer (its connection data, {tool} there), then load the "
            "inventory again.",
            listed=False,
        )
    record = next((record for record in listing.vms if record.name == vm.name), None)
    if record is None:
        why = f"{tool} is not installed there" if listing.tool_missing else f"{tool} lists no VM of that name"
        if vm.state == "absent":
            return None
        return unavailable(f"missing ({why})", _deploy_fix("create" if vm.state == "stopped" else "create and start"))
    said = f"{tool} says {record.raw_state!r}"
    if vm.state == "absent":
        return unavailable(f"present ({said})", _deploy_fix("remove"))
    if vm.state == "stopped":
        if record.state is VmState.RUNNING:
            return unavailable(f"running ({said})", _deploy_fix("stop"))
        return None
    if record.raw_state.strip().lower() in STARTING_STATES:
        return unavailable(
            f"starting ({said})",
            f"wait for it to come up (address_wait_seconds is {vm_host.address_wait_seconds}), then load the "
            "inventory again.",
        )
    if record.state is not VmState.RUNNING:
        return unavailable(f"{record.state} ({said})", _deploy_fix("start"))
    if not record.ipv4 and needs_address:
        if vm_host.hypervisor == "utm":
            fix = (
                "utmctl lists no addresses, so this inventory cannot reach a UTM VM; list it in "
                "inventories/hosts.toml by its address."
            )
        else:
            fix = "wait for it to boot, or check its network, then load the inventory again."
        return unavailable(f"running without an IPv4 address ({tool} lists none)", fix)
    return record


def _jumps(host_name: str, vm_host: VmHost) -> bool:
    return vm_host.jump if vm_host.jump is not None else host_name != LOCAL


def _vm_data(vm_host_data: Mapping[str, Any], vm_host: VmHost, vm: VirtualMachine, address: str) -> dict[str, Any]:
    inherited = {
        key: vm_host_data[key] for key in (*INHERITED_DATA, *CONNECT_RETRIES) if vm_host_data.get(key) is not None
    }
    return {
        **CONNECT_RETRIES,
        **inherited,
        "ssh_hostname": address,
        "ssh_user": vm.admin_user,
        "_sudo": True,
        **vm_host.gateway_data(vm),
    }


def _jump_fields(name: str, data: Mapping[str, Any]) -> dict[str, str]:
    """The SSH config options naming the VM host as a jump: its pyinfra connection data, paths made absolute."""
    fields = {"HostName": str(data.get("ssh_hostname") or name)}
    if data.get("ssh_port"):
        fields["Port"] = str(int(data["ssh_port"]))
    if data.get("ssh_user"):
        fields["User"] = str(data["ssh_user"])
    if data.get("ssh_key"):
        fields["IdentityFile"] = os.path.abspath(os.path.expanduser(str(data["ssh_key"])))
    if data.get("ssh_known_hosts_file"):
        fields["UserKnownHostsFile"] = os.path.abspath(os.path.expanduser(str(data["ssh_known_hosts_file"])))
    fields["StrictHostKeyChecking"] = str(data.get("ssh_strict_host_key_checking") or DEFAULT_STRICT_HOST_KEY_CHECKING)
    fields["ConnectTimeout"] = str(CONNECT_TIMEOUT)
    return fields


_JUMP_DATA_KEYS = {
    "HostName": "ssh_hostname",
    "User": "ssh_user",
    "IdentityFile": "ssh_key",
    "UserKnownHostsFile": "ssh_known_hosts_file",
}


def _problems(settings: dict[str, VmHostSettings], data: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """What discovery refuses before any VM host is asked: connections it cannot make, names pyinfra would merge."""
    problems: list[str] = []
    first_host: dict[str, str] = {}
    for name, host_settings in settings.items():
        vm_host, host_data = host_settings.vm_host, data[name]
        place = f"host {name!r}"
        if name.startswith("@") and name != LOCAL:
            problems.append(
                f"{place}: a VM host is reached over SSH or is @local. Fix: name it by its address (or set "
                "ssh_hostname), or use @local for this machine."
            )
        for vm in vm_host.vms:
            if vm.state != "absent" and first_host.setdefault(vm.name, name) != name:
                problems.append(
                    f"{place}: {VM_HOST_KEY}.vms: VM {vm.name!r} is also declared on {first_host[vm.name]!r}; the "
                    "VM's name is its pyinfra host name. Fix: give every VM its own name."
                )
        strict = host_data.get("ssh_strict_host_key_checking")
        if name != LOCAL and strict is not None and strict not in STRICT_HOST_KEY_CHECKING:
            problems.append(
                f"{place}: ssh_strict_host_key_checking: {strict!r} is not one of "
                f"{', '.join(STRICT_HOST_KEY_CHECKING)}. Fix: use one of them (pyinfra's default is accept-new)."
            )
        if not _jumps(name, vm_host):
            continue
        if name == LOCAL:
            problems.append(
                f"{place}: {VM_HOST_KEY}.jump: the VMs of @local run on this machine; there is nothing to jump "
                "through. Fix: remove jump."
            )
            continue
        reason = "its VMs are reached through it (jump), and an SSH config file cannot carry"
        if host_data.get("ssh_password"):
            problems.append(
                f"{place}: ssh_password: {reason} a password. Fix: log in to {name} with a key (ssh_key, or your "
                f"ssh-agent), or set {VM_HOST_KEY}.jump = false where its VMs are reachable from here."
            )
        if host_data.get("ssh_key_password"):
            problems.append(
                f"{place}: ssh_key_password: {reason} the key's passphrase. Fix: add the key to your ssh-agent and "
                f"remove ssh_key_password, or set {VM_HOST_KEY}.jump = false where its VMs are reachable from here."
            )
        for option, value in _jump_fields(name, host_data).items():
            bad = sorted({repr(char) for char in value if char in _UNSAFE_IN_SSH_CONFIG})
            if bad:
                key = _JUMP_DATA_KEYS.get(option, option)
                problems.append(
                    f"{place}: {key}: {value!r} holds {', '.join(bad)}, which the SSH config naming {name} as its VMs' "
                    f"jump cannot carry. Fix: use a value without it (move the file), or set {VM_HOST_KEY}.jump = "
                    "false where its VMs are reachable from here."
                )
    return problems


def default_ssh_config_dir() -> Path:
    """Where the jump configs are written: ``$XDG_CACHE_HOME/openclaw-infra/vm-ssh`` (``~/.cache/…``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "openclaw-infra" / "vm-ssh"


def _private_directory(path: Path) -> Path:
    """``path`` as a directory only this user can enter (0700, owned by them, not a link); refused otherwise."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise VmDiscoveryError(
            [
                f"{path} is not a directory of this user (uid {os.geteuid()}); the VMs' jump configs go there. "
                "Fix: remove it, or set XDG_CACHE_HOME to a directory of yours."
            ]
        )
    if stat.S_IMODE(info.st_mode) != 0o700:
        path.chmod(0o700)
    return path


def write_jump_config(directory: Path, host_name: str, host_data: Mapping[str, Any], addresses: list[str]) -> Path:
    """The SSH config that reaches ``addresses`` through VM host ``host_name`` (``ProxyJump``), as pyinfra's SSH
    connector reads it from ``ssh_config_file``: mode 600 in a 0700 directory of this user; paths and names only.

    Its name holds a hash of its content: pyinfra keeps each config file it has read (by name) for the rest of the
    process, so a config whose addresses changed must be a new file.
    """
    lines = [
        f"# Written by openclaw_infra.vm_discovery: the VMs of VM host {host_name} are reached through it.",
        "# Connection data only, no secret; a new file whenever the VMs' addresses change.",
        f"Host {JUMP_ALIAS}",
        *(f"    {option} {value}" for option, value in _jump_fields(host_name, host_data).items()),
        "",
        f"Host {' '.join(sorted(set(addresses)))}",
        f"    ProxyJump {JUMP_ALIAS}",
        "",
    ]
    text = "\n".join(lines)
    digest = hashlib.sha256(f"{host_name}\n{text}".encode()).hexdigest()[:20]
    directory = _private_directory(directory)
    path = directory / f"{digest}.conf"
    if not path.is_file() or path.is_symlink() or path.read_text() != text:
        staged = directory / f".{digest}.{os.getpid()}.tmp"
        with contextlib.suppress(FileNotFoundError):
            staged.unlink()
        descriptor = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(descriptor, "w") as staged_file:
            staged_file.write(text)
        os.replace(staged, path)
    os.utime(path)
    for old in directory.glob("*.conf"):
        with contextlib.suppress(FileNotFoundError):
            if time.time() - old.stat().st_mtime > STALE_CONFIG_SECONDS:
                old.unlink()
    return path


def discover_vms(
    hosts: list[HostEntry],
    group_data: Mapping[str, Any] | None = None,
    *,
    ssh_config_dir: Path | None = None,
) -> Discovery:
    """Validate the VM hosts (raising ``SettingsError`` naming every problem, before any connection), ask each for
    its VMs in parallel, and return the groups of pyinfra hosts to reach and the VMs that are not as declared."""
    merged = {name: {**(group_data or {}), **data} for name, data in hosts}
    settings = vm_hosts_with_settings(list(merged.items()))
    problems = _problems(settings, merged)
    if problems:
        raise SettingsError(problems)
    config_dir = ssh_config_dir or default_ssh_config_dir()
    if any(_jumps(name, host_settings.vm_host) for name, host_settings in settings.items()):
        _private_directory(config_dir)
    with ThreadPoolExecutor(max_workers=max(1, len(settings))) as pool:
        futures = {
            name: pool.submit(list_vms, name, merged[name], host_settings.vm_host)
            for name, host_settings in settings.items()
        }
        listings = {name: future.result() for name, future in futures.items()}
    groups: Groups = {}
    unavailable: list[UnavailableVm] = []
    for name, host_settings in settings.items():
        vm_host = host_settings.vm_host
        entries: list[HostEntry] = []
        for vm in vm_host.vms:
            judged = judge_vm(name, vm_host, vm, listings[name])
            if isinstance(judged, UnavailableVm):
                unavailable.append(judged)
            elif judged is not None:
                entries.append((vm.name, _vm_data(merged[name], vm_host, vm, judged.ipv4[0])))
        if entries and _jumps(name, vm_host):
            config = write_jump_config(
                config_dir,
                name,
                merged[name],
                [str(data["ssh_hostname"]) for _, data in entries],
            )
            entries = [(vm_name, {**data, "ssh_config_file": str(config)}) for vm_name, data in entries]
        if entries:
            groups[name] = (entries, {})
    return Discovery(groups, unavailable)


def vm_groups(
    hosts: list[HostEntry],
    group_data: Mapping[str, Any] | None = None,
    *,
    ssh_config_dir: Path | None = None,
    report: IO[str] | None = None,
) -> Groups:
    """The pyinfra groups of an inventory of VMs (``globals().update(vm_groups(...))`` in an inventory file): one
    per VM host, holding a host per running declared VM. Every unavailable VM is one line on ``report`` (stderr)
    and is kept for the drift command (``recording_unavailable``)."""
    found = discover_vms(hosts, group_data, ssh_config_dir=ssh_config_dir)
    out = report or sys.stderr
    for vm in found.unavailable:
        print(vm.message(), file=out)
    recorded = _RECORDED.get()
    if recorded is not None:
        recorded.extend(found.unavailable)
    return found.groups
