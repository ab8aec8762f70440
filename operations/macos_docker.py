"""Docker for the gateways of a Mac host (the guide's Docker isolation on macOS, issue 11).

``docker_group_membership``: the local ``docker`` group lists the gateways' service users and nobody else; whoever
can use the Docker socket starts any container, so membership goes only to the names the deploy lists.
``orbstack_helper``: OrbStack runs per user, so a gateway that is a LaunchDaemon finds OrbStack's socket only once
the helper is bootstrapped into its user's GUI domain, before the gateway starts. ``docker_cli_on_path``: the
gateway's PATH holds ``/usr/local/bin``, not Homebrew's directory (``launchd_service.SYSTEM_PATH``), so
``/usr/local/bin/docker`` must be the runtime's own CLI.
"""

from __future__ import annotations

import re
from collections.abc import Generator

from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import OperationValueError
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.facts.files import File, Link

from openclaw_infra.facts.batch import FactAndArguments, read_facts
from openclaw_infra.facts.directory_services import MacosGroup
from openclaw_infra.facts.launchctl import LaunchctlJob
from openclaw_infra.operations.launchd_service import bootout_command, bootstrap_command, check_job, job_domain
from openclaw_infra.operations.refusals import refuse
from openclaw_infra.quoting import quoted

DOCKER_GROUP = "docker"
# Groups below 501 are macOS's own (wheel 0, staff 20, admin 80); dseditgroup gives a new group the first free id
# from 501 up. Emptying one of the system's groups would lock people out, so such a group is never edited here.
FIRST_LOCAL_GID = 501
# The helper agent as the guide names it. No public source shows OrbStack itself installing this file (its own
# launchd job is the LaunchDaemon dev.orbstack.OrbStack.privhelper), so it is required, never written, here.
ORBSTACK_HELPER_LABEL = "com.orbstack.helper"
ORBSTACK_HELPER_PLIST = f"/Library/LaunchAgents/{ORBSTACK_HELPER_LABEL}.plist"
# /usr/local/bin is on the gateway's PATH (launchd_service.SYSTEM_PATH); it may not exist on a fresh Mac.
CLI_DIR = "/usr/local/bin"
DOCKER_CLI_LINK = f"{CLI_DIR}/docker"
# Where each runtime keeps its own docker CLI (the targets of the links their installers make: OrbStack's
# ~/.orbstack/bin/docker, Docker Desktop's /usr/local/bin/docker).
DOCKER_CLIS = {
    "orbstack": ("OrbStack", "/Applications/OrbStack.app/Contents/MacOS/xbin/docker"),
    "docker-desktop": ("Docker Desktop", "/Applications/Docker.app/Contents/Resources/bin/docker"),
}
_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


def _edit(action: str, member: str, group: str) -> StringCommand:
    return StringCommand("dseditgroup -o edit", action, quoted(member), "-t user", quoted(group))


@operation()
def docker_group_membership(members: list[str], group: str = DOCKER_GROUP) -> Generator[StringCommand, None, None]:
    """
    The local group ``group`` exists and lists exactly ``members``: made with ``dseditgroup -o create`` when
    missing, the missing members added (``dseditgroup -o edit -a USER -t user``), anyone else removed (``-d``).
    Users whose primary group it is are members without being listed (``GroupMembership``); none are made here.
    One of macOS's own groups (gid below 501) is refused, never emptied.

    + members: the gateways' service users, e.g. ``["openclaw"]``; ``[]`` leaves nobody in the group
    + group: the group the runtime's socket is shared with, ``docker`` by default
    """
    if not _NAME.match(group):
        raise OperationValueError(f"group {group!r} is not a group name")
    for member in members:
        if not _NAME.match(member):
            raise OperationValueError(f"members: {member!r} is not a macOS account name")
    wanted = list(dict.fromkeys(members))
    (record,) = read_facts((MacosGroup, {"group": group}))
    if record is None and not wanted:
        host.noop(f"there is no group {group}, and nobody is to be in it")
        return
    if record is not None and record.gid is not None and record.gid < FIRST_LOCAL_GID:
        yield from refuse(
            f"group {group} has gid {record.gid}, one of macOS's own groups (below {FIRST_LOCAL_GID}): its members"
            " are not changed by the deploy; give the Docker socket a group of its own"
        )
        return
    if record is None:
        yield StringCommand("dseditgroup -o create", quoted(group))
    listed = record.members if record is not None else ()
    added = [member for member in wanted if member not in listed]
    removed = [member for member in listed if member not in wanted]
    for member in added:
        yield _edit("-a", member, group)
    for member in removed:
        yield _edit("-d", member, group)
    if record is not None and not added and not removed:
        host.noop(f"group {group} lists exactly {', '.join(wanted) or 'nobody'}")


