"""macOS VMs under Lume (Apple's Virtualization framework, Apple silicon): created unattended from an IPSW, started
headless, stopped, resized and removed, decided from the ``LumeVms`` fact (``lume ls``); and, inside such a VM,
the public default password of its admin account replaced.

Every command was checked against Lume 0.5.3's CLI reference, https://cua.ai/docs/reference/lume/cli-reference,
and its source (github.com/trycua/cua, libs/lume/src/Commands/*.swift at b296ec9).

Run these as the account that owns the VMs, never with sudo: Lume keeps VMs in that user's ``~/.lume``, and
``sudo lume`` looks in root's (https://cua.ai/docs/reference/lume/limits, "sudo lume cannot find a VM").

Starting without blocking the deploy: ``lume run`` holds the VM in its own process for as long as it runs (a second
one fails: "auxiliary storage is locked"). ``lume run --detach`` (Lume 0.5.0 and later) starts that process under
``nohup``, logging to ``~/Library/Logs/lume/<vm>.log``, and returns: Lume's own way to background a VM
(https://cua.ai/docs/how-to-guides/lume/manage-vms). Not chosen: ``lume serve``'s HTTP API, which the installer
runs as a LaunchAgent (only while the user is logged in) on an unauthenticated port, and a ``nohup … &`` of our own
(what ``--detach`` does, without Lume's log handling). At boot, ``vm_boot_daemon``'s LaunchDaemon runs ``lume run
--no-display`` in the foreground, launchd holding the process.

Snapshots: Lume has none. A snapshot here is a clone, ``lume clone <vm> <vm>-openclaw-before-<change>-<UTC time>``
(an APFS copy-on-write copy of the VM's directory), which Lume takes of a stopped VM only ("Cannot clone a running
VM"), so it comes after the stop. Clones are VMs: ``lume ls`` lists them, ``lume delete`` removes them.

``vm_boot_daemon`` (Lume or Parallels) writes the LaunchDaemon that starts a VM at boot; see there why the deploy
does not load it.

Not done here: growing a VM's disk after creation (``lume set <vm> --disk-size``: increase only, stopped, offline
APFS surgery; a warning names the command), and Apple's limit of two macOS guests per Mac (the settings' rule).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Generator
from io import StringIO

from pyinfra import logger
from pyinfra.api.command import PyinfraCommand, StringCommand
from pyinfra.api.exceptions import OperationValueError
from pyinfra.api.hiddenvalue import HiddenValue
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.facts.files import File, Sha1File
from pyinfra.facts.server import Command
from pyinfra.operations import files

from openclaw_infra.facts.batch import read_facts
from openclaw_infra.facts.lume import LumeVms
from openclaw_infra.facts.vm_record import VmRecord, VmState, listed
from openclaw_infra.operations.file_ownership import ownership_fixes
from openclaw_infra.operations.private_upload import private_upload
from openclaw_infra.operations.refusals import refuse
from openclaw_infra.quoting import quoted, shell_word
from openclaw_infra.rendering import render, render_plist

# Lume stores a VM in a directory of its name, and turns "name:tag" into "name_tag" (normalizeVMName).
LUME_VM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
# The built-in presets of `lume create --unattended` (Create.swift); a YAML file of one's own is a path.
UNATTENDED_PRESETS = ("tahoe", "sequoia")
MIN_DISK_GIB = 30  # `lume create` refuses a smaller macOS disk
MIN_MEMORY_MIB = 2048
MIB = 1024**2
GIB = 1024**3
# The table of `lume ls` rounds sizes ("8.00G", "50.0GB"); its JSON gives bytes. Sizes within the rounding match.
MEMORY_TOLERANCE_BYTES = GIB // 200
DISK_TOLERANCE_BYTES = GIB // 20

# The account Lume's unattended setup makes, with its published password (both `lume`): an admin that every
# reader of Lume's docs can log in as (https://cua.ai/docs/concepts/how-lume-unattended-setup-works).
DEFAULT_ADMIN = "lume"
DEFAULT_PASSWORD = "lume"  # noqa: S105 - published by Lume, the very thing this module replaces
_ACCOUNT = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
# One word to interactive dscl, which splits at blanks: no blanks, quotes, backslashes or other shell-like signs.
_PASSWORD = re.compile(r"[A-Za-z0-9._~+=,:@-]{16,128}")
# The dscl commands, uploaded privately into the login user's home (where sshd starts our commands and SFTP
# resolves relative paths), read by dscl from stdin, then removed.
STAGED_DSCL_COMMANDS = ".openclaw-admin-password.dscl"
DEFAULT_STILL_WORKS = "default"


def _check_vm_name(vm_name: str) -> None:
    if not LUME_VM_NAME.fullmatch(vm_name):
        raise OperationValueError(
            f"{vm_name!r} is not a lume VM name (1-63 letters, digits, '.', '_' or '-', a letter or digit first)"
        )


def lume(*words: object) -> StringCommand:
    return StringCommand("lume", *words)


def start(vm_name: str) -> StringCommand:
    """Headless, in the background: ``--detach`` returns once the VM's process is started."""
    return lume("run", quoted(vm_name), "--no-display", "--detach")


