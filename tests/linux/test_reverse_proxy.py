"""The reverse proxy (the guide's "Reverse Proxy Configuration"), proven between real hosts: the gateway on one
sandbox host bound to loopback behind Debian's nginx, TLS from the host's own CA, the firewall admitting the
second host. Real requests from that host: TLS verified against the published CA, the token let in (the gateway
trusts the proxy), a WebSocket upgrade passed, and spoofed forwarding and Tailscale identity headers replaced or
dropped before they reach the gateway. An intruder's edit of nginx's file is drift, and a redeploy puts it back."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from openclaw_infra.operations import reverse_proxy
from sandbox_hosts import SandboxHost
from sandbox_hosts.hosts import demo_token_path
from tests.conftest import SandboxFactory
from tests.helpers import VERIFIED, changed_operations, run_pyinfra, sandbox_drift, status_with_token

pytestmark = pytest.mark.sandbox

DEPLOY = "deploys/linux_vm.py"
PORT = 18789
SERVER = "gateway.test"
CLIENT_CA = "/root/openclaw-proxy-ca.crt"
CONFIG_CHECK = f"checksum {reverse_proxy.NGINX_CONFIG}"
CONFIG_PLAN = f"plan: OpenClaw gateway (Linux, systemd) | Reverse proxy: {reverse_proxy.NGINX_CONFIG}"
# What a client forges: a loopback origin, and a Tailscale login the gateway would believe from Tailscale Serve.
SPOOFED = {
    "X-Forwarded-For": "127.0.0.1",
    "X-Real-IP": "127.0.0.1",
    "Forwarded": "for=127.0.0.1",
    "Tailscale-User-Login": "admin@example.com",
    "Tailscale-User-Name": "Admin",
}
# Stands in for the gateway on its port while the gateway is stopped: answers with the headers it was sent.
HEADER_ECHO = """
import http.server, json
class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({name.lower(): value for name, value in self.headers.items()}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("127.0.0.1", %d), Echo).serve_forever()
"""


def proxy_data(gateway: SandboxHost, client: SandboxHost) -> dict[str, str]:
    data = {
        "openclaw_firewall": {"gateway_allowed_sources": [f"{client.address}/32"]},
        "openclaw_docker_sandbox": False,
        "openclaw_reverse_proxy": {"server_name": SERVER, "alternative_names": [gateway.address]},
    }
    return {"OPENCLAW_SANDBOX_DATA": json.dumps(data)}


def https(
    client: SandboxHost,
    gateway_address: str,
    path: str,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    post: bool = False,
) -> tuple[str, str]:
    """(status, body) of a request from ``client`` to the proxy, the name resolved to ``gateway_address`` and the
    certificate verified against the CA the client was given; the token read by curl from stdin."""
    words = ["curl -s -m 10 -o /tmp/proxy-body -w '%{http_code}'", f"--cacert {CLIENT_CA}"]
    words.append(f"--resolve {SERVER}:443:{gateway_address}")
    words += [f"-H '{name}: {value}'" for name, value in (headers or {}).items()]
    if post:
        words.append("-H 'Content-Type: application/json' -d '{\"tool\": \"no-such-tool\"}'")
    words += ["-H @-", f"https://{SERVER}{path}; echo; cat /tmp/proxy-body 2>/dev/null"]
    stdin = f"Authorization: Bearer {token}\n" if token else "\n"
    result = subprocess.run(
        [*client.root_shell_args(), " ".join(words)], input=stdin, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    status, _, body = result.stdout.partition("\n")
    return status.strip(), body


def headers_reaching_the_gateway(gateway: SandboxHost, client: SandboxHost) -> dict[str, str]:
    """What nginx forwards of a request carrying ``SPOOFED``: the gateway stopped, a header echo in its place."""
    gateway.run("systemctl stop openclaw-gateway.service")
    gateway.run(f"systemd-run --unit=proxy-header-echo python3 -c '{HEADER_ECHO % PORT}'")
    try:
        for _ in range(50):
            if gateway.run(f"ss -Hltn 'sport = :{PORT}'").stdout.strip():
                break
            time.sleep(0.2)
        status, body = https(client, gateway.address, "/echo", headers=SPOOFED)
        assert status == "200", (status, body)
        received: dict[str, str] = json.loads(body)
        return received
    finally:
        gateway.run("systemctl stop proxy-header-echo.service", check=False)
        gateway.run("systemctl start openclaw-gateway.service")


def test_the_gateway_behind_nginx_sees_the_real_client_and_nothing_forged(sandbox_factory: SandboxFactory) -> None:
    gateway, client = sandbox_factory.boot(2, sandbox_images=False)
    try:
        env = proxy_data(gateway, client)
        first = run_pyinfra([gateway], DEPLOY, env=env)
        assert VERIFIED in first.stdout + first.stderr
        # The client trusts the host's CA as an operator's machine would: its published certificate, copied over.
        ca = gateway.run(f"cat {reverse_proxy.PUBLISHED_CA}").stdout
        client.run(f"cat > {CLIENT_CA} <<'EOF'\n{ca}EOF")
        modes = gateway.run(f"stat -c '%U:%G %a %n' {reverse_proxy.CA_DIR}/ca.key {reverse_proxy.CERTIFICATE_KEY}")
        assert [line.split()[:2] for line in modes.stdout.splitlines()] == [["root:root", "600"]] * 2

        # TLS by name and by the host's address, both verified against that CA; the gateway answers through it.
        status, body = https(client, gateway.address, "/health")
        assert (status, json.loads(body)["ok"]) == ("200", True), body
        by_address = client.run(f"curl -s -m 10 --cacert {CLIENT_CA} https://{gateway.address}/health", check=False)
        assert json.loads(by_address.stdout)["ok"] is True, by_address.stderr

        # The token is let in: the gateway trusts its proxy (without trustedProxies it answers 403 to proxied
        # requests that carry forwarding headers); a wrong one is refused.
        token = demo_token_path().read_text().strip()
        assert https(client, gateway.address, "/tools/invoke", token, post=True)[0] not in ("000", "401", "403")
        assert https(client, gateway.address, "/tools/invoke", "not-the-token-" + "x" * 32, post=True)[0] == "401"
        # A WebSocket upgrade (the gateway's protocol, the Control UI) passes through.
        upgrade = client.run(
            f"curl -s -i -m 3 --http1.1 --cacert {CLIENT_CA} --resolve {SERVER}:443:{gateway.address} "
            "-H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' "
            # The status line only: the gateway's first frames follow it.
            f"-H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' https://{SERVER}/ | head -c 12",
            check=False,
        )
        assert upgrade.stdout == "HTTP/1.1 101", upgrade.stdout
        # The gateway itself stays on loopback: the client cannot go around the proxy.
        assert status_with_token(client, PORT, token, gateway.address) == "000"

        # Forged headers: the client's own address replaces the forwarding ones, Tailscale's are dropped.
        received = headers_reaching_the_gateway(gateway, client)
        assert (received["x-forwarded-for"], received["x-real-ip"]) == (client.address, client.address), received
        assert received["x-forwarded-proto"] == "https"
        forged = {"forwarded", "tailscale-user-login", "tailscale-user-name"} & set(received)
        assert forged == set(), received

        # That is what the deploy and the drift checks expect: a rerun changes nothing, drift is clean.
        assert changed_operations(run_pyinfra([gateway], "--json", DEPLOY, env=env).stdout) == []
        code, failing, printed = sandbox_drift(gateway, DEPLOY, env)
        assert (code, failing) == (0, set()), printed

        # A careless admin appends to X-Forwarded-For instead: drift names the file, a redeploy puts it back.
        gateway.run(
            f"sed -i 's/X-Forwarded-For $remote_addr/X-Forwarded-For $proxy_add_x_forwarded_for/' "
            f"{reverse_proxy.NGINX_CONFIG} && nginx -s reload"
        )
        code, failing, printed = sandbox_drift(gateway, DEPLOY, env)
        assert code == 1 and failing == {CONFIG_CHECK, CONFIG_PLAN}, printed
        run_pyinfra([gateway], DEPLOY, env=env)
        assert "X-Forwarded-For $proxy_add" not in gateway.run(f"cat {reverse_proxy.NGINX_CONFIG}").stdout
        assert sandbox_drift(gateway, DEPLOY, env)[:2] == (0, set())

        # End to end, a forged loopback origin earns no loopback trust: OpenClaw exempts loopback clients from
        # its failed-auth lockout (10 failures), so wrong tokens from the gateway's own host never get 429, and
        # the client, forging 127.0.0.1, does.
        wrong = "not-the-token-" + "y" * 32
        local = [
            gateway.run(
                f"curl -s -o /dev/null -w '%{{http_code}}' -m 10 --cacert {reverse_proxy.PUBLISHED_CA} "
                f"--resolve {SERVER}:443:127.0.0.1 -H 'Authorization: Bearer {wrong}' "
                f"-H 'Content-Type: application/json' -d '{{}}' https://{SERVER}/tools/invoke",
                check=False,
            ).stdout
            for _ in range(12)
        ]
        assert "429" not in local, local
        remote = [
            https(client, gateway.address, "/tools/invoke", wrong, headers=SPOOFED, post=True)[0] for _ in range(12)
        ]
        assert remote[-1] == "429", remote
    finally:
        sandbox_factory.release(gateway, client)


def operators_certificate(directory: Path, address: str) -> dict[str, Path]:
    """A CA of the operator's and a certificate it signed for ``SERVER`` and ``address``, made on this machine with
    openssl as an operator would (key and chain as separate PEM files)."""
    paths = {name: directory / f"{name}.pem" for name in ("ca_key", "ca", "key", "request", "chain")}
    openssl = ["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    subprocess.run(
        [*openssl, "-x509", "-keyout", paths["ca_key"], "-out", paths["ca"], "-days", "90", "-subj", "/CN=Operator CA",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        [*openssl, "-keyout", paths["key"], "-out", paths["request"], "-subj", f"/CN={SERVER}",
         "-addext", f"subjectAltName=DNS:{SERVER},IP:{address}"],
        check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        ["openssl", "x509", "-req", "-in", paths["request"], "-CA", paths["ca"], "-CAkey", paths["ca_key"],
         "-CAcreateserial", "-copy_extensions", "copyall", "-days", "90", "-out", paths["chain"]],
        check=True, capture_output=True,
    )  # fmt: skip
    return paths


def test_the_operators_own_certificate_is_served_and_its_key_stays_private(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    gateway, client = sandbox_factory.boot(2, sandbox_images=False)
    try:
        paths = operators_certificate(tmp_path, gateway.address)
        data = json.loads(proxy_data(gateway, client)["OPENCLAW_SANDBOX_DATA"])
        data["openclaw_reverse_proxy"] = {
            "server_name": SERVER,
            "tls": "certificate",
            "certificate": str(paths["chain"]),
            "certificate_key": {"file": str(paths["key"])},
        }
        env = {"OPENCLAW_SANDBOX_DATA": json.dumps(data)}
        first = run_pyinfra([gateway], "--json", DEPLOY, env=env)
        assert VERIFIED in first.stdout + first.stderr
        # The key never shows in pyinfra's output or --json, and sits root-only on the host; no CA was made there.
        key_body = "".join(line for line in paths["key"].read_text().splitlines() if "-----" not in line)
        assert key_body[:40] not in first.stdout + first.stderr
        modes = gateway.run(f"stat -c '%U:%G %a' {reverse_proxy.TLS_DIR} {reverse_proxy.CERTIFICATE_KEY}").stdout
        assert modes.split("\n")[:2] == ["root:root 700", "root:root 600"]
        assert gateway.run(f"test -e {reverse_proxy.CA_DIR}", check=False).returncode != 0

        # Clients trusting the operator's CA get the gateway through it.
        client.run(f"cat > {CLIENT_CA} <<'EOF'\n{paths['ca'].read_text()}EOF")
        status, body = https(client, gateway.address, "/health")
        assert (status, json.loads(body)["ok"]) == ("200", True), body
        assert changed_operations(run_pyinfra([gateway], "--json", DEPLOY, env=env).stdout) == []
        assert sandbox_drift(gateway, DEPLOY, env)[:2] == (0, set())
    finally:
        sandbox_factory.release(gateway, client)
