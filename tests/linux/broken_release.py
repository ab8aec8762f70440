"""A deliberately broken OpenClaw release, served to sandbox hosts as an npm registry would serve it.

The registry is static files under a fresh directory, behind ``python -m http.server`` on the machine's end of
the host's link: the packument at ``/openclaw`` (each version with its tarball's sha512 integrity and sha1 shasum,
as npm checks them) and the tarballs. npm installs them like any release: ``npm install
--registry http://<address>:<port> openclaw@<version>``. Each answers ``--version``; one that rejects every
config fails ``openclaw config validate``, one that crashes at start passes it and exits 1 as the gateway.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

REJECTS_CONFIG = "rejects-config"
CRASHES_AT_START = "crashes-at-start"
ENTRY = """\
#!/usr/bin/env node
const [command, subcommand] = process.argv.slice(2);
if (command === "--version") {{ console.log("{version}"); process.exit(0); }}
if ("{behaviour}" === "crashes-at-start" && command === "config" && subcommand === "validate") {{
  console.log(JSON.stringify({{ valid: true }})); process.exit(0);
}}
console.error("openclaw {version}: a deliberately broken release ({behaviour}), pyinfra-openclaw's rollback test");
process.exit(1);
"""


def _tarball(version: str, behaviour: str) -> bytes:
    files = {
        "package/package.json": json.dumps(
            {"name": "openclaw", "version": version, "bin": {"openclaw": "openclaw.mjs"}, "type": "module"}
        ).encode(),
        "package/openclaw.mjs": ENTRY.format(version=version, behaviour=behaviour).encode(),
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(content), 0o755
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def write_registry(directory: Path, releases: dict[str, str], base_url: str) -> None:
    """``releases``: version -> REJECTS_CONFIG or CRASHES_AT_START."""
    (directory / "tarballs").mkdir(parents=True)
    versions = {}
    for version, behaviour in releases.items():
        tarball = _tarball(version, behaviour)
        (directory / "tarballs" / f"openclaw-{version}.tgz").write_bytes(tarball)
        versions[version] = {
            "name": "openclaw",
            "version": version,
            "bin": {"openclaw": "openclaw.mjs"},
            "dist": {
                "tarball": f"{base_url}/tarballs/openclaw-{version}.tgz",
                "shasum": hashlib.sha1(tarball).hexdigest(),  # noqa: S324  # npm's own field
                "integrity": "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode(),
            },
        }
    packument = {"name": "openclaw", "dist-tags": {"latest": list(releases)[-1]}, "versions": versions}
    (directory / "openclaw").write_text(json.dumps(packument))


@contextlib.contextmanager
def serving(directory: Path, address: str, port: int, releases: dict[str, str]) -> Iterator[str]:
    """The registry's URL while it answers."""
    base_url = f"http://{address}:{port}"
    write_registry(directory, releases, base_url)
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", address, str(port)],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection((address, port), timeout=1):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the broken release's registry did not listen on {address}:{port}")
            time.sleep(0.1)
        yield base_url
    finally:
        server.terminate()
        server.wait(timeout=10)
