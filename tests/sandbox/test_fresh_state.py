"""A fresh machine: the main job from an empty state directory, and caches or services of other runs never trusted.

The runs here use a subnet of their own (10.215.0.0/16), so nothing of the test session's own hosts or mirror
answers for them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox_hosts import config, docker_images, image, node_mirror
from tests.helpers import PROJECT_ROOT, VERIFIED

ISOLATED_SUBNET = "10.215.0.0/16"
ISOLATED_MIRROR = ("10.215.0.1", 8780)


def isolated_env(root: Path) -> dict[str, str]:
    return {
        **os.environ,
        "OPENCLAW_SANDBOX_STATE": str(root / "state"),
        "OPENCLAW_SANDBOX_RUN": str(root / "run"),
        "OPENCLAW_SANDBOX_SUBNET": ISOLATED_SUBNET,
    }


def answering(address: tuple[str, int]) -> bool:
    """Whether anything on this machine listens there (a TCP connect would not say: this machine's egress proxy
    accepts connections to any address that is not local)."""
    listing = subprocess.run(
        ["ss", "-Hltn", "src", f"{address[0]}:{address[1]}"], capture_output=True, text=True, check=True
    )
    return bool(listing.stdout.strip())


def harness(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "sandbox_hosts", *args],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if check and result.returncode != 0:
        raise AssertionError(f"sandbox_hosts {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result


@pytest.mark.sandbox
def test_main_job_runs_from_an_empty_state_directory(tmp_path: Path) -> None:
    env = {**isolated_env(tmp_path), "OPENCLAW_DEMO_HOST": f"mj{os.getpid() % 10000}"}
    assert not (tmp_path / "state").exists() and not (tmp_path / "run").exists()
    assert not answering(ISOLATED_MIRROR), "a mirror already serves the isolated subnet: the test proves nothing"
    try:
        job = subprocess.run(
            ["bash", "scripts/main-job.sh"],
            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False,
        )  # fmt: skip
        printed = job.stdout + job.stderr
        assert job.returncode == 0, printed[-6000:]
        assert VERIFIED in printed
        assert "Traceback" not in printed
        # Everything the run keeps was made by it, in the places it was told.
        assert (tmp_path / "state" / "ssh" / "id_ed25519").exists()
        assert oct((tmp_path / "state").stat().st_mode & 0o777) == "0o700"
        assert json.loads((tmp_path / "run" / f"{env['OPENCLAW_DEMO_HOST']}.json").read_text())["address"].startswith(
            "10.215."
        )
    finally:
        harness(env, "down", "--all", check=False)
    assert not answering(ISOLATED_MIRROR), "`down --all` left the mirror serving"


@pytest.mark.sandbox
def test_a_mirror_left_by_another_run_is_replaced_not_trusted(tmp_path: Path) -> None:
    first, second = isolated_env(tmp_path / "first"), isolated_env(tmp_path / "second")
    script = "from sandbox_hosts import mirror_service as m; m.ensure_running(); print(m._own_pid())"
    start = [sys.executable, "-c", script]
    stale = int(subprocess.run(start, cwd=PROJECT_ROOT, env=first, capture_output=True, text=True, check=True).stdout)
    try:
        assert answering(ISOLATED_MIRROR)
        # A run with an empty run directory finds a mirror it did not start: it replaces it with its own.
        own = subprocess.run(start, cwd=PROJECT_ROOT, env=second, capture_output=True, text=True, check=True)
        assert int(own.stdout) != stale
        assert (
            not Path(f"/proc/{stale}/cmdline").exists()
            or b"node_mirror" not in Path(f"/proc/{stale}/cmdline").read_bytes()
        )
        assert answering(ISOLATED_MIRROR)
    finally:
        harness(second, "down", "--all", check=False)
        harness(first, "down", "--all", check=False)
    assert not answering(ISOLATED_MIRROR)


@pytest.mark.sandbox
def test_a_foreign_process_on_the_mirror_address_is_refused_not_killed(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    subprocess.run(["ip", "addr", "replace", f"{ISOLATED_MIRROR[0]}/32", "dev", "lo"], check=True)
    squatter = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", ISOLATED_MIRROR[0], str(ISOLATED_MIRROR[1])],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(50):
            if answering(ISOLATED_MIRROR):
                break
            subprocess.run(["sleep", "0.1"], check=True)
        result = subprocess.run(
            [sys.executable, "-c", "from sandbox_hosts import mirror_service as m; m.ensure_running()"],
            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert result.returncode != 0
        assert f"is held by process {squatter.pid}" in result.stderr
        assert squatter.poll() is None, "the harness killed a process that is not its mirror"
    finally:
        squatter.terminate()
        squatter.wait()


# --- caches: a damaged one is rebuilt, never trusted ---------------------------------------------------------


def fake_image(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A root file system the size of two packages, laid out as dpkg and the recipe leave a real one."""
    monkeypatch.setattr(config, "BOOTSTRAP_PACKAGES", ("systemd",))
    monkeypatch.setattr(config, "IMAGE_PACKAGES", ("ufw",))
    info = root / "var/lib/dpkg/info"
    info.mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text(
        "Package: systemd\nStatus: install ok installed\nVersion: 252\n\n"
        "Package: ufw\nStatus: install ok installed\nVersion: 0.36\n"
    )
    for package, files in {"systemd": ["/usr/lib/systemd/systemd"], "ufw": ["/usr/sbin/ufw"]}.items():
        (info / f"{package}.list").write_text("/.\n/usr\n" + "\n".join(files) + "\n")
        for path in files:
            (root / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
            (root / path.lstrip("/")).write_text("binary")
    for relative, name in (
        ("etc/systemd/system/ssh.service.d/host-keys.conf", "ssh-host-keys.conf"),
        ("etc/ssh/sshd_config.d/sandbox.conf", "sshd-sandbox.conf"),
    ):
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(image.harness_file(name))
    return root


def test_an_intact_image_passes_its_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert image.image_damage(fake_image(tmp_path, monkeypatch)) is None


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda root: (root / "usr/sbin/ufw").unlink(), "/usr/sbin/ufw of package ufw is missing"),
        (
            lambda root: (root / "var/lib/dpkg/status").write_text("Package: systemd\nStatus: install ok installed\n"),
            "package ufw is not installed",
        ),
        (
            lambda root: (root / "etc/ssh/sshd_config.d/sandbox.conf").write_text("PermitRootLogin yes\n"),
            "/etc/ssh/sshd_config.d/sandbox.conf is not the recipe's",
        ),
        (lambda root: (root / "var/lib/dpkg/status").unlink(), "no dpkg database"),
    ],
)
def test_a_damaged_image_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage, reason: str) -> None:  # type: ignore[no-untyped-def]
    root = fake_image(tmp_path, monkeypatch)
    damage(root)
    assert reason in (image.image_damage(root) or "")


