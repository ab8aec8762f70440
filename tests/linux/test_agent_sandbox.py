"""The agents' Docker sandbox (issue 12 part 3), live on a sandbox host with real Docker, real nftables and the real
gateway.

Deployed with the sandbox on the egress network and an allowlist of one address and port on the machine running the
tests (reached through the host's route out). Then, from real containers of the sandbox image the deploy built:
on openclaw-egress the allowlisted listener answers and a second one on the same address, another port, does not;
on openclaw-sandbox nothing answers; from neither does the host's own SSH answer. The gateway's config holds the
sandbox (OpenClaw's own `sandbox explain`); a Docker restart leaves the rules in place; a second run changes
nothing; drift is clean, reports the egress table flushed by hand, and a redeploy puts it back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from openclaw_infra.operations.docker_images import SANDBOX_IMAGE
from sandbox_hosts import SandboxHost, mirror_service
from sandbox_hosts.hosts import demo_token_path
from tests.helpers import PROJECT_ROOT, PYINFRA, VERIFIED, changed_operations, run_pyinfra

pytestmark = pytest.mark.sandbox

DEPLOY = "deploys/linux_vm.py"  # the sandbox inventory says linux-vm: the same systemd deployment, Docker inside
ALLOWED_PORT = 18961
DENIED_PORT = 18962
ANSWER = "egress-allowed-answer"


def machine_address(host: SandboxHost) -> str:
    """The machine's end of the host's link: outside the host, reached through its route out (forwarded)."""
    return str(IPv4Address(host.address) - 1)


@pytest.fixture
def listeners(bare_sandbox_host: SandboxHost, tmp_path: Path) -> Iterator[str]:
    """Two HTTP listeners on the machine, one port to be allowlisted and one not; yields their address."""
    address = machine_address(bare_sandbox_host)
    (tmp_path / "index.html").write_text(ANSWER)
    servers = [
        subprocess.Popen(
            [sys.executable, "-m", "http.server", "--bind", address, str(port)],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in (ALLOWED_PORT, DENIED_PORT)
    ]
    try:
        yield address
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)


def sandbox_data(address: str) -> list[str]:
    sandbox = {
        "network": "openclaw-egress",
        "egress_allowlist": [{"network": address, "ports": [ALLOWED_PORT]}],
    }
    return ["--data", f"openclaw_sandbox={json.dumps(sandbox)}"]


def from_container(host: SandboxHost, network: str, url: str) -> subprocess.CompletedProcess[str]:
    """``curl`` in a fresh container of the sandbox image on ``network``, as OpenClaw runs its sandboxes."""
    return host.run(f"docker run --rm --network {network} {SANDBOX_IMAGE} curl -s -m 5 {url}", check=False, timeout=120)


def ssh_banner_from(host: SandboxHost, network: str) -> str:
    """What the host's sshd says to a container on ``network`` within 5 s: ``SSH-`` when it is reachable."""
    probe = f"exec 3<>/dev/tcp/{host.address}/22 && head -c 4 <&3"
    return host.run(
        f"docker run --rm --network {network} {SANDBOX_IMAGE} timeout 5 bash -c '{probe}'", check=False, timeout=120
    ).stdout


def assert_egress_as_allowed(host: SandboxHost, address: str) -> None:
    allowed = from_container(host, "openclaw-egress", f"http://{address}:{ALLOWED_PORT}/")
    assert allowed.returncode == 0 and ANSWER in allowed.stdout, (allowed.returncode, allowed.stdout, allowed.stderr)
    for network, port in (("openclaw-egress", DENIED_PORT), ("openclaw-sandbox", ALLOWED_PORT)):
        refused = from_container(host, network, f"http://{address}:{port}/")
        assert refused.returncode != 0 and ANSWER not in refused.stdout, (network, port, refused.stdout)
    # Nor the host's own services; Docker's default bridge (not the sandboxes') shows the probe can tell.
    assert ssh_banner_from(host, "bridge") == "SSH-"
    for network in ("openclaw-egress", "openclaw-sandbox"):
        assert ssh_banner_from(host, network) == "", network


