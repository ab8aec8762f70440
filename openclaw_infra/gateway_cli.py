"""The installed ``openclaw`` CLI run as a gateway's own user, with the gateway's environment: what commands that
talk to the running gateway (``sessions list|delete``, ``sessions export-trajectory``) need.

``systemd-run --pipe --wait`` runs it as a transient unit: systemd itself reads the root-only secrets file
(``EnvironmentFile=``, parsed exactly as the gateway's unit parses it), so the token reaches the CLI's
environment and never a command line, a shell variable or a file another user can read.
"""

from __future__ import annotations

import dataclasses
import posixpath
from typing import Any

from pyinfra.api.command import StringCommand

from openclaw_infra.gateway_paths import SYSTEM_PATH
from openclaw_infra.quoting import quoted


@dataclasses.dataclass(frozen=True)
class GatewayCli:
    """One gateway as its CLI must see it: its user, home, state dir, secrets file, port and profile, and the
    installed ``openclaw`` with the directory holding its ``node``."""

    user: str
    home: str
    state_dir: str
    secrets_file: str
    openclaw_bin: str
    node_bin_dir: str
    port: int
    profile: str | None = None

    def command(self) -> StringCommand:
        """The words that start ``openclaw …`` as the gateway's user on its state dir; append the subcommand."""
        environment = {
            "HOME": self.home,
            "OPENCLAW_GATEWAY_PORT": str(int(self.port)),
            "OPENCLAW_STATE_DIR": self.state_dir,
            "OPENCLAW_CONFIG_PATH": posixpath.join(self.state_dir, "openclaw.json"),
            "PATH": f"{self.node_bin_dir}:{SYSTEM_PATH}",
            **({"OPENCLAW_PROFILE": self.profile} if self.profile else {}),
        }
        return StringCommand(
            "systemd-run --quiet --pipe --wait --collect", quoted(f"--uid={self.user}"), quoted(f"--gid={self.user}"),
            "-p", quoted(f"EnvironmentFile={self.secrets_file}"), "-p", quoted(f"WorkingDirectory={self.state_dir}"),
            *(quoted(f"--setenv={name}={value}") for name, value in environment.items()),
            quoted(self.openclaw_bin),
        )  # fmt: skip

    def fact_arguments(self) -> dict[str, Any]:
        """The arguments of a fact that runs this CLI (``GatewaySessions``)."""
        return dataclasses.asdict(self)
