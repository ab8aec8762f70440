"""systemd-analyze security exposure of the installed gateway unit(s), next to the deployment guide's unit.

    python benchmarks/exposure_score.py HOST [UNIT ...]     (HOST: a sandbox host name; default UNIT openclaw-gateway)

Scores each UNIT as loaded on HOST, then installs the guide's unit (verbatim, section "Linux: systemd") under the
throw-away name openclaw-guide-unit.service only to score it, and removes it again (it is never started).
Lower is better: systemd rates 0-10, "OK" up to 4.9, "EXPOSED" from 8.0.
"""

from __future__ import annotations

import re
import shlex
import sys

from sandbox_hosts import SandboxError, SandboxHost, get_host

GUIDE_UNIT_NAME = "openclaw-guide-unit.service"

# Verbatim from the guide (../shared/seeds, "## Linux: systemd").
GUIDE_UNIT = """\
[Unit]
Description=OpenClaw Gateway
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=openclaw
Group=openclaw
ExecStart=/usr/bin/node /usr/lib/node_modules/openclaw/dist/index.js gateway --port 18789
Restart=always
RestartSec=5

# Hardening
NoNewPrivileges=true
PrivateTmp=yes
ProtectSystem=strict
ReadWritePaths=/home/openclaw/.openclaw

Environment=HOME=/home/openclaw
Environment=OPENCLAW_HOME=/home/openclaw
Environment=OPENCLAW_GATEWAY_PORT=18789
EnvironmentFile=/etc/openclaw/secrets.env

StandardOutput=append:/home/openclaw/.openclaw/logs/gateway.log
StandardError=append:/home/openclaw/.openclaw/logs/gateway.err.log

[Install]
WantedBy=multi-user.target
"""

_OVERALL = re.compile(r"Overall exposure level for (\S+): ([0-9.]+) (\S+)")


def exposure(host: SandboxHost, unit: str) -> tuple[float, str]:
    """The overall exposure score and systemd's verdict word for a unit loaded on the host."""
    result = host.run(f"systemd-analyze security --no-pager {shlex.quote(unit)}", check=False)
    match = _OVERALL.search(result.stdout + result.stderr)
    if not match:
        raise SandboxError(f"{host.name}: no exposure score for {unit}:\n{result.stdout}{result.stderr}")
    return float(match.group(2)), match.group(3)


def guide_exposure(host: SandboxHost) -> tuple[float, str]:
    path = f"/etc/systemd/system/{GUIDE_UNIT_NAME}"
    host.run(f"cat > {path} <<'GUIDE_EOF'\n{GUIDE_UNIT}GUIDE_EOF\nsystemctl daemon-reload")
    try:
        return exposure(host, GUIDE_UNIT_NAME)
    finally:
        host.run(f"rm -f {path}; systemctl daemon-reload", check=False)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(__doc__)
        return 2
    host = get_host(argv[0])
    units = [u if u.endswith(".service") else f"{u}.service" for u in (argv[1:] or ["openclaw-gateway"])]
    version = host.run("systemctl --version | head -1", check=False).stdout.strip()
    print(f"host {host.name} ({version})")
    rows = [(unit, *exposure(host, unit)) for unit in units]
    rows.append((f"guide's unit ({GUIDE_UNIT_NAME})", *guide_exposure(host)))
    width = max(len(name) for name, _, _ in rows)
    for name, score, verdict in rows:
        print(f"{name:<{width}}  {score:4.1f}  {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