def test_a_mirror_release_is_trusted_only_when_its_checksum_matches(tmp_path: Path) -> None:
    archive = tmp_path / "node-v24.21.0-linux-x64.tar.xz"
    assert not node_mirror.release_intact(tmp_path, archive)
    archive.write_bytes(b"the archive")
    node_mirror.write_shasums(tmp_path)
    assert node_mirror.release_intact(tmp_path, archive)
    archive.write_bytes(b"the archive, cut sho")  # a download or copy that died half-way
    assert not node_mirror.release_intact(tmp_path, archive)


def test_the_sandbox_images_archive_is_trusted_only_when_its_checksum_matches(tmp_path: Path) -> None:
    archive = tmp_path / "sandbox-0123456789ab.tar"
    assert not docker_images._valid(archive)
    archive.write_bytes(b"the images")
    assert not docker_images._valid(archive)  # no checksum written: a save that died before it finished
    archive.with_suffix(".tar.sha256").write_text(node_mirror.sha256_of(archive) + "\n")
    assert docker_images._valid(archive)
    archive.write_bytes(b"the imag")  # cut short afterwards
    assert not docker_images._valid(archive)


@pytest.mark.parametrize("wanted", ["", "nosuch", "nosuch,other"])
def test_a_sandbox_inventory_that_yields_no_host_is_an_error(tmp_path: Path, wanted: str) -> None:
    # An empty run directory: no host is up. Asked for hosts (or for all of them), pyinfra must not run on none
    # and exit 0.
    env = {**isolated_env(tmp_path), "OPENCLAW_SANDBOX_HOSTS": wanted}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "pyinfra"), "-y", "inventories/sandbox.py", "deploys/preflight.py"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    printed = result.stdout + result.stderr
    assert result.returncode != 0, printed
    assert f"sandbox hosts not up: {wanted.replace(',', ', ') or '(none is up)'}" in printed, printed
    assert "Traceback" not in printed


ZOMBIE_CHECK = """
import os, signal, subprocess, time
from pathlib import Path
from sandbox_hosts import mirror_service
child = subprocess.Popen(["sleep", "30"])
running = mirror_service._exited(child.pid)
child.kill()
for _ in range(100):
    if mirror_service._exited(child.pid):
        break
    time.sleep(0.05)
zombie = Path(f"/proc/{child.pid}").exists() and mirror_service._exited(child.pid)
child.wait()
print(running, zombie, mirror_service._exited(child.pid))
"""


def test_the_mirror_counts_as_stopped_only_once_it_has_exited() -> None:
    # A child never reaped stays a zombie: exited (its sockets are closed), though /proc still lists it. Checked
    # in a process of its own: gevent, which pyinfra's CLI brings into this one, reaps children at once.
    result = subprocess.run(
        [sys.executable, "-c", ZOMBIE_CHECK], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == ["False", "True", "True"], result.stdout + result.stderr