def drift(inventory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(PYINFRA).with_name("openclaw-infra")), "drift", str(inventory), DEPLOY],
        capture_output=True, text=True, cwd=PROJECT_ROOT, env=dict(os.environ), timeout=900, check=False,
    )  # fmt: skip


DRIFT_INVENTORY = """\
from openclaw_infra.inventory import checked_hosts
from sandbox_hosts import get_host

hosts = checked_hosts([(%r, {
    **get_host(%r).pyinfra_data(),
    "openclaw_isolation": "linux-vm",
    "openclaw_node": {"tarball_base_url": %r},
    "openclaw_secrets": {"OPENCLAW_GATEWAY_TOKEN": {"file": %r}},
    "openclaw_sandbox": %s,
})])
"""


def test_sandboxes_reach_only_the_allowlist(bare_sandbox_host: SandboxHost, listeners: str, tmp_path: Path) -> None:
    host, address = bare_sandbox_host, listeners
    first = run_pyinfra([host], *sandbox_data(address), "--json", DEPLOY, check=False)
    printed = first.stdout + first.stderr
    assert first.returncode == 0 and VERIFIED in printed, printed[-4000:]

    assert_egress_as_allowed(host, address)
    # The gateway's config holds the sandbox, as OpenClaw itself reads it: a non-main session runs in Docker.
    explained = host.run(
        # From the user's home, as its cron job runs: the CLI spawns node, which cannot start in root's /root.
        "cd /home/openclaw && runuser -u openclaw -- env HOME=/home/openclaw "
        "OPENCLAW_STATE_DIR=/home/openclaw/.openclaw /opt/node/bin/node "
        "/opt/openclaw/lib/node_modules/openclaw/openclaw.mjs sandbox explain "
        "--session agent:main:telegram:direct:42 --json",
        timeout=120,
    )
    sandbox = json.loads(explained.stdout)["sandbox"]
    assert (sandbox["mode"], sandbox["backend"], sandbox["sessionIsSandboxed"]) == ("non-main", "docker", True)
    config = json.loads(host.run("cat /home/openclaw/.openclaw/openclaw.json").stdout)
    assert config["agents"]["defaults"]["sandbox"]["docker"] == {"image": SANDBOX_IMAGE, "network": "openclaw-egress"}

    # Docker rewrites its own chains on a restart; the rules are in a table of their own and stay.
    host.run("systemctl restart docker")
    assert host.run("nft list table inet openclaw_egress", check=False).returncode == 0
    assert_egress_as_allowed(host, address)

    second = run_pyinfra([host], *sandbox_data(address), "--json", DEPLOY, check=False)
    assert second.returncode == 0 and changed_operations(second.stdout) == [], second.stdout[-3000:]
    inventory = tmp_path / "sandboxed.py"
    allow = {"network": "openclaw-egress", "egress_allowlist": [{"network": address, "ports": [ALLOWED_PORT]}]}
    inventory.write_text(
        DRIFT_INVENTORY % (host.name, host.name, mirror_service.BASE_URL, str(demo_token_path()), json.dumps(allow))
    )
    clean = drift(inventory)
    assert clean.returncode == 0, clean.stdout[-3000:] + clean.stderr[-3000:]

    # A careless admin flushes the forward chain: everything on openclaw-egress goes out. Drift says so.
    host.run("nft flush chain inet openclaw_egress forward")
    opened = from_container(host, "openclaw-egress", f"http://{address}:{DENIED_PORT}/")
    assert opened.returncode == 0 and ANSWER in opened.stdout  # the test itself can tell an open door
    drifted = drift(inventory)
    report = drifted.stdout + drifted.stderr
    assert drifted.returncode == 1 and "egress rules inet openclaw_egress" in report, report[-3000:]
    fixed = run_pyinfra([host], *sandbox_data(address), "--json", DEPLOY, check=False)
    assert fixed.returncode == 0, (fixed.stdout + fixed.stderr)[-3000:]
    assert assert_fixed_names(changed_operations(fixed.stdout))
    assert_egress_as_allowed(host, address)
    assert drift(inventory).returncode == 0


def assert_fixed_names(names: list[str]) -> bool:
    return any(name.startswith("Sandbox egress: openclaw-sandbox reaches nothing") for name in names)
