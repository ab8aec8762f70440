"""The Docker containerized gateway (issue 12 part 2), live on a sandbox host with real Docker and the real gateway.

From a fresh host: the base image debootstrapped, the gateway image built from the pinned Node and OpenClaw, the
container run. Then: healthy from the host, published on loopback only, its token accepted and another refused, a
secret with quotes, backslash and '$' reaching the gateway byte for byte, the canary nowhere (output, process lists,
readable files, Docker's own configuration), a second run with zero changes, drift clean; the gateway killed and
Docker starting it again, the Docker daemon restarted (as at boot) and the container back; a config change
restarting the container without replacing it; an intruder's replacement published on every address reported by
drift and put back by a redeploy.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from openclaw_infra.deploys.containerized_gateway import VERIFY_CONTAINERS
from sandbox_hosts import SandboxHost
from tests.helpers import PROJECT_ROOT, PYINFRA, changed_operations, run_pyinfra
from tests.linux.canary import ProcessListWatcher, assert_secret_kept
from tests.linux.test_multi_gateway import status_with_token

pytestmark = pytest.mark.sandbox

DEPLOY = "deploys/docker_containerized.py"
CONTAINER = "openclaw-gateway"
PORT = 18789
CANARY = "canary-c0nta1ner-do-not-leak-9e1f"
# Reaches the gateway's environment through the secrets file's quoting and the entrypoint's parsing.
AWKWARD = 'k$HOME"quoted\\back`tick` x'
ENV = {"CANARY_GATEWAY_TOKEN": CANARY, "AWKWARD_SECRET": AWKWARD}
SECRETS = {"OPENCLAW_GATEWAY_TOKEN": {"env": "CANARY_GATEWAY_TOKEN"}, "AWKWARD_TEST_SECRET": {"env": "AWKWARD_SECRET"}}
DATA = [
    "--data", "openclaw_isolation=docker-containerized",
    "--data", "openclaw_docker_sandbox=false",
    "--data", f"openclaw_secrets={json.dumps(SECRETS)}",
]  # fmt: skip

DRIFT_INVENTORY = """\
from openclaw_infra.inventory import checked_hosts
from sandbox_hosts import get_host, mirror_service