@operation()
def orbstack_helper(
    user: str, label: str = ORBSTACK_HELPER_LABEL, plist_path: str = ORBSTACK_HELPER_PLIST
) -> Generator[StringCommand, None, None]:
    """
    OrbStack's helper LaunchAgent loaded in ``user``'s GUI domain (``launchctl bootstrap gui/<uid> PLIST``), so the
    gateway, a LaunchDaemon running as ``user``, finds OrbStack's Docker socket; run it before the gateway starts.
    A user the deploy creates in the same run gets its uid when the command runs. Loaded from another plist:
    booted out, then bootstrapped from this one. Refused while the plist is not installed, or is not root's alone
    (whoever can edit it chooses what runs as ``user``). launchd keeps a GUI domain only while its user is logged
    in at the login window: a user nobody logs in as has none to bootstrap into.

    + user: the gateway's service user
    + label, plist_path: the helper's label and its plist, ``…/<label>.plist``
    """
    check_job(label, plist_path, user)
    domain, domain_word = job_domain(user)
    requests: list[FactAndArguments] = [(File, {"path": plist_path})]
    if domain is not None:  # a user made later in the run has no domain to read yet, nor a job in it
        requests.append((LaunchctlJob, {"label": label, "domain": domain}))
    plist, *loaded = read_facts(*requests)
    job = loaded[0] if loaded else None
    if not plist:
        yield from refuse(f"{plist_path} is not installed: install OrbStack (and its helper agent) first")
        return
    group_digit, other_digit = plist["mode"] // 10 % 10, plist["mode"] % 10
    if plist["user"] != "root" or group_digit & 2 or other_digit & 2:
        yield from refuse(
            f"{plist_path} is {plist['user']}:{plist['group']} {plist['mode']}: whoever can edit it chooses what"
            f" runs as {user}; make it root:wheel 644"
        )
        return
    if job is None:
        yield bootstrap_command(domain_word, plist_path)
        return
    # 'path' is the plist a job was loaded from, or '(submitted by …)' for one submitted without a plist.
    if job.path is not None and job.path.startswith("/") and job.path != plist_path:
        yield bootout_command(domain_word, label)
        yield bootstrap_command(domain_word, plist_path)
        return
    host.noop(f"{domain}/{label} is loaded ({job.raw_state})")


@operation()
def docker_cli_on_path(runtime: str) -> Generator[StringCommand, None, None]:
    """
    ``/usr/local/bin/docker`` a symlink to ``runtime``'s own docker CLI, on the gateway's PATH: made or pointed
    there (BSD ``ln -sfh``) when missing or pointing elsewhere. Refused while the runtime's CLI is not installed,
    or when ``/usr/local/bin/docker`` is a file of its own rather than a link (it is not removed).

    + runtime: ``orbstack`` or ``docker-desktop``
    """
    if runtime not in DOCKER_CLIS:
        raise OperationValueError(f"runtime must be one of {', '.join(sorted(DOCKER_CLIS))}, not {runtime!r}")
    app, target = DOCKER_CLIS[runtime]
    cli_file, cli_link, link = read_facts(
        (File, {"path": target}), (Link, {"path": target}), (Link, {"path": DOCKER_CLI_LINK})
    )
    # The CLI is a file, or a link inside the app (OrbStack's CLIs may be links to one multi-call binary).
    if not cli_file and not cli_link:
        yield from refuse(f"{target} is not on this host: install {app} first")
        return
    if link is False:
        yield from refuse(
            f"{DOCKER_CLI_LINK} is not a symlink to {app}'s docker CLI but a file of its own: move it away"
        )
        return
    if link and link["link_target"] == target:
        host.noop(f"{DOCKER_CLI_LINK} links to {target}")
        return
    # -h: a link that points at a directory is replaced, not followed into.
    yield StringCommand("mkdir -p", quoted(CLI_DIR), "&& ln -sfh", quoted(target), quoted(DOCKER_CLI_LINK))
