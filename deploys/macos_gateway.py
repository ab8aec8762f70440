"""OpenClaw gateways as launchd jobs on a Mac: Docker isolation on a Mac host (the guide's "macOS: LaunchDaemon" and
"Alternative: LaunchAgent"), and the inside of a macOS VM, are this same deployment.

Every step is its own idempotent operation; a second run changes nothing. A gateway's job is reloaded
(``bootout``/``bootstrap``) only when its plist changed, restarted (``kickstart -k``) only when its config or the
pinned releases changed, and started when it is not running.
"""

from __future__ import annotations

import posixpath

from pyinfra.api.deploy import deploy
from pyinfra.api.operation import OperationMeta
from pyinfra.operations import files
from pyinfra.operations.util import any_changed

from openclaw_infra.deploy_context import current_settings, require_deploy
from openclaw_infra.deploys.pinned_releases import pinned_node, pinned_openclaw
from openclaw_infra.firewall_policy import gateway_ports
from openclaw_infra.gateway_paths import LAUNCH_DAEMONS_DIR, MACOS_USER_GROUP, GatewayPaths
from openclaw_infra.host_settings import HostSettings
from openclaw_infra.operations import (
    gateway_config,
    launchd_service,
    log_maintenance,
    lume_vms,
    macos_accounts,
    macos_docker,
    macos_firewall,
    macos_homes,
    pf_firewall,
    preflight,
    secret_files,
    service_account,
    sudoers,
    verification,
)
from openclaw_infra.settings import Gateway, Settings

# The isolation models this deployment serves: the deploy files that are thin entries over it.
MACOS_LAUNCHD_DEPLOYS = ("deploys/macos_host.py",)
DARWIN = "darwin"
LOGIN_SHELL = "/bin/zsh"
NO_LOGIN_SHELL = "/usr/bin/false"
VERIFY_OPERATION = "Verify the gateways and the Mac against their expected state"


def macos_host_base(settings: Settings) -> tuple[OperationMeta, OperationMeta]:
    """Everything the gateways of a Mac share: checks, Node, OpenClaw, the service users and their Docker access.
    Returns the Node and OpenClaw operations, whose changes restart every gateway."""
    preflight.host_ready(name="Check the host can carry the OpenClaw settings", settings=settings)
    node = pinned_node(settings, DARWIN)
    openclaw = pinned_openclaw(settings, DARWIN)
    # A LaunchAgent runs in its user's GUI session, which needs a login shell (the operator gives the password).
    shell = LOGIN_SHELL if settings.macos_service == "launch-agent" else NO_LOGIN_SHELL
    for user in settings.users:
        macos_accounts.macos_service_user(
            name=f"Service user {user}", user=user, home=settings.home_of(user), shell=shell
        )
    if settings.docker_sandbox:
        macos_docker.docker_group_membership(name="Docker group: only the service users", members=settings.users)
        macos_docker.docker_cli_on_path(
            name=f"Docker CLI of {settings.macos_docker_runtime} in /usr/local/bin",
            runtime=settings.macos_docker_runtime,
        )
        # A LaunchAgent runs in its user's GUI session, where OrbStack's own helper already runs.
        if settings.macos_docker_runtime == "orbstack" and settings.macos_service == "launch-daemon":
            for user in settings.users:
                macos_docker.orbstack_helper(name=f"OrbStack helper in {user}'s GUI domain", user=user)
    return node, openclaw


def gateway_files(host_settings: HostSettings, gateway: Gateway) -> tuple[OperationMeta, OperationMeta]:
    """One gateway's directories, config and plist (its secrets inside). Returns the config and plist operations."""
    settings = host_settings.settings
    paths = GatewayPaths(settings, gateway)
    label = paths.launchd_label
    service_account.gateway_directories(
        name=f"{label}: state and logs dirs",
        user=paths.user,
        state_dir=paths.state_dir,
        logs_dir=paths.logs_dir,
        group=MACOS_USER_GROUP,
    )
    config = gateway_config.gateway_config(
        name=f"{label}: openclaw.json",
        path=paths.config,
        content=gateway_config.content_for(settings, gateway),
        user=paths.user,
        group=MACOS_USER_GROUP,
        openclaw_bin=paths.openclaw_bin,
        node_bin_dir=paths.node_bin_dir,
        state_dir=paths.state_dir,
        platform=DARWIN,
    )
    # The CLI's copy is never written on a Mac (the settings refuse it): one left by hand is removed.
    files.file(name=f"{label}: no secrets copy for the CLI", path=paths.cli_secrets, present=False)
    owner, group = paths.plist_owner
    if paths.launch_agent_user:
        # Made here, each the user's: the plist's own upload would make missing parents root's (install -d).
        agents = posixpath.dirname(paths.plist)
        for directory in (posixpath.dirname(agents), agents):
            files.directory(
                name=f"{label}: {directory}", path=directory, user=paths.user, group=MACOS_USER_GROUP, mode="700"
            )
    plist = secret_files.secret_file(
        name=f"{label}: launchd plist (holds its secrets)",
        path=paths.plist,
        content=launchd_service.plist_content(settings, gateway, paths, host_settings.secrets_of(gateway)),
        user=owner,
        group=group,
    )
    return config, plist


