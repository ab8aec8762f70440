"""The gateway's dedicated OS user and the directories it owns."""

from __future__ import annotations

from collections.abc import Generator

from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import OperationValueError
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.facts.files import Directory, File
from pyinfra.facts.server import Users
from pyinfra.operations import files, server

from openclaw_infra.expected_state import DOCKER_GROUP
from openclaw_infra.facts.accounts import GroupMembers, PasswdEntry, UserGroups
from openclaw_infra.facts.batch import read_facts
from openclaw_infra.facts.file_tree import ForeignEntries
from openclaw_infra.gateway_paths import LOG_FILE_NAMES
from openclaw_infra.quoting import quoted

NOLOGIN = "/usr/sbin/nologin"


@operation()
def service_account(user: str, home: str, docker_access: bool) -> Generator[StringCommand, None, None]:
    """
    A system user with no password and no login shell, home 0700, in the ``docker`` group only when the
    Docker sandbox needs it (membership there is root-equivalent, so it is removed when not needed).

    + user: the account name
    + home: its home directory
    + docker_access: whether the gateway drives Docker for per-agent sandboxes
    """
    # One command tells whether anything differs: server.user reads pyinfra's Users fact (every account on the
    # host, ~0.2 s of host CPU) twice and four more facts, so it runs only when something does.
    account, groups, home_dir = read_facts(
        (PasswdEntry, {"user": user}), (UserGroups, {"user": user}), (Directory, {"path": home})
    )
    if (
        account is not None
        and (account.home, account.shell) == (home, NOLOGIN)
        and groups is not None
        and (set(groups.supplementary) == {"docker"} if docker_access else "docker" not in groups.supplementary)
        and home_dir
        and (home_dir["user"], home_dir["group"], home_dir["mode"]) == (user, user, 700)
    ):
        host.noop(f"user {user} exists as wanted, home {home} 700")
        return
    yield from server.user._inner(
        user=user,
        home=home,
        shell=NOLOGIN,
        system=True,
        create_home=True,
        groups=["docker"] if docker_access else [],
        append=False,
        password=None,
    )
    existing = host.get_fact(Users).get(user)
    if not docker_access and existing and "docker" in existing["groups"]:
        yield StringCommand("gpasswd", "-d", quoted(user), "docker")
    yield from files.directory._inner(path=home, user=user, group=user, mode="700")


@operation()
def docker_group(members: list[str]) -> Generator[StringCommand, None, None]:
    """
    Exactly ``members`` in the ``docker`` group: membership is root on the host, so anyone else listed there (an
    admin added by hand, an intruder's account) is removed. Users whose primary group is docker are not listed in
    it and not touched.

    + members: the gateways' service users (the only accounts that need the Docker sandbox)
    """
    if not members:
        raise OperationValueError("members is empty: with no gateway needing Docker, leave the group alone")
    # None: no docker group yet, on a fresh host where this deploy installs Docker in an earlier step.
    (present,) = read_facts((GroupMembers, {"group": DOCKER_GROUP}))  # remembered for the verification
    wanted = sorted(set(members))
    if present == wanted:
        host.noop(f"docker group holds only {', '.join(wanted)}")
        return
    # One command sets the whole list (gpasswd -M), so an extra member can never survive a partial update.
    yield StringCommand("gpasswd", "-M", quoted(",".join(wanted)), DOCKER_GROUP)


@operation()
def gateway_directories(
    user: str, state_dir: str, logs_dir: str, group: str | None = None
) -> Generator[StringCommand, None, None]:
    """
    The gateway's state dir and logs dir, 0700 and owned by its user, and its log files, 0600.

    systemd (and launchd) open the service's log files as root; made beforehand they stay the user's, so
    logrotate (``su <user>``) can rotate them.

    + user: the gateway's service user
    + state_dir: ``OPENCLAW_STATE_DIR``
    + logs_dir: where the service's stdout/stderr go
    + group: the group of all of them; None: the user's own (Linux). On macOS: ``staff``
    """
    group = group or user
    log_files = [f"{logs_dir}/{log_file}" for log_file in LOG_FILE_NAMES]
    # One command when all is in place (files.directory and files.file read one fact each).
    found = read_facts(
        *[(Directory, {"path": path}) for path in (state_dir, logs_dir)],
        *[(File, {"path": path}) for path in log_files],
    )
    if all(
        info and (info["user"], info["group"], info["mode"]) == (user, group, mode)
        for info, mode in zip(found, (700, 700, *[600] * len(log_files)), strict=True)
    ):
        host.noop(f"{state_dir} and {logs_dir} 700, log files 600, owned by {user}")
        return
    for path in (state_dir, logs_dir):
        yield from files.directory._inner(path=path, user=user, group=group, mode="700")
    for log_file in log_files:
        yield from files.file._inner(path=log_file, user=user, group=group, mode="600")


@operation()
def home_private(user: str, home: str) -> Generator[StringCommand, None, None]:
    """
    Everything under the service user's home (its state dirs included) owned by ``user:user`` and closed to
    others. A gateway once run as root (a drop-in's ``User=root``) leaves root-owned files there that stop it
    from starting as its user; copies from ``/etc/skel`` are world-readable. Both are put right here.

    + user: the service user (also its group)
    + home: its home directory
    """
    found = host.get_fact(ForeignEntries, path=home, user=user, group=user)
    # None: no home yet on a fresh host; the account operation before this one creates it from /etc/skel.
    if found is not None and not found.count:
        host.noop(f"everything under {home} is {user}'s and closed to others")
        return
    # -R without -L: symlinks are changed themselves (-h), never followed out of the home (chmod skips them).
    yield StringCommand("chown", "-R", "-h", quoted(f"{user}:{user}"), "--", quoted(home))
    yield StringCommand("chmod", "-R", "o-rwx", "--", quoted(home))
