"""The gateway's host on a tailnet: tagged as the policy file expects (``tailscale up --advertise-tags``), and the
gateway reachable from the tailnet only through Tailscale Serve's HTTPS port, never through Funnel.

Both decide from what the ``tailscale`` CLI reports (``facts/tailscale.py``) and change nothing when it already
says what is wanted. Tailscale itself is installed by the operator: its package repository is not Debian's.
"""

from __future__ import annotations

from collections.abc import Generator

from pyinfra.api.command import PyinfraCommand, StringCommand
from pyinfra.api.exceptions import OperationError, OperationValueError
from pyinfra.api.hiddenvalue import HiddenValue
from pyinfra.api.operation import operation
from pyinfra.context import host

from openclaw_infra.facts.batch import read_facts
from openclaw_infra.facts.tailscale import TailscaleServe, TailscaleStatus
from openclaw_infra.operations.private_upload import private_upload
from openclaw_infra.quoting import quoted
from openclaw_infra.settings import TAILSCALE_SERVE_HTTPS_PORTS, TAILSCALE_TAG

NOT_INSTALLED = (
    "tailscale is not installed on this host: install it from Tailscale's package repository "
    "(https://pkgs.tailscale.com), then rerun"
)
# Where an auth key waits for ``tailscale up --auth-key=file:…`` (root's, 600), removed whatever up does.
AUTH_KEY_FILE = "/root/.openclaw-infra-tailscale-auth-key"
# How long ``tailscale up`` may wait for the node to be Running before it fails (it waits forever by default).
UP_TIMEOUT = "120s"


@operation()
def node_tagged(tag: str, ssh: bool, auth_key: HiddenValue | None = None) -> Generator[PyinfraCommand, None, None]:
    """
    Bring this node onto its tailnet carrying ``tag`` (and no other tag), with Tailscale SSH on or off.

    + tag: the node's tag (``tag:openclaw``), owned in the policy file by whoever may apply it
    + ssh: run Tailscale SSH (the policy's ``ssh`` rules reach the node through it)
    + auth_key: a pre-authorised key (masked) for a node that is not logged in; without one such a node is refused
      with how to log it in once by hand

    A logged-in node already carrying exactly ``tag`` changes nothing. A logged-in node with other tags or none
    re-runs ``tailscale up`` with the tag (tailscale refuses, naming them, if the node has other settings that
    are not defaults). The key reaches tailscale as ``--auth-key=file:…`` from a root-only file removed after
    use, never on a command line.
    """
    if not TAILSCALE_TAG.fullmatch(tag):
        raise OperationValueError(f"{tag!r} is not a Tailscale tag (write e.g. 'tag:openclaw')")
    (node,) = read_facts((TailscaleStatus, {}))
    if node is None:
        raise OperationError(NOT_INSTALLED)
    if node.backend_state == "Running" and list(node.tags) == [tag]:
        host.noop(f"this node is on its tailnet as {node.dns_name or 'itself'}, tagged {tag}")
        return
    up = ["tailscale up", quoted(f"--advertise-tags={tag}"), f"--ssh={str(ssh).lower()}", f"--timeout={UP_TIMEOUT}"]
    if node.backend_state == "Running":
        yield StringCommand(*up)
        return
    if auth_key is None:
        by_hand = f"sudo tailscale up --advertise-tags={tag}" + (" --ssh" if ssh else "")
        raise OperationError(
            f"tailscale on this host is {node.backend_state}, not logged in: run `{by_hand}` on it once (it prints "
            "a login URL), or give openclaw_tailscale.auth_key, then rerun"
        )
    if not isinstance(auth_key, HiddenValue):
        raise OperationValueError("auth_key must be a HiddenValue: a secret is never passed in the clear")
    yield from private_upload(auth_key.unmask(), AUTH_KEY_FILE)
    key_file = quoted(AUTH_KEY_FILE)
    yield StringCommand(
        *up, quoted(f"--auth-key=file:{AUTH_KEY_FILE}"), "; status=$?; rm -f", key_file, "; exit $status"
    )


@operation()
def gateway_served(https_port: int, gateway_port: int) -> Generator[StringCommand, None, None]:
    """
    Serve the gateway on this node's tailnet name at ``https_port`` (TLS by Tailscale), and nowhere else through
    Tailscale: not through Funnel, not on another port, not beside other content on the same port.

    + https_port: Serve's HTTPS port (443, 8443 or 10000)
    + gateway_port: the gateway's loopback port (it listens on 127.0.0.1 only)

    Changes nothing when the only Serve entry reaching the gateway is ``https_port``, proxying ``/`` (and nothing
    else) to it, with Funnel off. Any other Serve port that reaches the gateway is removed; a wrong or widened
    ``https_port`` is cleared and set again (``tailscale serve`` also turns Funnel off on the port it sets).
    """
    if https_port not in TAILSCALE_SERVE_HTTPS_PORTS:
        raise OperationValueError(f"https_port {https_port} is not one Tailscale Serve offers HTTPS on")
    if not 0 < gateway_port < 65536:
        raise OperationValueError(f"gateway_port {gateway_port} is not a TCP port")
    target = f"http://127.0.0.1:{gateway_port}"
    (served,) = read_facts((TailscaleServe, {}))
    if served is None:
        raise OperationError(NOT_INSTALLED)
    wanted = {"/": f"proxy {target}"}
    ours = next((entry for entry in served if entry.port == https_port), None)
    strays = [
        entry
        for entry in served
        if entry.port != https_port
        and (
            any(_reaches(handler, gateway_port) for handler in entry.handlers.values())
            or _reaches(f"proxy {entry.tcp_forward or ''}", gateway_port)
        )
    ]
    right = ours is not None and ours.https and ours.handlers == wanted and not ours.funnel and not ours.tcp_forward
    if right and not strays:
        host.noop(f"Tailscale Serve: https port {https_port} -> {target}, Funnel off, no other way in")
        return
    for stray in strays:
        yield _serve_off(stray.port, stray.https, stray.tcp_forward is not None)
    if not right:
        if ours is not None:
            yield _serve_off(ours.port, ours.https, ours.tcp_forward is not None)
        yield StringCommand("tailscale serve --bg", f"--https={https_port}", quoted(target))


def _reaches(handler: str, gateway_port: int) -> bool:
    """Whether a Serve handler ("proxy http://127.0.0.1:18789", …) forwards to the gateway's port on this node."""
    kind, _, destination = handler.partition(" ")
    if kind != "proxy":
        return False
    address = destination.split("://", 1)[-1].split("/", 1)[0]
    return address.rpartition(":")[2] == str(gateway_port) and address.rpartition(":")[0] in (
        "127.0.0.1",
        "localhost",
        "[::1]",
        "",
    )


def _serve_off(port: int, https: bool, tcp: bool) -> StringCommand:
    kind = "--tcp" if tcp else "--https" if https else "--http"
    return StringCommand("tailscale serve", f"{kind}={port}", "off")