def stop(vm_name: str) -> StringCommand:
    """Lume's ``stop`` ends the process that runs the VM (SIGINT, then SIGKILL after 10 s)."""
    return lume("stop", quoted(vm_name))


def clone_snapshot(vm_name: str, change: str) -> StringCommand:
    """A stopped VM cloned to ``<vm>-openclaw-before-<change>-<UTC time>``, the time the VM host's clock says."""
    clone_name = StringCommand(
        quoted(f"{vm_name}-openclaw-before-{change}-"), '"$(date -u +%Y%m%d-%H%M%S)"', _separator=""
    )
    return lume("clone", quoted(vm_name), clone_name)


# Where a VM lume lists as provisioning was left so by a failed create: it is made anew, not changed.
STALE_HINT = " (a VM left 'provisioning (stale)' by a failed operation is deleted and created again)"


def _refuse_unsettled(vm: VmRecord, hint: str = "") -> Generator[PyinfraCommand, None, None]:
    """A VM lume lists neither running nor stopped (provisioning) is left alone until it is."""
    yield from refuse(
        f"lume VM {vm.name} is {vm.raw_state!r}. Fix: wait until lume ls shows it running or stopped{hint}, then "
        "deploy again."
    )


def _resize_options(vm: VmRecord, cpus: int, memory_mib: int) -> list[object]:
    """``lume set`` options for what differs from the listing; a size lume does not print is left alone."""
    options: list[object] = []
    if vm.cpus is not None and vm.cpus != cpus:
        options += ["--cpu", int(cpus)]
    if vm.memory_bytes is not None and abs(vm.memory_bytes - memory_mib * MIB) > MEMORY_TOLERANCE_BYTES:
        options += ["--memory", f"{int(memory_mib)}MB"]
    return options


def _warn_on_disk_size(vm: VmRecord, disk_gib: int) -> None:
    if vm.disk_bytes is not None and abs(vm.disk_bytes - disk_gib * GIB) > DISK_TOLERANCE_BYTES:
        logger.warning(
            f"{host.name}: lume VM {vm.name} has a {vm.disk_bytes / GIB:.1f} GiB disk, not {disk_gib} GiB; the deploy "
            f"sizes a disk only when it creates the VM (to grow it: lume stop {vm.name}, then "
            f"lume set {vm.name} --disk-size {disk_gib}GB)"
        )


