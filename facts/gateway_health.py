"""Whether a gateway answers its health endpoint, waiting for it to come up as long as it is making progress."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactBase
from typing_extensions import override

from openclaw_infra.quoting import quoted

from .parsing import unreadable
from .records import JsonRecord

NO_ANSWER = "no-answer"
# Far above any cold start seen (ten gateways on two cores: ~3 min); only a gateway that keeps using CPU without
# ever answering can reach it.
MAX_WAIT_SECONDS = 900
# A unit whose CPU time has not grown for this long is not starting any more.
STALL_SECONDS = 20

_ANSWER = re.compile(r"^(\d+) (.*)$", re.DOTALL)


@dataclasses.dataclass(frozen=True)
class GatewayHealth(JsonRecord):
    healthy: bool
    # The endpoint's JSON answer, or why the wait ended without one and what curl said: the evidence a failed
    # check shows.
    answer: str
    waited_seconds: int


# The loop, in POSIX sh. Without a unit it polls once a second for `wait` seconds. With one it also follows the
# gateway: it stops at once when the unit is no longer active, crashed (auto-restart) or was restarted (another
# MainPID, more NRestarts), or another process holds the port (the gateway then retries its start for ever,
# active and busy, seen with a squatter on the port), and keeps waiting past `wait` (up to `max`) while there is
# no answer (refused, or accepted and not answered: a gateway busy starting does both) and the unit's CPU time
# grew within the last `stall` seconds. Seen on ten fresh hosts on two cores: the HTTP server listened 2.5 min
# after the unit started, answered 20 s later, and the process listened on other ports before its own.
# Always exits 0 and prints "<seconds> <answer>": a gateway that is down is a value, not a failed host.
_LOOP = """\
start=$(date +%s); waited=0; why=
if [ -n "$unit" ]; then
  state() {
    ActiveState= SubState= NRestarts= MainPID= CPUUsageNSec=
    eval "$(systemctl show -p ActiveState -p SubState -p NRestarts -p MainPID -p CPUUsageNSec -- "$unit" \\
      | sed -n 's/^\\([A-Za-z]*\\)=\\([A-Za-z0-9-]*\\)$/\\1=\\2/p')"
  }
  state; first_pid=$MainPID; first_restarts=$NRestarts; cpu=$CPUUsageNSec; moved=0
fi
while :; do
  out=$(curl -sS --max-time 2 "$url" 2>&1) && { echo "$(( $(date +%s) - start )) $out"; exit 0; }
  waited=$(( $(date +%s) - start ))
  if [ -n "$unit" ]; then
    state
    case "$ActiveState/$SubState" in
      active/*|reloading/*) ;;
      *) why="unit $ActiveState ($SubState)"; break ;;
    esac
    if [ "$MainPID" != "$first_pid" ] || [ "$NRestarts" != "$first_restarts" ]; then
      why="unit restarted (NRestarts $first_restarts -> $NRestarts)"; break
    fi
    holder=$(ss -Hltnp "sport = :$port" 2>/dev/null | sed -n '/pid=/{s/.*pid=\\([0-9]*\\),.*/\\1/p;q;}')
    if [ -n "$holder" ] && ! grep -q "/$unit\\$" "/proc/$holder/cgroup" 2>/dev/null; then
      why="port $port is held by $(cat "/proc/$holder/comm" 2>/dev/null) (pid $holder), not $unit"; break
    fi
    now=$CPUUsageNSec
    [ "$now" != "$cpu" ] && { cpu=$now; moved=$waited; }
    if [ $waited -ge $wait ]; then
      [ $(( waited - moved )) -ge $stall ] && { why="no CPU progress for ${stall}s"; break; }
      [ $waited -ge $max ] && { why="still starting after ${max}s"; break; }
    fi
  elif [ $waited -ge $wait ]; then
    why="no answer in ${wait}s"; break
  fi
  sleep 1
done
echo "$waited @NO_ANSWER@ ($why): $out"
""".replace("@NO_ANSWER@", NO_ANSWER)


class GatewayHealthCheck(FactBase[GatewayHealth]):
    """
    Polls ``http://127.0.0.1:<port>/health`` once a second (curl, loopback only) for up to ``wait_seconds``.

    With ``service`` (the gateway's unit) the wait follows the gateway, read from ``systemctl show`` each second:
    it ends early when the unit failed, stopped, crashed or was restarted, or another process holds the port,
    and goes on past ``wait_seconds`` (up to ``max_wait_seconds``) while the unit is active and its CPU time still
    grows (a cold start takes ~10 s of CPU; ten at once on two cores took ~3 min). Without ``service`` it is a
    plain bounded wait, as the drift checks use.

    Runs ``curl -sS --max-time 2 http://127.0.0.1:<port>/health`` in that loop; ``healthy`` when the answer is
    JSON with ``"ok": true``.

    .. code:: python

        {"healthy": True, "answer": '{"ok":true,"status":"live"}', "waited_seconds": 3}
        {"healthy": False, "answer": "no-answer (unit restarted (NRestarts 0 -> 1)): curl: (7) …",
         "waited_seconds": 6}
    """

    @override
    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "curl"

    @override
    def command(
        self,
        port: int,
        wait_seconds: int = 60,
        service: str | None = None,
        max_wait_seconds: int = MAX_WAIT_SECONDS,
    ) -> StringCommand:
        settings = {
            "port": str(int(port)),
            "url": quoted(f"http://127.0.0.1:{int(port)}/health"),
            "unit": quoted(service or ""),
            "wait": str(int(wait_seconds)),
            "max": str(max(int(max_wait_seconds), int(wait_seconds))),
            "stall": str(STALL_SECONDS),
        }
        assignments = [StringCommand(f"{name}=", value, _separator="") for name, value in settings.items()]
        return StringCommand(*assignments, ";", _LOOP.strip())

    @override
    def process(self, output: list[str]) -> GatewayHealth:
        match = _ANSWER.match("\n".join(output).strip())
        if not match:
            raise unreadable("gateway health check", " ".join(output), "expected '<seconds> <answer>'")
        waited, answer = match.groups()
        healthy = False
        if not answer.startswith(NO_ANSWER):
            try:
                healthy = json.loads(answer).get("ok") is True
            except (ValueError, AttributeError):
                healthy = False
        return GatewayHealth(healthy=healthy, answer=answer[:500], waited_seconds=int(waited))
