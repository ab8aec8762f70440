"""The harness's caching npm registry (sandbox_hosts/npm_cache.py) against a registry served from this process:
each tarball fetched once and checked against its published sha512, a damaged cache entry fetched anew, a tarball
that does not match never served, documents rewritten to the cache's own address."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sandbox_hosts import npm_cache

TARBALL = b"\x1f\x8b pretend this is a package tarball"
FILE = "left-pad-1.3.0.tgz"


class FakeRegistry:
    """Serves one package's document and tarball; counts what it was asked for; can be broken on purpose."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.tarball = TARBALL
        self.up = True
        self.url = ""

    def document(self) -> bytes:
        integrity = "sha512-" + base64.b64encode(hashlib.sha512(TARBALL).digest()).decode()
        version = {"dist": {"tarball": f"{self.url}/left-pad/-/{FILE}", "integrity": integrity}}
        return json.dumps({"name": "left-pad", "versions": {"1.3.0": version}}).encode()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                registry.requests.append(self.path)
                if not registry.up:
                    self.send_error(503)
                    return
                body = {"/left-pad": registry.document(), f"/left-pad/-/{FILE}": registry.tarball}.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeRegistry]:
    fake = FakeRegistry()
    server = ThreadingHTTPServer(("127.0.0.1", 0), fake.handler())
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setattr(npm_cache, "UPSTREAM", fake.url)
    monkeypatch.setattr(npm_cache, "CACHE_ROOT", tmp_path / "cache")
    monkeypatch.setattr(npm_cache, "FETCH_ATTEMPTS", 1)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def get(path: str) -> tuple[int, bytes]:
    status, _, body = npm_cache.answer(f"/npm/{path}", npm_cache.ABBREVIATED, "http://10.213.0.1:8780")
    return status, body


def test_a_tarball_is_fetched_once_then_served_from_the_cache(registry: FakeRegistry) -> None:
    assert get(f"left-pad/-/{FILE}") == (200, TARBALL)
    assert get(f"left-pad/-/{FILE}") == (200, TARBALL)
    assert registry.requests.count(f"/left-pad/-/{FILE}") == 1, registry.requests
    registry.up = False
    assert get(f"left-pad/-/{FILE}") == (200, TARBALL)


def test_a_damaged_cached_tarball_is_fetched_anew(registry: FakeRegistry) -> None:
    get(f"left-pad/-/{FILE}")
    (cached,) = (npm_cache.CACHE_ROOT / "tarballs").glob(f"*/{FILE}")
    cached.write_bytes(TARBALL[:-1] + b"X")
    assert get(f"left-pad/-/{FILE}") == (200, TARBALL)
    assert registry.requests.count(f"/left-pad/-/{FILE}") == 2, registry.requests
    assert cached.read_bytes() == TARBALL


def test_a_tarball_that_does_not_match_its_published_sha512_is_refused_and_not_kept(registry: FakeRegistry) -> None:
    registry.tarball = TARBALL + b" tampered"
    status, body = get(f"left-pad/-/{FILE}")
    assert status == 502
    assert b"does not match its published sha512" in body
    assert not list((npm_cache.CACHE_ROOT / "tarballs").glob(f"*/{FILE}"))


def test_documents_point_at_the_cache_and_are_served_stale_when_the_registry_is_down(
    registry: FakeRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, body = get("left-pad")
    assert status == 200
    tarball_url = json.loads(body)["versions"]["1.3.0"]["dist"]["tarball"]
    assert tarball_url == f"http://10.213.0.1:8780/npm/left-pad/-/{FILE}"
    monkeypatch.setattr(npm_cache, "DOCUMENT_MAX_AGE_SECONDS", 0)
    registry.up = False
    assert get("left-pad") == (status, body)
    assert registry.requests.count("/left-pad") == 2, registry.requests


@pytest.mark.parametrize("path", ["no-such-package", "../../etc/passwd", "left-pad/-/../../x.tgz"])
def test_unknown_packages_and_other_paths_are_not_found(registry: FakeRegistry, path: str) -> None:
    status, _ = get(path)
    assert status == 404
    with contextlib.suppress(FileNotFoundError):
        assert not any(path.is_file() for path in npm_cache.CACHE_ROOT.rglob("*"))
