"""A caching pass-through of the npm registry for sandbox hosts, served under ``/npm/`` by the Node mirror.

Every sandbox deploy installs the real ``openclaw`` release with npm: about 330 packages and 175 MB, 48 s from
the public registry and 20 s from a warm cache, dozens of times per test run. Through this cache each tarball is
fetched from the registry once, checked against the sha512 the registry publishes for it, and kept under
``/var/cache/openclaw-infra/npm-registry`` with that sha512 beside it; a cached tarball is checked again each time
it is served and fetched anew when it no longer matches. Package documents (the version lists npm resolves
against) are kept for a day. npm still verifies every tarball's integrity itself, so the bytes a host installs are
the registry's.

The hosts' deploys point ``openclaw_openclaw.npm_registry`` at ``<mirror>/npm`` (inventories/sandbox.py), as an
operator points it at a company mirror.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from sandbox_hosts import config

PREFIX = "/npm/"
UPSTREAM = os.environ.get("NPM_CONFIG_REGISTRY", "https://registry.npmjs.org").rstrip("/")
CACHE_ROOT = config.CACHE_DIR / "npm-registry"
DOCUMENT_MAX_AGE_SECONDS = 24 * 3600
FETCH_TIMEOUT_SECONDS = 60
FETCH_ATTEMPTS = 3
# npm asks for the abbreviated document ("corgi") or the full one; they differ, so each is kept apart.
ABBREVIATED = "application/vnd.npm.install-v1+json"
# ``@scope/name`` or ``name``; npm sends the scope's slash as %2f in a document's path.
_NAME = r"(?:@[a-z0-9][\w.-]*/)?[a-z0-9][\w.-]*"
_TARBALL_PATH = re.compile(rf"(?P<name>{_NAME})/-/(?P<file>[\w.-]+\.tgz)", re.IGNORECASE)
_DOCUMENT_PATH = re.compile(rf"(?P<name>{_NAME})", re.IGNORECASE)


class UpstreamError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _fetch(url: str, accept: str | None = None) -> bytes:
    """``url``'s body; a 404 is final, other failures are retried a few times."""
    headers = {"Accept": accept} if accept else {}
    for attempt in range(1, FETCH_ATTEMPTS + 1):
        try:
            request = urllib.request.Request(url, headers=headers)  # noqa: S310 (the registry's https URL)
            with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310
                body: bytes = response.read()
                return body
        except urllib.error.HTTPError as error:
            if error.code == 404 or attempt == FETCH_ATTEMPTS:
                raise UpstreamError(error.code, f"{url}: {error}") from error
        except OSError as error:
            if attempt == FETCH_ATTEMPTS:
                raise UpstreamError(502, f"{url}: {error}") from error
        time.sleep(2 * attempt)
    raise AssertionError("unreachable")


def _write_atomically(target: Path, body: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", delete=False) as staged:
        staged.write(body)
    os.replace(staged.name, target)


def _document_file(name: str, accept: str) -> Path:
    kind = "abbreviated" if ABBREVIATED in accept else "full"
    return CACHE_ROOT / "documents" / kind / f"{urllib.parse.quote(name, safe='')}.json"


def package_document(name: str, accept: str) -> bytes:
    """The registry's document for package ``name`` as upstream wrote it; kept for a day, served stale when the
    registry cannot be reached."""
    cached = _document_file(name, accept)
    with contextlib.suppress(OSError):
        if time.time() - cached.stat().st_mtime < DOCUMENT_MAX_AGE_SECONDS:
            return cached.read_bytes()
    try:
        body = _fetch(f"{UPSTREAM}/{urllib.parse.quote(name, safe='@')}", accept or None)
    except UpstreamError as error:
        if error.status != 404 and cached.exists():
            return cached.read_bytes()
        raise
    json.loads(body)  # a truncated answer is never kept
    _write_atomically(cached, body)
    return body


def _published_sha512(name: str, file: str) -> bytes:
    """The sha512 the registry publishes for ``name``'s tarball ``file``, from its (cached) document."""
    document = json.loads(package_document(name, ABBREVIATED))
    for version in document.get("versions", {}).values():
        dist: dict[str, Any] = version.get("dist", {})
        if str(dist.get("tarball", "")).endswith(f"/-/{file}"):
            algorithm, _, digest = str(dist.get("integrity", "")).partition("-")
            if algorithm == "sha512":
                return base64.b64decode(digest)
    raise UpstreamError(502, f"the registry publishes no sha512 for {name}'s {file}")


def tarball(name: str, file: str) -> bytes:
    """``name``'s tarball ``file``: from the cache when it still matches the sha512 published for it (kept beside
    it when it was fetched), else fetched, checked against the registry's document and kept."""
    cached = CACHE_ROOT / "tarballs" / urllib.parse.quote(name, safe="") / file
    published = cached.with_name(f"{file}.sha512")
    with contextlib.suppress(OSError, ValueError):
        body = cached.read_bytes()
        if hashlib.sha512(body).digest() == base64.b64decode(published.read_text(), validate=True):
            return body
    expected = _published_sha512(name, file)
    body = _fetch(f"{UPSTREAM}/{name}/-/{file}")
    if hashlib.sha512(body).digest() != expected:
        raise UpstreamError(502, f"{name}'s {file} from the registry does not match its published sha512")
    _write_atomically(cached, body)
    _write_atomically(published, base64.b64encode(expected))
    return body


def answer(path: str, accept: str, base_url: str) -> tuple[int, str, bytes]:
    """(status, content type, body) for a GET of ``path`` (starting with ``PREFIX``); ``base_url`` is how the
    asking host reaches this server (tarball addresses in documents are rewritten to it)."""
    registry_path = urllib.parse.unquote(path[len(PREFIX) :].split("?")[0])
    try:
        if match := _TARBALL_PATH.fullmatch(registry_path):
            return 200, "application/octet-stream", tarball(match["name"], match["file"])
        if _DOCUMENT_PATH.fullmatch(registry_path):
            document = package_document(registry_path, accept)
            own = f"{base_url.rstrip('/')}{PREFIX}".encode()
            return 200, "application/json", document.replace(f"{UPSTREAM}/".encode(), own)
    except UpstreamError as error:
        return error.status, "text/plain", f"{error}\n".encode()
    return 404, "text/plain", b"not a package document or tarball path\n"