@operation()
def lume_vm(
    vm_name: str,
    cpus: int,
    memory_mib: int,
    disk_gib: int,
    ipsw: str,
    state: str,
    unattended: str = "tahoe",
    snapshot_before_changes: bool = True,
) -> Generator[PyinfraCommand, None, None]:
    """
    The macOS VM ``vm_name`` created when lume does not list it (``lume create --os macOS --ipsw … --unattended``:
    macOS installed from the IPSW, then set up offline with the ``lume`` admin, SSH and autologin; the VM is left
    stopped), then running headless (``lume run --no-display --detach``) or stopped (``lume stop``). CPUs or memory
    other than listed are set with ``lume set`` on the stopped VM, after a snapshot (a clone), and the VM is started
    again if it should run.

    Sizes are given with their units (``--memory 16384MB``): lume reads a bare number as GB (the guide's
    ``--memory 16384`` would ask for 16 TB). A VM lume lists in another state (``provisioning``) is refused.

    + vm_name: the VM's name in lume
    + cpus, memory_mib: its CPUs and memory, set at creation and kept so
    + disk_gib: its disk at creation (at least 30; sparse); a different disk later only gets a warning
    + ipsw: ``latest`` (Apple's newest restore image for this Mac, downloaded) or the absolute path of an ``.ipsw``
    + state: ``running`` or ``stopped``
    + unattended: a preset of lume's unattended setup (``tahoe``, ``sequoia``: it must match the IPSW's macOS) or
      the absolute path of a YAML config
    + snapshot_before_changes: clone the VM before ``lume set`` changes it
    """
    _check_vm_name(vm_name)
    if not (isinstance(cpus, int) and cpus >= 1):
        raise OperationValueError(f"cpus {cpus!r} is not a number of CPUs")
    if not (isinstance(memory_mib, int) and memory_mib >= MIN_MEMORY_MIB):
        raise OperationValueError(f"memory_mib {memory_mib!r}: a macOS VM needs at least {MIN_MEMORY_MIB} MiB")
    if not (isinstance(disk_gib, int) and disk_gib >= MIN_DISK_GIB):
        raise OperationValueError(f"disk_gib {disk_gib!r}: lume needs at least {MIN_DISK_GIB} GiB for macOS")
    if state not in ("running", "stopped"):
        raise OperationValueError(f"state {state!r} is not 'running' or 'stopped'")
    if ipsw != "latest" and not (posixpath.isabs(ipsw) and ipsw.endswith(".ipsw")):
        raise OperationValueError(f"ipsw {ipsw!r} is neither 'latest' nor the absolute path of an .ipsw file")
    if unattended not in UNATTENDED_PRESETS and not (
        posixpath.isabs(unattended) and unattended.endswith((".yml", ".yaml"))
    ):
        raise OperationValueError(
            f"unattended {unattended!r} is neither a lume preset ({', '.join(UNATTENDED_PRESETS)}) nor the "
            "absolute path of a YAML config"
        )
    running = state == "running"
    (vms,) = read_facts((LumeVms, {}))
    vm = listed(vms, vm_name)
    if vm is None:
        # A symlink is fine: File gives False for one, None only for nothing there.
        if ipsw != "latest" and read_facts((File, {"path": ipsw}))[0] is None:
            yield from refuse(
                f"lume VM {vm_name}: the restore image {ipsw} is not on the VM host. Fix: download it there "
                "(lume ipsw prints the URL of the latest), or set ipsw to latest, then deploy again."
            )
            return
        yield lume(
            "create", quoted(vm_name), "--os", "macOS", "--ipsw", quoted(ipsw), "--cpu", int(cpus),
            "--memory", f"{int(memory_mib)}MB", "--disk-size", f"{int(disk_gib)}GB", "--unattended", quoted(unattended),
        )  # fmt: skip
        if running:
            yield start(vm_name)
        return
    if vm.state not in (VmState.RUNNING, VmState.STOPPED):
        yield from _refuse_unsettled(vm, STALE_HINT)
        return
    _warn_on_disk_size(vm, disk_gib)
    resize = _resize_options(vm, cpus, memory_mib)
    commands: list[PyinfraCommand] = []
    if resize:
        if vm.state == VmState.RUNNING:
            commands.append(stop(vm_name))
        if snapshot_before_changes:
            commands.append(clone_snapshot(vm_name, "resize"))
        commands.append(lume("set", quoted(vm_name), *resize))
        if running:
            commands.append(start(vm_name))
    elif running and vm.state != VmState.RUNNING:
        commands.append(start(vm_name))
    elif not running and vm.state == VmState.RUNNING:
        commands.append(stop(vm_name))
    if not commands:
        host.noop(f"lume VM {vm_name} is {vm.raw_state}, {cpus} CPUs, {memory_mib} MiB")
        return
    yield from commands