hosts = checked_hosts([(%r, {
    **get_host(%r).pyinfra_data(),
    "openclaw_isolation": "docker-containerized",
    "openclaw_docker_sandbox": False,
    "openclaw_node": {"tarball_base_url": mirror_service.BASE_URL},
    "openclaw_secrets": %s,
})])
"""


def deploy(host: SandboxHost, *args: str) -> subprocess.CompletedProcess[str]:
    return run_pyinfra([host], *DATA, *args, "--json", DEPLOY, env=ENV, check=False)


def drift(inventory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(PYINFRA).with_name("openclaw-infra")), "drift", str(inventory), DEPLOY],
        capture_output=True, text=True, cwd=PROJECT_ROOT, env={**os.environ, **ENV}, timeout=900, check=False,
    )  # fmt: skip


def inspect(host: SandboxHost, template: str) -> str:
    return host.run(f"docker container inspect --format '{template}' {CONTAINER}").stdout.strip()


def healthy_within(host: SandboxHost, seconds: int) -> bool:
    return (
        host.run(
            f"for i in $(seq {seconds}); do curl -fs http://127.0.0.1:{PORT}/health && exit 0; sleep 1; done; exit 1",
            check=False,
            timeout=seconds + 30,
        ).returncode
        == 0
    )


def listening_addresses(host: SandboxHost) -> set[str]:
    lines = host.run(f"ss -Hltn 'sport = :{PORT}'").stdout.split("\n")
    return {line.split()[3].rpartition(":")[0] for line in lines if line.strip()}


def test_a_containerized_gateway_from_a_fresh_host(sandbox_host: SandboxHost, tmp_path: Path) -> None:
    host = sandbox_host
    with ProcessListWatcher(host) as watcher:
        first = deploy(host)
    printed = first.stdout + first.stderr
    assert first.returncode == 0 and VERIFY_CONTAINERS in printed, printed[-4000:]

    # Healthy from the host, published on its loopback only, not reachable on its own address.
    assert json.loads(host.run(f"curl -fsS http://127.0.0.1:{PORT}/health").stdout)["ok"] is True
    assert listening_addresses(host) == {"127.0.0.1"}
    outside = host.run(f"curl -s -m 5 -o /dev/null http://{host.address}:{PORT}/health", check=False)
    assert outside.returncode != 0, outside.stdout
    assert status_with_token(host, PORT, CANARY) not in ("000", "401", "403")
    assert status_with_token(host, PORT, "not-the-token") == "401"
    # The awkward secret arrived byte for byte in the gateway's environment (read as root from /proc, not printed).
    pid = inspect(host, "{{.State.Pid}}")
    environ = subprocess.run(
        [*host.root_shell_args(), f"for p in $(pgrep -u openclaw -f openclaw-gateway; pgrep -P {pid}); do "
         "cat /proc/$p/environ 2>/dev/null | tr '\\0' '\\n'; done"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout.split("\n")  # fmt: skip
    assert f"AWKWARD_TEST_SECRET={AWKWARD}" in environ
    # The gateway runs as its user, never root; Docker's configuration of the container holds no secret.
    gateways = host.run("ps -eo user=,comm= | awk '$2 ~ /^openclaw-gatew/ {print $1}'").stdout.split()
    assert gateways == ["openclaw"], gateways
    assert CANARY not in host.run(f"docker container inspect {CONTAINER}").stdout
    assert_secret_kept(host, CANARY, printed, watcher.samples, owners=frozenset({"root", "openclaw"}))

    second = deploy(host)
    assert second.returncode == 0 and changed_operations(second.stdout) == [], second.stdout[-3000:]
    inventory = tmp_path / "containerized.py"
    inventory.write_text(DRIFT_INVENTORY % (host.name, host.name, json.dumps(SECRETS)))
    clean = drift(inventory)
    assert clean.returncode == 0, clean.stdout[-3000:] + clean.stderr[-3000:]

    # Killed: Docker starts it again (restart policy), same container.
    container_id = inspect(host, "{{.Id}}")
    host.run(f"kill -9 {inspect(host, '{{.State.Pid}}')}")
    time.sleep(2)
    assert healthy_within(host, 120)
    assert inspect(host, "{{.Id}}") == container_id and int(inspect(host, "{{.RestartCount}}")) >= 1
    # The Docker daemon restarted, as at boot: the container comes back by itself.
    host.run("systemctl restart docker")
    assert healthy_within(host, 180)
    assert inspect(host, "{{.State.Status}}") == "running"

    # A config change restarts the container (its state kept) and does not replace it.
    started = inspect(host, "{{.State.StartedAt}}")
    changed = deploy(host, "--data", 'openclaw_transcript_pruning={"prune_after_days": 21}')
    assert changed.returncode == 0, (changed.stdout + changed.stderr)[-3000:]
    names = changed_operations(changed.stdout)
    assert f"{CONTAINER}: openclaw.json" in names and f"{CONTAINER}: restart on change" in names, names
    assert f"{CONTAINER}: container" not in names, names
    assert inspect(host, "{{.Id}}") == container_id and inspect(host, "{{.State.StartedAt}}") != started
    back = deploy(host)
    assert back.returncode == 0, (back.stdout + back.stderr)[-3000:]

    # An intruder's replacement, published on every address without the limits: drift says so, a redeploy fixes it.
    host.run(
        f"docker rm -f {CONTAINER} >/dev/null && docker run -d --name {CONTAINER} --restart unless-stopped "
        f"-p 0.0.0.0:{PORT}:{PORT} --entrypoint sleep {inspect_image_of_deploy(host)} 600 >/dev/null"
    )
    drifted = drift(inventory)
    report = drifted.stdout + drifted.stderr
    assert drifted.returncode == 1, report[-3000:]
    assert f"container {CONTAINER}" in report and '"HostIp": "0.0.0.0"' in report, report[-3000:]
    fixed = deploy(host)
    assert fixed.returncode == 0, (fixed.stdout + fixed.stderr)[-3000:]
    assert f"{CONTAINER}: container" in changed_operations(fixed.stdout)
    assert listening_addresses(host) == {"127.0.0.1"}
    assert drift(inventory).returncode == 0


def inspect_image_of_deploy(host: SandboxHost) -> str:
    """The gateway image the deploy built (the intruder reuses it with a command of its own)."""
    return host.run("docker image ls --format '{{.Repository}}:{{.Tag}}' openclaw-infra/gateway").stdout.split()[0]
