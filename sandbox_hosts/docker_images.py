"""A cache of the agents' sandbox images, loaded into sandbox hosts so that every test deploying with the Docker
sandbox does not debootstrap and build them again (~1 min of CPU per host).

The images are made by the project's own operations (``docker_images.debian_base_image`` and ``sandbox_image``,
run by pyinfra on a builder host), saved with ``docker save`` and kept under the cache directory with their
checksum. A deploy on a host the images were loaded into finds them with the build label it expects and builds
nothing; ``tests/linux/test_agent_sandbox.py`` boots its host without them, so the build itself is proven there.
The key covers the Dockerfile, the packages and the base's suite: a change builds a new cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from openclaw_infra.operations import docker_images
from sandbox_hosts import config, hosts
from sandbox_hosts.image import _locked
from sandbox_hosts.node_mirror import sha256_of

# The images a deploy with the Docker sandbox builds, base first.
IMAGES = (docker_images.SANDBOX_BASE_IMAGE, docker_images.SANDBOX_IMAGE)
BUILDER_DEPLOY = Path(__file__).parent / "files" / "sandbox_images_deploy.py"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def cache_key() -> str:
    recipe = {
        "images": IMAGES,
        "packages": docker_images.SANDBOX_BASE_PACKAGES,
        "suite": docker_images.BASE_SUITE,
        "dockerfile": (PROJECT_ROOT / "templates" / "container" / "Dockerfile.sandbox.j2").read_text(),
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:12]


def archive_path() -> Path:
    return config.CACHE_DIR / "docker-images" / f"sandbox-{cache_key()}.tar"


def _valid(archive: Path) -> bool:
    """The archive exists and matches the checksum written when it was made (a damaged one is rebuilt)."""
    recorded = archive.with_suffix(".tar.sha256")
    return archive.is_file() and recorded.is_file() and recorded.read_text().strip() == sha256_of(archive)


def _build(archive: Path) -> None:
    builder = hosts.up(f"img{os.getpid() % 10000}", owner_pid=os.getpid())
    try:
        result = subprocess.run(
            [str(Path(sys.executable).parent / "pyinfra"), "-y", "inventories/sandbox.py", str(BUILDER_DEPLOY)],
            cwd=PROJECT_ROOT, env={**os.environ, "OPENCLAW_SANDBOX_HOSTS": builder.name},
            capture_output=True, text=True, timeout=1800, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            output = result.stdout[-3000:] + result.stderr[-3000:]
            raise hosts.SandboxError(f"building the sandbox images failed:\n{output}")
        partial = archive.with_suffix(".tar.partial")
        with partial.open("wb") as out:
            subprocess.run([*builder.ssh_args(), "docker", "save", *IMAGES], stdout=out, check=True, timeout=600)
        archive.with_suffix(".tar.sha256").write_text(sha256_of(partial) + "\n")
        partial.rename(archive)
    finally:
        hosts.down(builder.name)


def ensure_cached() -> Path:
    """The archive of the sandbox images, built when missing or damaged."""
    archive = archive_path()
    with _locked(archive.parent / ".lock"):
        if not _valid(archive):
            for stale in archive.parent.glob("sandbox-*"):
                stale.unlink()
            _build(archive)
    return archive


def load_into(host: hosts.SandboxHost) -> None:
    """Load the cached sandbox images into ``host``'s Docker (streamed over its root shell)."""
    archive = ensure_cached()
    with archive.open("rb") as images:
        subprocess.run([*host.root_shell_args(), "docker load -q >/dev/null"], stdin=images, check=True, timeout=600)