@operation()
def lume_vm_absent(vm_name: str, delete_disks: bool = False) -> Generator[PyinfraCommand, None, None]:
    """
    The VM ``vm_name`` stopped, and deleted with its disk (``lume delete --force``) only with ``delete_disks``:
    lume has no delete that keeps the disk, so without it the VM is only stopped, and a warning says so.

    ``lume delete`` is given ``--force``: without it lume asks on stdin, reads no answer over SSH and exits 0
    having deleted nothing ("Deletion cancelled"). The VM is stopped first: lume delete stops only a VM that its
    own process runs, and would remove the directory of one another process runs.

    + vm_name: the VM's name in lume
    + delete_disks: delete the VM and its disk
    """
    _check_vm_name(vm_name)
    (vms,) = read_facts((LumeVms, {}))
    vm = listed(vms, vm_name)
    if vm is None:
        host.noop(f"lume lists no VM {vm_name}")
        return
    if vm.state not in (VmState.RUNNING, VmState.STOPPED):
        yield from _refuse_unsettled(vm)
        return
    if vm.state == VmState.RUNNING:
        yield stop(vm_name)
        if not delete_disks:
            logger.warning(
                f"{host.name}: lume VM {vm_name} is stopped, not deleted: lume delete would remove its disk "
                "(delete_disks removes it)"
            )
    elif not delete_disks:
        host.noop(f"lume VM {vm_name} is stopped and kept: lume delete would remove its disk")
        return
    if delete_disks:
        yield lume("delete", quoted(vm_name), "--force")


@operation()
def lume_admin_password_changed(
    new_password: HiddenValue | str, admin_user: str = DEFAULT_ADMIN
) -> Generator[PyinfraCommand, None, None]:
    """
    Inside a VM made by Lume's unattended setup (run against the VM, not the VM host): ``admin_user``'s password,
    while it is still Lume's public default ``lume``, changed to ``new_password``, which reaches no command line.

    ``sysadminctl -resetPasswordFor … -newPassword`` and ``dscl . -passwd`` take the password as an argument (in
    ``ps`` for every local user), and ``passwd`` reads it from the terminal only. dscl's interactive mode reads its
    commands from stdin (dscl(1)): the commands are uploaded into a 0600 file (``private_upload``), fed to
    ``dscl -q .`` and removed. The change is made with the old password (``passwd <record> <old> <new>``), as the
    account itself would: without it not even root may reset the password of an account holding a secure token
    ("Operation is not permitted without secure token unlock"). dscl's output is checked but never printed (it
    may quote the password), and the default must fail to authenticate afterwards.

    Left as they are: the account's login keychain (still unlocked by ``lume``) and Lume's autologin, whose
    ``/etc/kcpassword`` holds the old password, so the VM boots to the login window (the gateway, a LaunchDaemon,
    needs no login). Each run tries the default password once (``dscl -authonly``): a password policy that locks
    accounts after failed attempts counts it. ``lume ssh``, ``lume shutdown`` and ``lume restart`` log in with
    ``lume`` unless given ``--password`` (on their command line): use SSH keys instead.

    + new_password: the new password (``HiddenValue``, as the deploy passes secrets; a plain string is taken as it
      is), 16-128 characters of letters, digits and ``._~+=,:@-``
    + admin_user: the account Lume's setup made
    """
    if not _ACCOUNT.fullmatch(admin_user):
        raise OperationValueError(f"not a macOS account name: {admin_user!r}")
    password = new_password.unmask() if isinstance(new_password, HiddenValue) else new_password
    if not _PASSWORD.fullmatch(password):
        raise OperationValueError(
            "new_password must be 16-128 characters of letters, digits and ._~+=,:@- (dscl reads it as one word)"
        )
    probe = (
        f"dscl /Local/Default -authonly {shell_word(admin_user)} {shell_word(DEFAULT_PASSWORD)} >/dev/null 2>&1"
        f" && echo {DEFAULT_STILL_WORKS} || echo changed"
    )
    (answer,) = read_facts((Command, {"command": probe}))
    if answer != DEFAULT_STILL_WORKS:
        host.noop(f"{admin_user}'s password is not Lume's default")
        return
    commands = render(
        "dscl/admin-password.dscl.j2", user=admin_user, old_password=DEFAULT_PASSWORD, new_password=password
    )
    staged = quoted(STAGED_DSCL_COMMANDS)
    yield from private_upload(commands, STAGED_DSCL_COMMANDS)
    yield StringCommand(
        'out="$(dscl -q . <', staged, '2>&1)"; rm -f', staged, '; case "$out" in *rror*|*ailed*) echo',
        quoted(f"dscl did not change the password of {admin_user} (its output is not shown: it may quote it)"),
        ">&2; exit 1;; esac; if dscl /Local/Default -authonly", quoted(admin_user), quoted(DEFAULT_PASSWORD),
        ">/dev/null 2>&1; then echo", quoted(f"{admin_user} still accepts Lume's default password"),
        ">&2; exit 1; fi",
    )  # fmt: skip


