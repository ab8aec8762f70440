"""A gateway as a launchd job on macOS: its plist, and the job loaded, running, reloaded or restarted.

The plist holds the gateway's secrets in its ``EnvironmentVariables`` (how launchd hands a job its environment), so
it is written as a secrets file is (``secret_files.secret_file``: uploaded, never in a command line or a diff,
mode 600). A LaunchDaemon's plist is root's (launchd loads only root's plists into the system domain); a
LaunchAgent's is its user's, in ``~/Library/LaunchAgents``, loaded into that user's GUI domain (``gui/<uid>``).

launchd reads a plist only when the job is bootstrapped: a changed plist (its secrets included) needs ``bootout``
then ``bootstrap`` (``launchd_job_reloaded``); a changed config or release needs only the process restarted
(``kickstart -k``, ``launchd_job_restarted``). Both run only when the deploy changed something (``_if``).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Generator, Mapping

from pyinfra.api.command import PyinfraCommand, StringCommand
from pyinfra.api.exceptions import OperationValueError
from pyinfra.api.hiddenvalue import HiddenValue
from pyinfra.api.operation import operation
from pyinfra.context import host

from openclaw_infra.facts.accounts import UserId
from openclaw_infra.facts.batch import read_facts
from openclaw_infra.facts.launchctl import JobState, LaunchctlJob
from openclaw_infra.gateway_paths import GatewayPaths
from openclaw_infra.quoting import quoted
from openclaw_infra.rendering import render_plist
from openclaw_infra.settings import Gateway, Settings

PLIST_TEMPLATE = "launchd/openclaw-gateway.plist.json.j2"
# The system's own directories only: Homebrew's /opt/homebrew/bin is writable by the admin group (the guide's
# warning), so nothing there runs as the gateway. /usr/local/bin is where Docker Desktop and OrbStack link docker.
SYSTEM_PATH = ("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin")
# How long a bootout may take: the job's ExitTimeOut (330 s, the gateway's drain) and a margin.
BOOTOUT_WAIT_SECONDS = 340
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_USER = re.compile(r"^[a-z_][a-z0-9_-]*$")


def plist_content(
    settings: Settings, gateway: Gateway, paths: GatewayPaths, secrets: Mapping[str, HiddenValue]
) -> HiddenValue:
    """The gateway's launchd plist, secrets included (hence hidden): the same program, environment and restart
    policy as the systemd unit (``templates/systemd/openclaw-gateway.service.j2``)."""
    environment = {
        "HOME": paths.home,
        "OPENCLAW_HOME": paths.home,
        "OPENCLAW_STATE_DIR": paths.state_dir,
        "OPENCLAW_CONFIG_PATH": paths.config,
        # The multi-gateway guide's step 5: git's global config per profile (as the systemd unit's).
        "GIT_CONFIG_GLOBAL": paths.git_config,
        "OPENCLAW_GATEWAY_PORT": str(gateway.port),
        **({"OPENCLAW_PROFILE": gateway.profile} if gateway.profile else {}),
        # OpenClaw's own service markers, and: something else supervises it (no competing LaunchAgent from
        # `doctor --fix`), and it never updates itself behind the pins.
        "OPENCLAW_SERVICE_MARKER": "openclaw",
        "OPENCLAW_SERVICE_KIND": "gateway",
        "OPENCLAW_SERVICE_REPAIR_POLICY": "external",
        "OPENCLAW_NO_AUTO_UPDATE": "1",
        "PATH": ":".join((paths.node_bin_dir, *SYSTEM_PATH)),
    }
    clashing = sorted(set(environment) & set(secrets))
    if clashing:
        raise OperationValueError(f"secrets may not replace the service's own environment: {', '.join(clashing)}")
    content = render_plist(
        PLIST_TEMPLATE,
        label=paths.launchd_label,
        launch_daemon=paths.launch_agent_user is None,
        user=paths.user,
        group=paths.user,
        state_dir=paths.state_dir,
        log=posixpath.join(paths.logs_dir, "gateway.log"),
        error_log=paths.error_log,
        node_bin=posixpath.join(paths.node_bin_dir, "node"),
        openclaw_entry=paths.openclaw_entry,
        port=gateway.port,
        profile=gateway.profile,
        environment={**environment, **{name: value.unmask() for name, value in sorted(secrets.items())}},
    )
    return HiddenValue(content.decode())  # type: ignore[no-untyped-call]


def check_job(label: str, plist_path: str, user: str | None) -> None:
    if not _LABEL.match(label):
        raise OperationValueError(f"not a launchd label: {label!r}")
    if not posixpath.isabs(plist_path) or not plist_path.endswith(f"/{label}.plist"):
        raise OperationValueError(f"plist_path must be an absolute path ending in /{label}.plist: {plist_path!r}")
    if user is not None and not _USER.match(user):
        raise OperationValueError(f"not a user name: {user!r}")


def job_domain(user: str | None) -> tuple[str | None, object]:
    """The domain as the facts name it (None: a GUI domain whose user does not exist yet), and as a shell word
    that names it when the command runs (after the deploy created the user)."""
    if user is None:
        return "system", "system"
    (uid,) = read_facts((UserId, {"user": user}))
    if uid is not None:
        return f"gui/{uid}", f"gui/{uid}"
    return None, StringCommand('gui/"$(id -u --', quoted(user), ')"')


def _target(domain_word: object, label: str) -> StringCommand:
    return StringCommand(domain_word, "/", quoted(label), _separator="")


def bootstrap_command(domain_word: object, plist_path: str) -> StringCommand:
    return StringCommand("launchctl bootstrap", domain_word, quoted(plist_path))


def bootout_command(domain_word: object, label: str) -> StringCommand:
    """bootout, then wait until launchd no longer knows the job. bootout's exit status is not the answer: it is 3
    ("No such process") for a job that is not loaded, 36 ("Operation now in progress") for one it did stop, and
    it may return before a draining job is gone (a bootstrap then fails: "Input/output error"); its message is
    kept on stderr, and only a job still loaded after the wait fails the command."""
    target = _target(domain_word, label)
    return StringCommand(
        "launchctl bootout", target, "; waited=0;",
        "while launchctl print", target, ">/dev/null 2>&1; do",
        f'if [ "$waited" -ge {BOOTOUT_WAIT_SECONDS} ]; then echo', quoted(f"{label} is still loaded"),
        ">&2; exit 1; fi; sleep 1; waited=$((waited + 1)); done",
    )  # fmt: skip


@operation()
def launchd_job(
    label: str, plist_path: str, user: str | None = None, running: bool = True
) -> Generator[PyinfraCommand, None, None]:
    """
    The launchd job ``label`` loaded from ``plist_path`` and running: a LaunchDaemon in the ``system`` domain, or,
    with ``user``, a LaunchAgent in that user's GUI domain (``gui/<uid>``). Not loaded: bootstrapped (``RunAtLoad``
    starts it). Loaded from another plist: booted out, then bootstrapped from this one. Loaded, not running:
    kickstarted, unless ``running`` is False.

    + label: the job's label, e.g. ``ai.openclaw.gateway``
    + plist_path: its plist, ``…/<label>.plist``
    + user: None for a LaunchDaemon; the user whose GUI domain loads the LaunchAgent
    + running: False for a job launchd starts on a schedule (``StartCalendarInterval``): loaded is enough
    """
    check_job(label, plist_path, user)
    domain, domain_word = job_domain(user)
    job = read_facts((LaunchctlJob, {"label": label, "domain": domain}))[0] if domain else None
    if job is None:
        yield bootstrap_command(domain_word, plist_path)
        return
    if job.path is not None and job.path != plist_path:
        yield bootout_command(domain_word, label)
        yield bootstrap_command(domain_word, plist_path)
        return
    if running and job.state != JobState.RUNNING:
        yield StringCommand("launchctl kickstart", _target(domain_word, label))
        return
    if not running:
        host.noop(f"{domain}/{label} is loaded from {plist_path}")
        return
    host.noop(f"{domain}/{label} is loaded from {plist_path} and running (pid {job.pid})")


def _loaded(label: str, user: str | None) -> tuple[str | None, object, bool]:
    """The job's domain (as facts name it, and as a shell word), and whether launchd has the job loaded."""
    domain, domain_word = job_domain(user)
    job = read_facts((LaunchctlJob, {"label": label, "domain": domain}))[0] if domain else None
    return domain, domain_word, job is not None