def launchd_gateway(
    settings: Settings, gateway: Gateway, restart_when: list[OperationMeta], plist: OperationMeta
) -> None:
    """The gateway's job: reloaded when its plist changed, else restarted when anything in ``restart_when``
    changed; then loaded and running (a fresh host: bootstrapped here)."""
    paths = GatewayPaths(settings, gateway)
    label, user = paths.launchd_label, paths.launch_agent_user
    launchd_service.launchd_job_reloaded(
        name=f"{label}: reload on plist change", label=label, plist_path=paths.plist, user=user,
        _if=any_changed(plist),
    )  # fmt: skip
    launchd_service.launchd_job_restarted(
        name=f"{label}: restart on change", label=label, user=user,
        # A reload already restarted it with everything new.
        _if=[any_changed(*restart_when), lambda: not plist.did_change()],
    )  # fmt: skip
    launchd_service.launchd_job(name=f"{label}: loaded and running", label=label, plist_path=paths.plist, user=user)


def gateway_maintenance(settings: Settings, gateway: Gateway) -> None:
    """newsyslog for the gateway's logs, and transcript pruning as a calendar LaunchDaemon."""
    paths = GatewayPaths(settings, gateway)
    label = paths.launchd_label
    rotation = settings.log_rotation
    log_maintenance.gateway_newsyslog(
        name=f"{label}: log rotation (newsyslog)",
        config_name=label,
        logs_dir=paths.logs_dir,
        user=paths.user,
        group=MACOS_USER_GROUP,
        keep=rotation.keep,
        max_size_kib=rotation.max_size_kib,
        # Never compressed: launchd holds the rotated file open until the job's next start, and newsyslog would
        # remove it once compressed, with what the gateway still writes there (see gateway_newsyslog).
        compress=False,
        present=rotation.enabled,
    )
    pruning = settings.transcript_pruning
    pruning_label = f"{label}.sessions"
    pruning_plist = log_maintenance.transcript_pruning_daemon(
        name=f"{label}: transcript pruning",
        label=pruning_label,
        user=paths.user,
        state_dir=paths.state_dir,
        openclaw_bin=paths.openclaw_bin,
        node_bin_dir=paths.node_bin_dir,
        profile=gateway.profile,
        schedule=pruning.schedule,
        prune_after_days=pruning.prune_after_days,
        present=pruning.enabled,
    )
    if pruning.enabled:
        plist_path = posixpath.join(LAUNCH_DAEMONS_DIR, f"{pruning_label}.plist")
        launchd_service.launchd_job_reloaded(
            name=f"{pruning_label}: reload on plist change", label=pruning_label, plist_path=plist_path,
            _if=any_changed(pruning_plist),
        )  # fmt: skip
        launchd_service.launchd_job(
            name=f"{pruning_label}: loaded", label=pruning_label, plist_path=plist_path, running=False
        )


def mac_firewall(settings: Settings) -> None:
    """The application firewall with stealth mode; a pf anchor when a gateway listens beyond loopback."""
    if not settings.firewall.enabled:
        return
    macos_firewall.application_firewall(name="Application firewall on, stealth mode")
    if any(gateway.bind != "loopback" for gateway in settings.gateways):
        pf_firewall.pf_anchor(
            name="pf anchor: gateway ports for loopback and the allowed sources only",
            ports=sorted(gateway_ports(settings)),
            allowed_sources=[str(source) for source in settings.firewall.gateway_allowed_sources],
        )


def mixed_use_admins(settings: Settings) -> None:
    """The admins of a mixed-use Mac: their own homes closed, and ACL access to the gateways' files."""
    for admin in settings.macos_admins:
        macos_homes.home_closed(name=f"Home of admin {admin}: closed to others", user=admin, home=f"/Users/{admin}")
        for gateway in settings.gateways:
            paths = GatewayPaths(settings, gateway)
            macos_homes.admin_access(
                name=f"{paths.launchd_label}: ACL access for admin {admin}",
                admin=admin,
                home=paths.home,
                state_dir=paths.state_dir,
            )


@deploy("OpenClaw gateway (macOS, launchd)")
def macos_gateway() -> None:
    # Imported into an operator's own deploy, it still refuses hosts of another model (a Linux host, a container).
    require_deploy(*MACOS_LAUNCHD_DEPLOYS)
    host_settings = current_settings()
    settings = host_settings.settings
    node, openclaw = macos_host_base(settings)
    for gateway in settings.gateways:
        config, plist = gateway_files(host_settings, gateway)
        launchd_gateway(settings, gateway, [node, openclaw, config], plist)
        gateway_maintenance(settings, gateway)
    mixed_use_admins(settings)
    mac_firewall(settings)
    verification.mac_host_verified(name=VERIFY_OPERATION, host_settings=host_settings)
    # Last: the file removed may be the NOPASSWD grant this very run uses, and the password replaced may be the
    # one its sudo was given (the next run gives the new one).
    if settings.macos_temporary_sudoers:
        sudoers.temporary_sudoers_removed(
            name="Temporary sudoers files removed", files=list(settings.macos_temporary_sudoers)
        )
    if host_settings.macos_vm_admin_password is not None:
        lume_vms.lume_admin_password_changed(
            name=f"Lume's default password of {settings.macos_vm_admin} replaced",
            new_password=host_settings.macos_vm_admin_password,
            admin_user=settings.macos_vm_admin,
        )