# The boot LaunchDaemon of a macOS VM (Lume or Parallels), ai.openclaw.vm.<vm>.
BOOT_PLIST_TEMPLATE = "launchd/openclaw-vm.plist.json.j2"
HYPERVISORS = ("lume", "parallels")
# Where lume's installer puts it ($HOME/.local/bin, libs/lume/scripts/install.sh) and where Parallels Desktop links
# prlctl: the boot job has no PATH to search.
LUME_IN_HOME = ".local/bin/lume"


def owner_path(owner: str) -> str:
    """The PATH on which ``owner``'s lume is found: its installer puts it in ~/.local/bin, which a command run
    over SSH does not have on its PATH (prlctl is in /usr/local/bin)."""
    return f"/Users/{owner}/{posixpath.dirname(LUME_IN_HOME)}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"


PRLCTL = "/usr/local/bin/prlctl"


def boot_label(vm_name: str) -> str:
    return f"ai.openclaw.vm.{vm_name}"


def boot_plist_path(vm_name: str) -> str:
    return f"/Library/LaunchDaemons/{boot_label(vm_name)}.plist"


def boot_log_path(vm_name: str) -> str:
    return f"/Library/Logs/openclaw-vm-{vm_name}.log"


def boot_plist_content(vm_name: str, hypervisor: str, vm_user: str, program: str) -> str:
    """The job's plist (``templates/launchd/openclaw-vm.plist.json.j2``): ``lume run <vm> --no-display`` in the
    foreground, so launchd holds the process that runs the VM (``--detach`` would end the job at once, and launchd
    then ends what is left of its process group); or ``prlctl start <vm>``, which returns once the VM runs."""
    arguments = [program, "run", vm_name, "--no-display"] if hypervisor == "lume" else [program, "start", vm_name]
    return render_plist(
        BOOT_PLIST_TEMPLATE,
        label=boot_label(vm_name),
        user=vm_user,
        program_arguments=arguments,
        log=boot_log_path(vm_name),
    ).decode()


def _check_boot_vm_name(vm_name: str) -> None:
    if not LUME_VM_NAME.fullmatch(vm_name):
        raise OperationValueError(
            f"{vm_name!r} cannot name a launchd job (ai.openclaw.vm.<vm>): use 1-63 letters, digits, '.', '_' or '-' "
            "(rename a Parallels VM whose name holds blanks)"
        )


