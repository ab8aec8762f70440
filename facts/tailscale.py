"""What the ``tailscale`` CLI reports of this node: its login state and tags (``tailscale status --json``) and its
Serve configuration (``tailscale serve status --json``). ``None`` when ``tailscale`` is not installed.

Both commands print the daemon's error instead of JSON when ``tailscaled`` is not running; the facts then fail
quoting it, rather than passing for a node that is logged out or serves nothing.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from pyinfra.api.facts import FactBase
from typing_extensions import override

from .parsing import unreadable
from .records import JsonRecord


@dataclasses.dataclass(frozen=True)
class TailscaleNode(JsonRecord):
    # "Running", "NeedsLogin", "Stopped", "Starting", "NeedsMachineAuth", "NoState"
    backend_state: str
    # The tags the control plane applied to this node (empty: owned by the user who logged it in).
    tags: tuple[str, ...]
    # MagicDNS name without the trailing dot ("" before login); Serve's configuration is keyed by it.
    dns_name: str
    addresses: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class ServedPort(JsonRecord):
    port: int
    # Serve terminates TLS on it (``--https``); False: plain HTTP or a raw TCP forward.
    https: bool
    # A raw TCP forward's target ("127.0.0.1:18789"), if the port is one.
    tcp_forward: str | None
    # mount point -> what it serves: "proxy http://127.0.0.1:18789", "path /srv/x", "text …"
    handlers: dict[str, str]
    # Funnel: the port is reachable from the whole internet, not only the tailnet.
    funnel: bool


def _json_object(tool: str, output: list[str]) -> dict[str, Any] | None:
    text = "\n".join(output).strip()
    try:
        value = json.loads(text)
    except ValueError:
        # What the CLI printed instead: usually "failed to connect to local tailscaled …".
        raise unreadable(tool, output[0] if output else "", "not JSON") from None
    if value is None:
        return None
    if not isinstance(value, dict):
        raise unreadable(tool, output[0], "not a JSON object")
    return value


def _strings(value: object) -> tuple[str, ...]:
    return tuple(str(item) for item in value) if isinstance(value, list) else ()


class TailscaleStatus(FactBase[TailscaleNode | None]):
    """
    This node's state on its tailnet.

    Runs ``tailscale status --json``.

    .. code:: python

        {"backend_state": "Running", "tags": ["tag:openclaw"], "dns_name": "gw.tail2528d1.ts.net",
         "addresses": ["100.126.86.89", "fd7a:115c:a1e0::2901:5659"]}
    """

    @override
    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "tailscale"

    @override
    def command(self) -> str:
        # stderr too, and never a failed command: the daemon's own error is what the fact quotes.
        return "tailscale status --json 2>&1 || true"

    @override
    def process(self, output: list[str]) -> TailscaleNode | None:
        status = _json_object("tailscale status --json", output)
        if status is None or not isinstance(status.get("BackendState"), str):
            raise unreadable("tailscale status --json", output[0] if output else "", "no BackendState")
        own = status.get("Self")
        node: dict[str, Any] = own if isinstance(own, dict) else {}
        return TailscaleNode(
            backend_state=status["BackendState"],
            tags=_strings(node.get("Tags")),
            dns_name=str(node.get("DNSName") or "").rstrip("."),
            addresses=_strings(status.get("TailscaleIPs")),
        )


def _handler(mount: str, handler: object) -> str:
    if not isinstance(handler, dict):
        raise ValueError(f"handler {mount!r} is not an object")
    for key, kind in (("Proxy", "proxy"), ("Path", "path"), ("Text", "text"), ("Redirect", "redirect")):
        if key in handler:
            return f"{kind} {handler[key]}"
    return "other " + json.dumps(handler, sort_keys=True)


def served_ports(config: dict[str, Any]) -> list[ServedPort]:
    """The node's own Serve entries (not those of Tailscale Services, which have addresses of their own), by port."""
    tcp = config.get("TCP") or {}
    web = config.get("Web") or {}
    funnel = {host_port for host_port, on in (config.get("AllowFunnel") or {}).items() if on}
    ports: list[ServedPort] = []
    for port_text, entry in sorted(tcp.items(), key=lambda item: int(item[0])):
        handlers: dict[str, str] = {}
        host_ports = [host_port for host_port in web if host_port.rpartition(":")[2] == port_text]
        for host_port in host_ports:
            for mount, handler in (web[host_port].get("Handlers") or {}).items():
                handlers[mount] = _handler(mount, handler)
        ports.append(
            ServedPort(
                port=int(port_text),
                https=bool(entry.get("HTTPS")),
                tcp_forward=entry.get("TCPForward") or None,
                handlers=handlers,
                funnel=any(host_port in funnel for host_port in host_ports),
            )
        )
    return ports


class TailscaleServe(FactBase[list[ServedPort] | None]):
    """
    The ports this node serves on its tailnet with Tailscale Serve (or Funnel), and what each serves.

    Runs ``tailscale serve status --json``.

    .. code:: python

        [{"port": 8443, "https": true, "tcp_forward": null,
          "handlers": {"/": "proxy http://127.0.0.1:18789"}, "funnel": false}]
    """

    @override
    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "tailscale"

    @override
    def command(self) -> str:
        return "tailscale serve status --json 2>&1 || true"

    @override
    def process(self, output: list[str]) -> list[ServedPort] | None:
        config = _json_object("tailscale serve status --json", output)
        if config is None:
            return []  # no Serve configuration at all ("null")
        try:
            return served_ports(config)
        except (ValueError, TypeError, AttributeError) as error:
            raise unreadable("tailscale serve status --json", output[0], repr(error)) from None
