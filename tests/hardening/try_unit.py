"""Exploration helper (not a test): render the gateway unit, install it on a sandbox host, start it, report.

    python -m tests.hardening.try_unit HOST [--profile NAME] [--port N] [--drop Directive ...] [--add 'K=V' ...]
        [--no-docker] [--docker-post]

Prints the unit's systemd-analyze security score, whether /health answered, the unit state and log tails.
--docker-post adds a drop-in ExecStartPost=/usr/bin/docker ps (--post CMD adds others): it runs in the unit's own
sandbox (same user, namespaces, seccomp, capabilities), so a started unit proves the Docker socket is reachable from
inside it.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys

from openclaw_infra.rendering import render
from sandbox_hosts import get_host
from tests.hardening.test_unit_template import variables as unit_template_variables


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("--profile")
    parser.add_argument("--port", type=int, default=18789)
    parser.add_argument("--drop", nargs="+", action="extend", default=[])
    parser.add_argument("--add", nargs="+", action="extend", default=[])
    parser.add_argument("--no-docker", action="store_true")
    parser.add_argument("--docker-post", action="store_true")
    parser.add_argument("--post", nargs="+", action="extend", default=[], help="more ExecStartPost= command lines")
    parser.add_argument("--wait", type=int, default=45)
    parser.add_argument("--logs-dir")
    parser.add_argument("--extra", nargs="+", action="extend", default=[], help="extra_rw_paths (created)")
    parser.add_argument("--no-precreate", action="store_true", help="let systemd create the log files")
    args = parser.parse_args()

    variables = unit_template_variables(args.profile, args.port, not args.no_docker, extra_rw_paths=args.extra)
    if args.logs_dir:
        variables["logs_dir"] = args.logs_dir
    unit = f"{variables['service_name']}.service"
    text = render("systemd/openclaw-gateway.service.j2", **variables)
    lines = [line for line in text.splitlines() if not any(line.startswith(f"{d}=") for d in args.drop)]
    if args.add:
        at = lines.index("[Install]")
        lines[at:at] = [*args.add, ""]
    text = "\n".join(lines) + "\n"

    host = get_host(args.host)
    state_dir = str(variables["state_dir"])
    logs_dir = str(variables["logs_dir"])
    precreate = "no" if args.no_precreate else "yes"
    port = args.port
    dropin = f"/etc/systemd/system/{unit}.d"
    posts = (["/usr/bin/docker ps"] if args.docker_post else []) + args.post
    post = "[Service]\n" + "".join(f"ExecStartPost={command}\n" for command in posts) if posts else ""
    script = f"""
set -u
systemctl stop {unit} 2>/dev/null
install -d -m 700 -o openclaw -g openclaw {state_dir} {logs_dir} {" ".join(args.extra)}
test -f {state_dir}/openclaw.json || {{
  printf '%s\\n' '{{ "gateway": {{ "mode": "local", "bind": "loopback", "port": {port},'\\
'  "auth": {{ "mode": "token", "token": "${{OPENCLAW_GATEWAY_TOKEN}}" }} }} }}' > {state_dir}/openclaw.json
  chown openclaw:openclaw {state_dir}/openclaw.json; chmod 600 {state_dir}/openclaw.json; }}
rm -f {logs_dir}/gateway.log {logs_dir}/gateway.err.log
[ {precreate} = yes ] && for f in gateway.log gateway.err.log; do
  install -m 640 -o openclaw -g openclaw /dev/null {logs_dir}/$f; done
cat > /etc/systemd/system/{unit} <<'UNIT_EOF'
{text}UNIT_EOF
rm -rf {dropin}
if [ -n {shlex.quote(post)} ]; then mkdir -p {dropin}; printf %s {shlex.quote(post)} > {dropin}/docker-check.conf; fi
systemd-analyze verify /etc/systemd/system/{unit} 2>&1 | grep -v 'Unknown key name\\|^$' | sed 's/^/verify: /'
systemctl daemon-reload
systemctl reset-failed {unit} 2>/dev/null
echo "score: $(systemd-analyze security {unit} | tail -1)"
systemctl start {unit}; echo "start rc=$?"
ok=no
for i in $(seq 1 {args.wait}); do
  sleep 1
  body=$(curl -s --max-time 2 http://127.0.0.1:{port}/health) &&
    {{ ok=yes; echo "health after ${{i}}s: $body"; break; }}
  systemctl is-failed -q {unit} && break
done
echo "health ok: $ok"
echo "state: $(systemctl show -p ActiveState,SubState,NRestarts,ExecMainStatus --value {unit} | tr '\\n' ' ')"
echo '--- journal'; journalctl -u {unit} --no-pager -n 15 -o cat
ls -l {logs_dir}
echo '--- gateway.log'; tail -n 25 {logs_dir}/gateway.log
echo '--- gateway.err.log'; tail -n 25 {logs_dir}/gateway.err.log
"""
    result = subprocess.run([*host.ssh_args(), script], capture_output=True, text=True, check=False)
    sys.stdout.write(result.stdout + result.stderr)
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