@operation(is_idempotent=False)
def launchd_job_reloaded(label: str, plist_path: str, user: str | None = None) -> Generator[PyinfraCommand, None, None]:
    """
    The job booted out and bootstrapped again, so launchd reads its plist anew; for ``_if`` (the plist changed).
    Waits for a draining gateway to stop (up to ``BOOTOUT_WAIT_SECONDS``). A job not loaded is left to
    ``launchd_job``, whose bootstrap reads the new plist anyway.

    + label, plist_path, user: as for ``launchd_job``
    """
    check_job(label, plist_path, user)
    domain, domain_word, loaded = _loaded(label, user)
    if not loaded:
        host.noop(f"{label} is not loaded in {domain or 'the GUI domain of ' + str(user)}: nothing to reload")
        return
    yield bootout_command(domain_word, label)
    yield bootstrap_command(domain_word, plist_path)


@operation(is_idempotent=False)
def launchd_job_restarted(label: str, user: str | None = None) -> Generator[PyinfraCommand, None, None]:
    """
    The job's process killed and started again (``launchctl kickstart -k``), its plist as loaded; for ``_if``
    (its config or release changed). A job not loaded is left to ``launchd_job``, which starts it.

    + label, user: as for ``launchd_job``
    """
    check_job(label, f"/{label}.plist", user)
    domain, domain_word, loaded = _loaded(label, user)
    if not loaded:
        host.noop(f"{label} is not loaded in {domain or 'the GUI domain of ' + str(user)}: nothing to restart")
        return
    yield StringCommand("launchctl kickstart -k", _target(domain_word, label))
