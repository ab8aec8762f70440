"""Paths with spaces, quotes and ';' on real hosts: a whole deploy with a service home holding a space, and the
unit, cron line and logrotate config for a far nastier home read by the real systemd, cron and logrotate."""

from __future__ import annotations

import shlex
import time

import pytest

from openclaw_infra.quoting import shell_word
from openclaw_infra.rendering import render
from sandbox_hosts import SandboxHost
from tests.hardening.test_unit_template import STUB_GATEWAY
from tests.hardening.test_unit_template import variables as unit_variables
from tests.helpers import VERIFIED
from tests.linux.test_linux_deploy import SERVICE, deploy, planned_changes
from tests.quoting.test_quoted_files import RECORDER

pytestmark = pytest.mark.sandbox

SPACED_HOME = "/srv/open claw"
# Every minute, so the real cron runs the job while the test waits.
SPACED_DATA = [
    "--data", f"openclaw_service_home={SPACED_HOME}",
    "--data", 'openclaw_transcript_pruning={"schedule": "* * * * *"}',
]  # fmt: skip
NASTY_HOME = '/srv/it\'s "open" claw;touch x $HOME %h \\back'


def _process(host: SandboxHost, unit: str) -> tuple[list[str], list[str], str]:
    """argv, environment and working directory of the unit's main process."""
    pid = host.run(f"systemctl show -p MainPID --value {unit}").stdout.strip()
    read = host.run(f"tr '\\0' '\\n' </proc/{pid}/cmdline; echo --; tr '\\0' '\\n' </proc/{pid}/environ; echo --; "
                    f"readlink /proc/{pid}/cwd").stdout  # fmt: skip
    argv, environ, cwd = read.split("--\n")
    return argv.splitlines(), environ.splitlines(), cwd.strip()


def _old_and_new_transcripts(host: SandboxHost, state_dir: str, user: str) -> str:
    """An archived transcript older than 30 days and a fresh one, private as the gateway (UMask=0077) writes
    them; returns the sessions dir."""
    sessions = f"{state_dir}/agents/main/sessions"
    host.run(
        f"install -d -o {user} -g {user} -m 700 {shell_word(state_dir + '/agents')} "
        f"{shell_word(state_dir + '/agents/main')} {shell_word(sessions)} && "
        f"umask 077 && runuser -u {user} -- touch -d '40 days ago' {shell_word(sessions + '/old.jsonl')} && "
        f"runuser -u {user} -- touch {shell_word(sessions + '/new.jsonl')}"
    )
    return sessions


def _put(host: SandboxHost, path: str, text: str, mode: str = "644") -> None:
    # File content is many lines: shlex.quote, not shell_word (made for one-line values).
    host.run(f"printf %s {shlex.quote(text)} >{shell_word(path)} && chmod {mode} {shell_word(path)}")