@operation()
def vm_boot_daemon(
    vm_name: str, hypervisor: str, vm_user: str, program: str | None = None
) -> Generator[PyinfraCommand, None, None]:
    """
    A LaunchDaemon, ``/Library/LaunchDaemons/ai.openclaw.vm.<vm>.plist`` (root:wheel 644), that starts the VM when
    the VM host boots, as ``vm_user`` (the guide's "Auto-start after host reboot": neither hypervisor starts a VM
    at boot by itself): ``lume run <vm> --no-display`` held by launchd, or ``prlctl start <vm>``. Its output goes
    to ``/Library/Logs/openclaw-vm-<vm>.log``, made here and owned by ``vm_user``, so it is writable whether launchd
    opens it as root or as the job's user. No KeepAlive: a VM stopped later stays stopped until the next boot.
    Needs root.

    The deploy writes the plist but does not load it: launchd loads every plist in /Library/LaunchDaemons at boot,
    and loading it now would start the VM (RunAtLoad) behind ``lume_vm`` / ``parallels_vm``, while booting out a job
    loaded at the last boot would stop the VM its process holds. A changed plist takes effect at the next boot.

    Parallels' own "Start automatically" (``prlctl set <vm> --autostart start-host``) is the alternative there.
    Apple's Virtualization framework may refuse to start a VM for a user who never logged in to the Mac's GUI
    (github.com/openai/tart/issues/1132): log in once as ``vm_user``.

    + vm_name: the VM's name (letters, digits, '.', '_', '-': it is part of the job's label)
    + hypervisor: ``lume`` or ``parallels``
    + vm_user: the account that owns the VM (the one the lume or prlctl operations run as)
    + program: absolute path of lume or prlctl; default ``/Users/<vm_user>/.local/bin/lume`` (lume's installer)
      or ``/usr/local/bin/prlctl``
    """
    _check_boot_vm_name(vm_name)
    if hypervisor not in HYPERVISORS:
        raise OperationValueError(f"hypervisor {hypervisor!r} is not one of {', '.join(HYPERVISORS)}")
    if not _ACCOUNT.fullmatch(vm_user):
        raise OperationValueError(f"not a macOS account name: {vm_user!r}")
    if program is None:
        program = posixpath.join("/Users", vm_user, LUME_IN_HOME) if hypervisor == "lume" else PRLCTL
    if not posixpath.isabs(program):
        raise OperationValueError(f"program {program!r} is not an absolute path")
    content = boot_plist_content(vm_name, hypervisor, vm_user, program)
    plist_path, log_path = boot_plist_path(vm_name), boot_log_path(vm_name)
    plist, plist_sha1, program_file, log = read_facts(
        (File, {"path": plist_path}), (Sha1File, {"path": plist_path}), (File, {"path": program}),
        (File, {"path": log_path}),
    )  # fmt: skip
    if program_file is None:
        yield from refuse(
            f"{program} is not on the VM host, so the boot job of {vm_name} could not start it. Fix: install "
            f"{hypervisor} there, or give program the path where it is, then deploy again."
        )
        return
    wanted_sha1 = hashlib.sha1(content.encode()).hexdigest()  # noqa: S324 - what files.put compares, not security
    current = bool(plist) and plist_sha1 == wanted_sha1 and not ownership_fixes(plist_path, plist, "root", "wheel", 644)
    changed = False
    if not current:
        yield from files.put._inner(src=StringIO(content), dest=plist_path, user="root", group="wheel", mode="644")
        changed = True
    if log is None:
        yield StringCommand("touch", quoted(log_path))
        yield StringCommand("chown", quoted(vm_user), quoted(log_path))
        yield StringCommand("chmod", "640", quoted(log_path))
        changed = True
    elif log and log["user"] != vm_user:
        yield StringCommand("chown", quoted(vm_user), quoted(log_path))
        changed = True
    if not changed:
        host.noop(f"{boot_label(vm_name)}: launchd starts {vm_name} at boot")


@operation()
def vm_boot_daemon_absent(vm_name: str) -> Generator[PyinfraCommand, None, None]:
    """
    No boot LaunchDaemon for ``vm_name``: its plist removed. A job launchd loaded at the last boot stays loaded,
    without a plist, until the next boot: booting it out would stop the VM its process holds. Its log is kept.
    Needs root.

    + vm_name: the VM's name
    """
    _check_boot_vm_name(vm_name)
    plist_path = boot_plist_path(vm_name)
    (plist,) = read_facts((File, {"path": plist_path}))
    if plist is None:
        host.noop(f"no {plist_path}")
        return
    yield StringCommand("rm", "-f", quoted(plist_path))
