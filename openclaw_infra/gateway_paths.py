"""Where one gateway's files live on its host (Linux, or macOS under launchd), and the owners and modes they must
have.

Derived from the settings only, so the deploy that writes the files, its verification and the drift checks that
read them back can never disagree about a path or a mode.
"""

from __future__ import annotations

import posixpath

from openclaw_infra.settings import Gateway, Settings

SECRETS_DIR = "/etc/openclaw"
# The service's stdout and stderr, appended by systemd (StandardOutput=/StandardError=append:).
LOG_FILE_NAMES = ("gateway.log", "gateway.err.log")
SYSTEMD_DIR = "/etc/systemd/system"
# A Linux root's PATH, after the pinned Node's directory: npm and OpenClaw find `node` on PATH (`#!/usr/bin/env node`),
# so the pinned one must come first.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LAUNCH_DAEMONS_DIR = "/Library/LaunchDaemons"


# macOS has no group per user: a standard user's files are user:staff, root's are root:wheel.
MACOS_USER_GROUP = "staff"
MACOS_ROOT_GROUP = "wheel"


class GatewayPaths:
    def __init__(self, settings: Settings, gateway: Gateway):
        self.user = settings.user_of(gateway)
        self.macos = settings.os_family == "macos"
        self.group = MACOS_USER_GROUP if self.macos else self.user
        self.home = settings.home_of(self.user)
        self.state_dir = settings.state_dir_of(gateway)
        self.logs_dir = posixpath.join(self.state_dir, "logs")
        self.error_log = posixpath.join(self.logs_dir, LOG_FILE_NAMES[1])
        self.config = posixpath.join(self.state_dir, "openclaw.json")
        # git's global config of this gateway (GIT_CONFIG_GLOBAL): per profile, inside what its service may read.
        self.git_config = posixpath.join(self.state_dir, ".gitconfig")
        self.secrets = posixpath.join(SECRETS_DIR, gateway.secrets_file_name)
        self.cli_secrets = posixpath.join(self.state_dir, ".env")
        self.unit_name = f"{gateway.service_name}.service"
        self.unit = posixpath.join(SYSTEMD_DIR, self.unit_name)
        # Its backup archives (root's, 600) in a directory of its own (root's, 700).
        self.backups_dir = posixpath.join(settings.backups.directory, gateway.service_name)
        # docker-containerized: the gateway's container, named like its unit would be.
        self.container_name = gateway.service_name
        self.node_bin_dir = posixpath.join(settings.node.prefix, "bin")
        self.openclaw_bin = posixpath.join(settings.openclaw.prefix, "bin", "openclaw")
        self.openclaw_entry = posixpath.join(settings.openclaw.prefix, "lib/node_modules/openclaw/openclaw.mjs")
        # macOS: the launchd job, its plist, and whose GUI domain loads it (None: the system domain).
        self.launchd_label = gateway.launchd_label
        self.launch_agent_user = self.user if settings.macos_service == "launch-agent" else None
        plist_dir = posixpath.join(self.home, "Library/LaunchAgents") if self.launch_agent_user else LAUNCH_DAEMONS_DIR
        self.plist = posixpath.join(plist_dir, f"{self.launchd_label}.plist")
        # A LaunchDaemon's plist is root's (launchd refuses others in the system domain); a LaunchAgent's its user's.
        self.plist_owner = (self.user, MACOS_USER_GROUP) if self.launch_agent_user else ("root", MACOS_ROOT_GROUP)
        # Where the gateway's secrets live: the plist's environment on macOS, the root-only env file on Linux.
        self.secrets_holder = self.plist if self.macos else self.secrets

    def expected_modes(self) -> dict[str, tuple[str, str, int]]:
        """path -> (user, group, mode as pyinfra's File facts print it): state dir, config, and the file holding
        the secrets (the env file; on macOS the plist)."""
        secrets_owner = self.plist_owner if self.macos else ("root", "root")
        return {
            self.state_dir: (self.user, self.group, 700),
            self.config: (self.user, self.group, 600),
            self.secrets_holder: (*secrets_owner, 600),
        }