def _wait_for(host: SandboxHost, test: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while host.run(test, check=False).returncode != 0:
        if time.monotonic() > deadline:
            return False
        time.sleep(3)
    return True


def test_deploy_with_a_service_home_holding_a_space(sandbox_host: SandboxHost) -> None:
    host = sandbox_host
    state_dir = f"{SPACED_HOME}/.openclaw"
    output = deploy(host, *SPACED_DATA)
    assert VERIFIED in output  # the deploy's own verification ran (and passed: exit 0)

    environment = host.run(f"systemctl show -p Environment --value {SERVICE}").stdout
    assert f'"HOME={SPACED_HOME}"' in environment and f'"OPENCLAW_STATE_DIR={state_dir}"' in environment
    _argv, environ, cwd = _process(host, SERVICE)
    assert f"HOME={SPACED_HOME}" in environ and f"OPENCLAW_CONFIG_PATH={state_dir}/openclaw.json" in environ
    assert cwd == state_dir
    modes = host.run(f"stat -c '%U %a %n' {shell_word(SPACED_HOME)} {shell_word(state_dir + '/logs/gateway.log')}")
    assert modes.stdout.splitlines() == [f"openclaw 700 {SPACED_HOME}", f"openclaw 600 {state_dir}/logs/gateway.log"]
    assert host.run("test ! -e /home/openclaw && test ! -e /srv/open && test ! -e x", check=False).returncode == 0

    # The real cron runs the pruning job (every minute here): the old archived transcript goes, the new stays.
    sessions = _old_and_new_transcripts(host, state_dir, "openclaw")
    assert _wait_for(host, f"test ! -e {shell_word(sessions + '/old.jsonl')}", 150), "cron never pruned"
    assert host.run(f"ls {shell_word(sessions)}").stdout.split() == ["new.jsonl"]

    host.run("logrotate --force /etc/logrotate.d/openclaw-gateway")
    rotated = host.run(f"stat -c '%U %a %n' {shell_word(state_dir + '/logs')}/gateway.log*").stdout.splitlines()
    assert f"openclaw 600 {state_dir}/logs/gateway.log.1" in rotated, rotated

    assert planned_changes(host, *SPACED_DATA) == []


def test_nasty_home_is_read_right_by_systemd_cron_and_logrotate(sandbox_host: SandboxHost) -> None:
    host = sandbox_host
    home, state_dir = NASTY_HOME, f"{NASTY_HOME}/.openclaw"
    logs_dir, entry = f"{state_dir}/logs", f"{NASTY_HOME}/lib/gate$way %i.py"
    recorder = f"{NASTY_HOME}/bin/open claw"
    host.run(
        f"useradd --system --home-dir {shell_word(home)} --shell /usr/sbin/nologin --user-group openclaw && "
        f"install -d -m 700 -o openclaw -g openclaw {shell_word(home)} {shell_word(state_dir)} {shell_word(logs_dir)} "
        f"&& install -d -m 755 {shell_word(home + '/lib')} {shell_word(home + '/bin')} /etc/openclaw && "
        f"install -m 600 -o openclaw -g openclaw /dev/null {shell_word(logs_dir + '/gateway.log')} && "
        f"install -m 600 -o openclaw -g openclaw /dev/null {shell_word(logs_dir + '/gateway.err.log')} && "
        "(umask 077; echo OPENCLAW_GATEWAY_TOKEN=stub >/etc/openclaw/secrets.env)"
    )
    _put(host, entry, STUB_GATEWAY)
    _put(host, recorder, RECORDER, mode="755")

    # systemd: the unit, with python3 running the stub in place of node and OpenClaw.
    unit = render(
        "systemd/openclaw-gateway.service.j2",
        **unit_variables(home=home, state_dir=state_dir, logs_dir=logs_dir, node_bin="/usr/bin/python3",
                         openclaw_entry=entry, docker_sandbox=False),
    )  # fmt: skip
    _put(host, f"/etc/systemd/system/{SERVICE}.service", unit)
    host.run("systemctl daemon-reload")
    verify = host.run(f"systemd-analyze verify /etc/systemd/system/{SERVICE}.service", check=False)
    assert verify.returncode == 0 and not (verify.stdout + verify.stderr).strip(), verify.stdout + verify.stderr
    host.run(f"systemctl start {SERVICE}")
    assert _wait_for(host, "curl -sf http://127.0.0.1:18789/health", 30), host.run(f"journalctl -u {SERVICE}").stdout
    argv, environ, cwd = _process(host, SERVICE)
    assert argv == ["/usr/bin/python3", entry, "gateway", "--port", "18789"]
    assert {f"HOME={home}", f"OPENCLAW_STATE_DIR={state_dir}", f"OPENCLAW_CONFIG_PATH={state_dir}/openclaw.json"} <= (
        set(environ)
    )
    assert cwd == state_dir
    # The stub logs each request on stderr: StandardError=append: opened the file in that directory.
    assert "GET /health" in host.run(f"cat {shell_word(logs_dir + '/gateway.err.log')}").stdout

    # cron: the pruning line, every minute, with a recorder in place of the openclaw CLI.
    cron = render(
        "cron/openclaw-sessions.j2", user="openclaw", state_dir=state_dir, openclaw_bin=recorder,
        node_bin_dir=f"{home}/no de/bin", profile=None, schedule="* * * * *", prune_after_days=30,
    )  # fmt: skip
    sessions = _old_and_new_transcripts(host, state_dir, "openclaw")
    _put(host, "/etc/cron.d/openclaw-gateway", cron)
    assert _wait_for(host, f"test -e {shell_word(state_dir + '/called')}", 150), "cron never ran the job"
    time.sleep(2)  # the find after the recorder
    called = host.run(f"cat {shell_word(state_dir + '/called')}").stdout.splitlines()
    assert called[1:] == [state_dir, f"{home}/no de/bin:/usr/bin:/bin", "sessions", "cleanup", "--enforce",
                          "--all-agents"]  # fmt: skip
    assert host.run(f"ls {shell_word(sessions)}").stdout.split() == ["new.jsonl"]

    # logrotate: the rendered config, rotated as the service user.
    rotate = render(
        "logrotate/openclaw-gateway.j2", logs_dir=logs_dir, user="openclaw", group="openclaw",
        frequency="daily", keep=3, max_size="50M", compress=False,
    )  # fmt: skip
    _put(host, "/etc/logrotate.d/openclaw-gateway", rotate)
    host.run("logrotate --force /etc/logrotate.d/openclaw-gateway")
    rotated = host.run(f"stat -c '%U %a %n' {shell_word(logs_dir)}/gateway*").stdout.splitlines()
    assert f"openclaw 600 {logs_dir}/gateway.err.log.1" in rotated, rotated
    assert host.run("test ! -e /x && test ! -e /root/x", check=False).returncode == 0, "';touch x' ran somewhere"
