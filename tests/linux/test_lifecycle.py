"""Lifecycle and emergencies (issue 13), live on a sandbox host with the real gateway, run as users run them:
backup, restore, token rotation, audit bundle, session reset, an upgrade to broken releases rolled back, and
containment undone by the deploy.

Two gateways of one user (the default one on 18789, profile wa on 18809), each with its token in a file on this
machine (the control machine), so rotation can rewrite its source.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from sandbox_hosts import SandboxHost
from tests.helpers import VERIFIED, changed_operations, run_pyinfra, status_with_token
from tests.linux import broken_release
from tests.linux.test_agent_sandbox import machine_address

pytestmark = pytest.mark.sandbox

DEPLOY = "deploys/linux_vm.py"
TOKEN = "OPENCLAW_GATEWAY_TOKEN"
MAIN, WA = "openclaw-gateway", "openclaw-gateway-wa"
PORTS = {MAIN: 18789, WA: 18809}
STATE = {MAIN: "/home/openclaw/.openclaw", WA: "/home/openclaw/.openclaw-wa"}
BACKUPS = "/var/backups/openclaw"
REGISTRY_PORT = 48731
REJECTS, CRASHES = "2026.9.7-rejects.1", "2026.9.7-crashes.1"
PLANTED = "workspace/notes/planted.bin"
PLANTED_SESSION = "agent:main:explicit:planted"


class Lifecycle:
    """The host, its settings as --data, and the token files the settings read."""

    def __init__(self, host: SandboxHost, scratch: Path):
        self.host, self.scratch = host, scratch
        self.tokens = {name: scratch / f"{name}.token" for name in PORTS}
        for name, path in self.tokens.items():
            path.write_text(f"lc-{name}-initial-7d3f9a\n")
            path.chmod(0o600)
        # No recurring heartbeat: about two minutes after a start OpenClaw runs one in the main session, which
        # makes "agent:main:main" appear on its own (seen in a probe, and in CI between the session reset and the
        # listing that checks it).
        quiet = {"agents": {"defaults": {"heartbeat": {"every": "0m"}}}}
        gateways = [
            {"port": PORTS[MAIN], "secrets": {TOKEN: {"file": str(self.tokens[MAIN])}}, "extra_config": quiet},
            {"port": PORTS[WA], "profile": "wa", "secrets": {TOKEN: {"file": str(self.tokens[WA])}},
             "extra_config": quiet},
        ]  # fmt: skip
        self.data = [
            "--data", f"openclaw_gateways={json.dumps(gateways)}",
            "--data", "openclaw_docker_sandbox=false",
            "--data", f"openclaw_backups={json.dumps({'fetch_to': str(scratch / 'fetched')})}",
            "--data", f"openclaw_audit_dir={scratch / 'audit'}",
            "--data", f"openclaw_rotated_secrets_dir={scratch / 'rotated'}",
        ]  # fmt: skip

    def run(self, deploy: str, *extra: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_pyinfra([self.host], *self.data, *extra, "--json", deploy, check=check)

    def token(self, name: str) -> str:
        return self.tokens[name].read_text().strip()

    def sha256(self, path: str) -> str:
        return self.host.run(f"sha256sum {path}").stdout.split()[0]

    def cli(self, name: str, *words: str) -> str:
        """``openclaw`` as the gateway's user with the gateway's environment (as the deploys run it)."""
        profile = "" if name == MAIN else " --setenv=OPENCLAW_PROFILE=wa"
        command = (
            f"cd /tmp && systemd-run --quiet --pipe --wait --collect --uid=openclaw --gid=openclaw "
            f"-p EnvironmentFile=/etc/openclaw/secrets{'' if name == MAIN else '-wa'}.env "
            f"-p WorkingDirectory={STATE[name]} --setenv=HOME=/home/openclaw --setenv=OPENCLAW_STATE_DIR={STATE[name]} "
            f"--setenv=OPENCLAW_CONFIG_PATH={STATE[name]}/openclaw.json --setenv=OPENCLAW_GATEWAY_PORT={PORTS[name]}"
            f"{profile} --setenv=PATH=/opt/node/bin:/usr/bin:/bin /opt/openclaw/bin/openclaw {' '.join(words)}"
        )
        return self.host.run(command, check=False, timeout=120).stdout

    def sessions(self, name: str) -> list[str]:
        listed = self.cli(name, "sessions", "--all-agents", "--json", "--limit", "all")
        return [session["key"] for session in json.loads(listed[listed.index("{") :])["sessions"]]

    def healthy(self, name: str) -> bool:
        answer = self.host.run(f"curl -fsS --max-time 5 http://127.0.0.1:{PORTS[name]}/health", check=False).stdout
        return answer.strip().startswith("{") and json.loads(answer).get("ok") is True

    def archives(self, name: str) -> list[str]:
        return self.host.run(f"ls -1 {BACKUPS}/{name}").stdout.split()


def changed(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return changed_operations(result.stdout)


def mode_owner(host: SandboxHost, path: str) -> str:
    return host.run(f"stat -c '%a %U' {path}").stdout.strip()


def test_backup_restore_rotate_audit_reset_upgrade_contain(bare_sandbox_host: SandboxHost, tmp_path: Path) -> None:
    host = bare_sandbox_host
    life = Lifecycle(host, tmp_path)
    first = life.run(DEPLOY)
    assert first.returncode == 0 and VERIFIED in first.stdout + first.stderr, first.stderr[-4000:]

    # --- Backup: a workspace file of random bytes planted as the gateway's user, and a session made through the
    # gateway (OpenClaw keeps sessions in SQLite, copied into the archive by SQLite's online backup).
    host.run(
        f"runuser -u openclaw -- sh -c 'umask 077 && mkdir -p {STATE[MAIN]}/workspace/notes "
        f"&& head -c 65536 /dev/urandom > {STATE[MAIN]}/{PLANTED}'"
    )
    life.cli(MAIN, "agent", "--agent", "main", "--session-id", "planted", "--message", "hello", "--json")
    assert life.sessions(MAIN) == [PLANTED_SESSION]
    planted = life.sha256(f"{STATE[MAIN]}/{PLANTED}")
    backup = life.run("deploys/backup.py")
    assert changed(backup) == [
        f"{MAIN}: backup of its state (manual)",
        f"{MAIN}: archive copied to {tmp_path / 'fetched' / host.name}",
        f"{WA}: backup of its state (manual)",
        f"{WA}: archive copied to {tmp_path / 'fetched' / host.name}",
    ]
    (main_archive,) = life.archives(MAIN)
    (wa_archive,) = life.archives(WA)
    assert mode_owner(host, BACKUPS) == mode_owner(host, f"{BACKUPS}/{MAIN}") == "700 root"
    assert mode_owner(host, f"{BACKUPS}/{MAIN}/{main_archive}") == "600 root"
    fetched = tmp_path / "fetched" / host.name / main_archive
    assert fetched.stat().st_mode & 0o777 == 0o600 and fetched.parent.stat().st_mode & 0o777 == 0o700
    with tarfile.open(fetched) as archive:
        members = archive.getnames()
    assert any(member.endswith(f"/payload/posix{STATE[MAIN]}/{PLANTED}") for member in members), members
    assert not host.run("ls /tmp | grep -v -e '^systemd-private' -e '^node-compile-cache' -e '^openclaw'",
                        check=False).stdout.strip()  # fmt: skip  # no staging left behind

    # --- Restore: the planted file changed and the session deleted, then the archive put back byte for byte.
    host.run(f"echo overwritten > {STATE[MAIN]}/{PLANTED}")
    life.cli(MAIN, "sessions", "delete", PLANTED_SESSION, "--agent", "main", "--yes", "--json")
    assert life.sessions(MAIN) == []
    restore = life.run("deploys/restore.py", "--data", f"openclaw_restore_backup={main_archive}")
    assert changed(restore) == [f"{MAIN}: state restored from {main_archive}"]
    assert VERIFIED in restore.stdout
    assert life.sha256(f"{STATE[MAIN]}/{PLANTED}") == planted
    assert life.sessions(MAIN) == [PLANTED_SESSION]
    (kept,) = host.run("ls -d /home/openclaw/.openclaw.pre-restore-*").stdout.split()
    assert host.run(f"cat {kept}/{PLANTED}").stdout == "overwritten\n"
    assert life.healthy(MAIN) and life.healthy(WA)
    # An archive of the other profile, put under this gateway's name: refused before anything changes.
    main_pid = host.run(f"systemctl show -p MainPID --value {MAIN}").stdout.strip()
    foreign = main_archive.replace("-manual", "-pre-config")
    host.run(f"cp -p {BACKUPS}/{WA}/{wa_archive} {BACKUPS}/{MAIN}/{foreign}")
    refused = life.run("deploys/restore.py", "--data", f"openclaw_restore_backup={foreign}", check=False)
    assert refused.returncode != 0
    assert f"was taken from {STATE[WA]}, not from this gateway's {STATE[MAIN]}" in refused.stdout + refused.stderr
    assert host.run(f"systemctl show -p MainPID --value {MAIN}").stdout.strip() == main_pid
    host.run(f"rm {BACKUPS}/{MAIN}/{foreign}")

    # --- Rotation of the default gateway's token: its source rewritten, the old one refused, the new accepted.
    old, wa_token = life.token(MAIN), life.token(WA)
    rotated = life.run("deploys/rotate_secrets.py", "--data", f"openclaw_rotate_gateways={MAIN}")
    assert changed(rotated) == [
        f"{MAIN}: new {TOKEN} stored for the next runs",
        f"{MAIN}: secrets file",
        f"{MAIN}: restart on change",
    ]
    new = life.token(MAIN)
    assert new != old and len(new) >= 40 and life.tokens[MAIN].stat().st_mode & 0o777 == 0o600
    assert new not in rotated.stdout + rotated.stderr
    assert status_with_token(host, PORTS[MAIN], old) == "401"
    assert status_with_token(host, PORTS[MAIN], new) not in ("000", "401", "403")
    assert status_with_token(host, PORTS[WA], wa_token) not in ("000", "401", "403")  # the other one untouched
    assert changed(life.run(DEPLOY)) == []  # the source now holds the new token: nothing to put back

    # --- Audit bundle: a session, and the token leaked into a log line, masked in the bundle.
    life.cli(MAIN, "agent", "--agent", "main", "--session-id", "audited", "--message", "hello", "--json")
    assert sorted(life.sessions(MAIN)) == ["agent:main:explicit:audited", PLANTED_SESSION]
    host.run(f"runuser -u openclaw -- sh -c 'echo leaked {new} >> {STATE[MAIN]}/logs/gateway.log'")
    audit = life.run("deploys/audit.py")
    assert changed(audit) == [
        f"{MAIN}: audit bundle gathered",
        f"{MAIN}: audit bundle copied to {tmp_path / 'audit' / host.name}",
        f"{WA}: audit bundle gathered",
        f"{WA}: audit bundle copied to {tmp_path / 'audit' / host.name}",
    ]
    (bundle_file,) = (tmp_path / "audit" / host.name).glob(f"{MAIN}-2*-audit.tar.gz")  # not -wa-
    assert bundle_file.stat().st_mode & 0o777 == 0o600
    with tarfile.open(bundle_file) as bundle:
        contents = {member.name: bundle.extractfile(member).read() for member in bundle if member.isfile()}  # type: ignore[union-attr]
    assert not [name for name, data in contents.items() if new.encode() in data]
    assert b"leaked *MASKED*" in contents["./logs/gateway.log"]
    assert json.loads(contents["./config/openclaw.json"])["gateway"]["auth"]["token"] == "${OPENCLAW_GATEWAY_TOKEN}"
    assert any(name.startswith("./sessions/trajectories/session-1/") for name in contents), sorted(contents)
    assert b"agent:main:explicit:audited" in contents["./sessions/list.json"]

    # --- Session reset: every session deleted through the gateway, its transcript archived; then nothing to do.
    reset = life.run("deploys/reset_sessions.py")
    assert changed(reset) == [f"{MAIN}: every session reset"]
    assert life.sessions(MAIN) == []
    archived = host.run(f"ls {STATE[MAIN]}/agents/main/sessions/").stdout.split()
    assert [name for name in archived if name.startswith("audited.jsonl.deleted.")], archived
    assert changed(life.run("deploys/reset_sessions.py")) == []

    # --- Upgrades to broken releases, from a registry of this machine's.
    configs = {name: life.sha256(f"{STATE[name]}/openclaw.json") for name in PORTS}
    registry_dir = tmp_path / "registry"
    registry_dir.mkdir()
    releases = {REJECTS: broken_release.REJECTS_CONFIG, CRASHES: broken_release.CRASHES_AT_START}
    with broken_release.serving(registry_dir, machine_address(host), REGISTRY_PORT, releases) as registry:

        def upgrade(version: str) -> subprocess.CompletedProcess[str]:
            package = {"version": version, "node_engines": ">=24", "npm_registry": registry}
            # A config change in the same run: the rollback must put the pre-upgrade config back too.
            pruning = {"max_entries": 321}
            return life.run(DEPLOY, "--data", f"openclaw_openclaw={json.dumps(package)}",
                            "--data", f"openclaw_transcript_pruning={json.dumps(pruning)}", check=False)  # fmt: skip

        # A release that rejects the config: nothing switched, nothing restarted.
        rejected = upgrade(REJECTS)
        assert rejected.returncode != 0
        assert "openclaw rejected the new /home/openclaw/.openclaw/openclaw.json" in rejected.stdout + rejected.stderr
        assert host.run("readlink /opt/openclaw").stdout.strip() == "/opt/openclaw-2026.9.6"
        assert host.run(f"systemctl show -p MainPID --value {MAIN}").stdout.strip() != "0"
        assert life.healthy(MAIN) and life.healthy(WA)

        # A release that crashes at start: switched in, unhealthy, rolled back with its evidence.
        crashed = upgrade(CRASHES)
        printed = crashed.stdout + crashed.stderr
        assert crashed.returncode != 0
        assert f"upgrade to OpenClaw {CRASHES} failed its health check" in printed, printed[-4000:]
        assert "rolled back to openclaw-2026.9.6 and the pre-upgrade config" in printed
        assert f"a deliberately broken release ({broken_release.CRASHES_AT_START})" in printed  # the evidence
        assert host.run("readlink /opt/openclaw").stdout.strip() == "/opt/openclaw-2026.9.6"
        assert host.run(f"test -x /opt/openclaw-{CRASHES}/bin/openclaw", check=False).returncode == 0  # kept
        assert life.healthy(MAIN) and life.healthy(WA)
        assert {name: life.sha256(f"{STATE[name]}/openclaw.json") for name in PORTS} == configs
        for name in PORTS:
            assert [archive for archive in life.archives(name) if archive.endswith("-pre-upgrade.tar.gz")]
    assert changed(life.run(DEPLOY)) == []

    # --- Containment: nothing listening, units stopped and disabled, ports denied; nothing lost: every file byte
    # for byte but the logs, caches and SQLite files (a clean stop checkpoints its WAL into them), and the sessions
    # those databases hold.
    life.cli(MAIN, "agent", "--agent", "main", "--session-id", "contained", "--message", "hello", "--json")
    assert life.sessions(MAIN) == ["agent:main:explicit:contained"]
    files = (
        f"find {STATE[MAIN]} {STATE[WA]} -type f ! -path '*/logs/*' ! -path '*/cache/*' ! -path '*/tmp/*' "
        "! -name '*.sqlite*' -exec sha256sum {} + | sort"
    )
    before = host.run(files).stdout
    assert f"{STATE[MAIN]}/openclaw.json" in before and PLANTED in before
    contain = life.run("deploys/contain.py")
    assert changed(contain) == [
        f"{MAIN}: stopped, not started at boot",
        f"{WA}: stopped, not started at boot",
        "Firewall: the gateway ports closed to every source",
    ]
    for name, port in PORTS.items():
        assert host.run(f"ss -Hltn 'sport = :{port}'").stdout.strip() == ""
        assert host.run(f"systemctl is-active {name}", check=False).stdout.strip() == "inactive"
        assert host.run(f"systemctl is-enabled {name}", check=False).stdout.strip() == "disabled"
    ufw = host.run("ufw status").stdout
    assert all(f"{port}/tcp" in ufw and "DENY" in ufw for port in PORTS.values()), ufw
    assert host.run(files).stdout == before
    assert life.sessions(MAIN) == ["agent:main:explicit:contained"]
    assert changed(life.run("deploys/contain.py")) == []
    back = life.run(DEPLOY)
    back_changed = changed(back)
    assert "Firewall (ufw)" in back_changed and f"{MAIN}: running, enabled at boot" in back_changed, back_changed
    assert VERIFIED in back.stdout
    assert life.healthy(MAIN) and life.healthy(WA)
    assert "DENY" not in host.run("ufw status").stdout
    assert host.run(files).stdout == before
    assert life.sessions(MAIN) == ["agent:main:explicit:contained"]
    assert changed(life.run(DEPLOY)) == []
