"""Node runtime and OpenClaw installs on real sandbox hosts, through the real pyinfra CLI.

nodejs.org is out of reach here, so each test serves a Node mirror in nodejs.org's layout (built from the npm
registry by ``sandbox_hosts.node_mirror``) on the host's gateway address, and points the operation at it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest

from openclaw_infra.versions import DEFAULT_NODE_VERSION, DEFAULT_OPENCLAW_VERSION
from sandbox_hosts import SandboxHost, network, node_mirror
from tests.helpers import PROJECT_ROOT, PYINFRA, SANDBOX_INVENTORY, run_pyinfra

pytestmark = pytest.mark.sandbox

DEPLOY = "tests/node/deploy_node.py"
NODE = DEFAULT_NODE_VERSION
# An older release for the upgrade test; its tarball comes from the same registry-built mirror.
PREVIOUS_NODE = "24.20.0"
DIST = node_mirror.dist_name(NODE, "x64")


def gateway_of(host: SandboxHost) -> str:
    return str(network.gateway_address(host.index))


@pytest.fixture(scope="session")
def mirror_root() -> Path:
    started = time.monotonic()
    root = node_mirror.build(NODE, "x64")
    print(f"\n[timing] Node mirror ready in {time.monotonic() - started:.1f}s")
    return root


@pytest.fixture(scope="module")
def shared_mirror_url(shared_sandbox_host: SandboxHost, mirror_root: Path) -> Iterator[str]:
    with node_mirror.serve(mirror_root, gateway_of(shared_sandbox_host)) as url:
        yield url


def deploy(host: SandboxHost, check: bool = True, **env: str) -> tuple[dict[str, Any], str]:
    """Run the test deploy for real; returns pyinfra's JSON results (empty when it stopped before running any
    operation) and its log. With ``check=False`` the run must fail."""
    result = run_pyinfra([host], "-v", "--json", DEPLOY, env=env, check=check)
    if not check:
        assert result.returncode != 0, f"pyinfra succeeded:\n{result.stderr}"
    return (json.loads(result.stdout) if result.stdout.strip() else {}), result.stderr


def dry_plan(host: SandboxHost, **env: str) -> list[dict[str, Any]]:
    """``pyinfra --dry --json`` without ``-y``: with ``-y`` pyinfra skips change detection and plans nothing."""
    result = subprocess.run(
        [PYINFRA, str(SANDBOX_INVENTORY), DEPLOY, "--dry", "--json"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, **env, "OPENCLAW_SANDBOX_HOSTS": host.name},
        timeout=300,
        check=True,
    )
    plan: list[dict[str, Any]] = json.loads(result.stdout)["plan"]
    return plan


def outcome(results: dict[str, Any], host: SandboxHost) -> dict[str, str]:
    """Operation name -> "changed" / "no change" / "error" for ``host``."""
    found = {}
    for operation in results["results"]["operations"]:
        for state, key in (("error", "error"), ("no change", "no_change"), ("changed", "success")):
            if host.name in operation[key]:
                found[operation["name"]] = state
    return found


def opt_listing(host: SandboxHost) -> list[str]:
    return host.run("ls -A /opt").stdout.split()


def test_tarball_installs_pinned_node_then_changes_nothing(
    shared_sandbox_host: SandboxHost, shared_mirror_url: str
) -> None:
    host = shared_sandbox_host
    started = time.monotonic()
    results, _ = deploy(host, NODE_TEST_BASE_URL=shared_mirror_url)
    print(f"\n[timing] fresh Node {NODE} install: {time.monotonic() - started:.1f}s")
    assert outcome(results, host) == {f"Node {NODE} (tarball)": "changed"}

    assert host.run("/opt/node/bin/node --version").stdout.strip() == f"v{NODE}"
    assert host.run("PATH=/opt/node/bin:$PATH /opt/node/bin/npm --version").stdout.strip() == "11.19.0"
    assert host.run("readlink /opt/node").stdout.strip() == f"/opt/{DIST}"
    # The mirror's tarball is owned by uid 1000, as official ones are by their builder: unpacked as root's.
    assert host.run(f"stat -c %U:%G /opt/{DIST}/bin/node /opt/{DIST}").stdout.split() == ["root:root"] * 2
    listing = opt_listing(host)
    assert {"node", DIST} <= set(listing)
    assert not [entry for entry in listing if entry.startswith(".node-")], "download left behind"

    inode_before = host.run(f"stat -c %i /opt/{DIST}/bin/node").stdout
    assert [op["hosts_with_change"] for op in dry_plan(host, NODE_TEST_BASE_URL=shared_mirror_url)] == [[]]
    started = time.monotonic()
    results, log = deploy(host, NODE_TEST_BASE_URL=shared_mirror_url)
    print(f"[timing] Node no-op rerun: {time.monotonic() - started:.1f}s")
    assert outcome(results, host) == {f"Node {NODE} (tarball)": "no change"}
    assert f"Node {NODE} is installed at /opt/node" in log
    assert host.run(f"stat -c %i /opt/{DIST}/bin/node").stdout == inode_before


def test_preinstalled_accepts_the_pinned_node_and_refuses_another(
    shared_sandbox_host: SandboxHost, shared_mirror_url: str
) -> None:
    host = shared_sandbox_host
    deploy(host, NODE_TEST_BASE_URL=shared_mirror_url)  # no-op when the test above already installed it
    listing = opt_listing(host)

    results, log = deploy(host, NODE_TEST_METHOD="preinstalled")
    assert outcome(results, host) == {f"Node {NODE} (preinstalled)": "no change"}
    assert f"Node {NODE} is preinstalled (/opt/node/bin/node)" in log

    # Refused while pyinfra plans, before anything runs.
    _, log = deploy(host, check=False, NODE_TEST_METHOD="preinstalled", NODE_TEST_VERSION=PREVIOUS_NODE)
    assert f"needs Node {PREVIOUS_NODE}, but /opt/node/bin/node is {NODE}" in log
    assert opt_listing(host) == listing


def test_openclaw_installs_pinned_release_then_changes_nothing(
    shared_sandbox_host: SandboxHost, shared_mirror_url: str
) -> None:
    host = shared_sandbox_host
    env = {"NODE_TEST_BASE_URL": shared_mirror_url, "OPENCLAW_TEST_VERSION": DEFAULT_OPENCLAW_VERSION}
    openclaw_op = f"OpenClaw {DEFAULT_OPENCLAW_VERSION}"
    started = time.monotonic()
    results, _ = deploy(host, **env)
    print(f"\n[timing] Node (no-op) + fresh OpenClaw install: {time.monotonic() - started:.1f}s")
    assert outcome(results, host)[openclaw_op] == "changed"

    # The CLI's shebang is `/usr/bin/env node`: it runs with the pinned Node first on PATH (as the service will).
    version = host.run("PATH=/opt/node/bin:$PATH /opt/openclaw/bin/openclaw --version").stdout
    assert DEFAULT_OPENCLAW_VERSION in version
    assert host.run("readlink /opt/openclaw").stdout.strip() == f"/opt/openclaw-{DEFAULT_OPENCLAW_VERSION}"
    assert host.run("stat -c %U /opt/openclaw/lib/node_modules/openclaw/package.json").stdout.strip() == "root"

    inode_before = host.run("stat -c %i /opt/openclaw/lib/node_modules/openclaw/package.json").stdout
    assert [op["hosts_with_change"] for op in dry_plan(host, **env)] == [[], []]
    started = time.monotonic()
    results, log = deploy(host, **env)
    print(f"[timing] Node + OpenClaw no-op rerun: {time.monotonic() - started:.1f}s")
    assert set(outcome(results, host).values()) == {"no change"}
    assert f"OpenClaw {DEFAULT_OPENCLAW_VERSION} is installed at /opt/openclaw" in log
    assert host.run("stat -c %i /opt/openclaw/lib/node_modules/openclaw/package.json").stdout == inode_before


def test_failed_reinstall_of_the_running_release_keeps_it(
    shared_sandbox_host: SandboxHost, shared_mirror_url: str
) -> None:
    host = shared_sandbox_host
    env = {"NODE_TEST_BASE_URL": shared_mirror_url, "OPENCLAW_TEST_VERSION": DEFAULT_OPENCLAW_VERSION}
    release = f"/opt/openclaw-{DEFAULT_OPENCLAW_VERSION}"
    package_json = f"{release}/lib/node_modules/openclaw/package.json"
    pinned, damaged = f'"version": "{DEFAULT_OPENCLAW_VERSION}"', '"version": "0.0.0-damaged"'
    # A damaged install (its package.json no longer names the pin) is reinstalled, and npm cannot reach a registry.
    host.run(f"sed -i 's/{pinned}/{damaged}/' {package_json}")
    host.run("printf 'registry=http://127.0.0.1:9/\\nfetch-retries=0\\n' > /root/.npmrc")
    try:
        _, log = deploy(host, check=False, **env)
    finally:
        host.run("rm -f /root/.npmrc")
    assert f"npm install of openclaw@{DEFAULT_OPENCLAW_VERSION} failed" in log
    # The release the link points at is untouched, and no half-install is left beside it.
    assert host.run("readlink /opt/openclaw").stdout.strip() == release
    assert host.run(f"test -f {release}/lib/node_modules/openclaw/openclaw.mjs", check=False).returncode == 0
    assert host.run(f"test -e {release}.partial", check=False).returncode != 0
    host.run(f"sed -i 's/{damaged}/{pinned}/' {package_json}")


def _fake_node_archive() -> bytes:
    """A well-formed tarball whose `node` claims the right version: installed if the checksum were not checked."""
    script = f"#!/bin/sh\necho v{NODE}\n".encode()
    buffer = BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:xz") as archive:
        for name, data in ((f"{DIST}/bin/node", script), (f"{DIST}/bin/npm", script)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            archive.addfile(info, BytesIO(data))
    return buffer.getvalue()


def test_tarball_failing_its_checksum_is_never_unpacked(
    sandbox_host: SandboxHost, mirror_root: Path, tmp_path: Path
) -> None:
    host = sandbox_host
    genuine = mirror_root / f"v{NODE}"
    release = tmp_path / f"v{NODE}"
    release.mkdir()
    listing = opt_listing(host)

    with node_mirror.serve(tmp_path, gateway_of(host)) as url:
        # 1. The archive is replaced by a working fake; SHASUMS256.txt is the genuine one.
        shutil.copy(genuine / "SHASUMS256.txt", release / "SHASUMS256.txt")
        (release / f"{DIST}.tar.xz").write_bytes(_fake_node_archive())
        _, log = deploy(host, check=False, NODE_TEST_BASE_URL=url)
        assert "FAILED" in log and "did NOT match" in log
        assert "SHA-256 check" in log and "nothing unpacked" in log
        assert opt_listing(host) == listing, "files left in /opt after a failed checksum"

        # 2. The genuine archive, but SHASUMS256.txt has no line for it.
        (release / f"{DIST}.tar.xz").unlink()
        (release / f"{DIST}.tar.xz").symlink_to(genuine / f"{DIST}.tar.xz")
        (release / "SHASUMS256.txt").write_text(f"{'0' * 64}  node-v{NODE}-linux-arm64.tar.xz\n")
        _, log = deploy(host, check=False, NODE_TEST_BASE_URL=url)
        assert "nothing unpacked" in log
        assert opt_listing(host) == listing, "files left in /opt after a missing checksum"

    assert host.run("test -e /opt/node", check=False).returncode == 1


def test_version_change_switches_the_link_and_removes_the_old_release(
    sandbox_host: SandboxHost, mirror_root: Path
) -> None:
    host = sandbox_host
    node_mirror.build(PREVIOUS_NODE, "x64", mirror_root)
    previous_dist = node_mirror.dist_name(PREVIOUS_NODE, "x64")
    with node_mirror.serve(mirror_root, gateway_of(host)) as url:
        deploy(host, NODE_TEST_BASE_URL=url, NODE_TEST_VERSION=PREVIOUS_NODE)
        assert host.run("/opt/node/bin/node --version").stdout.strip() == f"v{PREVIOUS_NODE}"

        results, _ = deploy(host, NODE_TEST_BASE_URL=url)
        assert outcome(results, host) == {f"Node {NODE} (tarball)": "changed"}
    assert host.run("/opt/node/bin/node --version").stdout.strip() == f"v{NODE}"
    assert host.run("readlink /opt/node").stdout.strip() == f"/opt/{DIST}"
    assert sorted(opt_listing(host)) == sorted(["node", DIST]), f"{previous_dist} or a download was left behind"
