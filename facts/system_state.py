"""systemd's overall state on a host."""

from __future__ import annotations

from pyinfra.api.exceptions import FactProcessError
from pyinfra.api.facts import FactBase

# `systemctl is-system-running` states (systemctl(1)); `offline` means systemd is not PID 1.
SYSTEMD_STATES = frozenset(
    {"initializing", "starting", "running", "degraded", "maintenance", "stopping", "offline", "unknown"}
)


class SystemdSystemState(FactBase[str | None]):
    """
    ``systemctl is-system-running`` as a word, or ``None`` where systemctl is missing (macOS, BSD).

    .. code:: python

        "running"
    """

    def requires_command(self) -> str:
        return "systemctl"

    def command(self) -> str:
        # Exits non-zero for every state but `running`; the state is still on stdout.
        return "systemctl is-system-running || true"

    def process(self, output: list[str]) -> str | None:
        state = output[-1].strip() if output else ""
        if state not in SYSTEMD_STATES:
            raise FactProcessError(f"unexpected systemctl is-system-running output: {state!r}")
        return state
