"""The guest image cache is trusted only when its files match the manifest its build wrote, and an image a running
VM host has mounted is never taken from under it (checked on fake trees; the live test uses the real one)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox_hosts import guest_image


def fake_guest(directory: Path) -> Path:
    directory.mkdir()
    sums = {}
    for name in (guest_image.RAW_NAME, guest_image.KERNEL_NAME, guest_image.INITRD_NAME):
        (directory / name).write_bytes(f"contents of {name}".encode())
        (directory / name).chmod(0o644)
        sums[name] = hashlib.sha256((directory / name).read_bytes()).hexdigest()
    (directory / guest_image.MANIFEST_NAME).write_text(json.dumps({"sha256": sums}))
    return directory


def test_an_intact_guest_image_passes_its_check(tmp_path: Path) -> None:
    assert guest_image.guest_damage(fake_guest(tmp_path / "guest")) is None


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        # A copy or a build that died half-way.
        (lambda root: (root / "guest.raw").write_bytes(b"contents of guest"), "guest.raw does not match its SHA-256"),
        (lambda root: (root / "initrd.img").unlink(), "initrd.img is missing"),
        (lambda root: (root / "vmlinuz").chmod(0o600), "vmlinuz is not readable by everyone"),
        (lambda root: (root / "manifest.json").unlink(), "no readable manifest.json"),
        (lambda root: (root / "manifest.json").write_text('{"sha256": {}}'), "does not list the image's files"),
    ],
)
def test_a_damaged_guest_image_is_named(tmp_path: Path, damage: Callable[[Path], object], reason: str) -> None:
    root = fake_guest(tmp_path / "guest")
    damage(root)
    assert reason in (guest_image.guest_damage(root) or "")


@pytest.mark.skipif(os.geteuid() != 0, reason="bind-mounts in a mount namespace of its own")
def test_an_image_bind_mounted_elsewhere_is_in_use(tmp_path: Path) -> None:
    image_dir, target = fake_guest(tmp_path / "guest"), tmp_path / "seen-by-a-host"
    target.mkdir()
    assert not guest_image.in_use(image_dir)
    # As a VM host has it: a read-only bind in another mount namespace, invisible in the machine's mount table.
    holder = subprocess.Popen(
        ["unshare", "--mount", "sh", "-c", f"mount --bind -o ro '{image_dir}' '{target}' && exec sleep 60"]
    )
    try:
        deadline = time.monotonic() + 10
        while not guest_image.in_use(image_dir):
            assert time.monotonic() < deadline, "the bind mount was not seen"
            time.sleep(0.1)
        assert not guest_image.in_use(tmp_path / "another")
    finally:
        holder.kill()
        holder.wait()
    assert not os.path.ismount(target)
