"""One network namespace per sandbox host, a veth pair into it, and NAT out to the package registries."""

from __future__ import annotations

import subprocess
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from sandbox_hosts import config


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def host_subnet(index: int) -> IPv4Network:
    return list(config.SUBNET.subnets(new_prefix=24))[index]


def host_address(index: int) -> IPv4Address:
    return host_subnet(index).network_address + 2


def gateway_address(index: int) -> IPv4Address:
    return host_subnet(index).network_address + 1


def netns_name(host_name: str) -> str:
    return f"ocsb-{host_name}"


def veth_name(host_name: str) -> str:
    # Interface names are at most 15 bytes; host names are limited to 10 characters for this.
    return f"ocsb-{host_name}"


def netns_path(host_name: str) -> Path:
    return Path("/run/netns") / netns_name(host_name)


def create(host_name: str, index: int) -> None:
    namespace, veth = netns_name(host_name), veth_name(host_name)
    prefix = host_subnet(index).prefixlen
    _ip("netns", "add", namespace)
    try:
        _ip("link", "add", veth, "type", "veth", "peer", "name", "host0", "netns", namespace)
        _ip("addr", "add", f"{gateway_address(index)}/{prefix}", "dev", veth)
        _ip("link", "set", veth, "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        _ip("-n", namespace, "addr", "add", f"{host_address(index)}/{prefix}", "dev", "host0")
        _ip("-n", namespace, "link", "set", "host0", "up")
        _ip("-n", namespace, "route", "add", "default", "via", str(gateway_address(index)))
    except subprocess.CalledProcessError:
        destroy(host_name)
        raise


def destroy(host_name: str) -> None:
    # Deleting the namespace destroys host0 and with it the machine's end of the pair.
    _ip("netns", "delete", netns_name(host_name), check=False)
    _ip("link", "delete", veth_name(host_name), check=False)


def exists(host_name: str) -> bool:
    return netns_path(host_name).exists()


def has_processes(host_name: str) -> bool:
    """Whether anything runs in the host's namespace (a live host, possibly of another run)."""
    return bool(_ip("netns", "pids", netns_name(host_name), check=False).stdout.strip())


def indexes_in_use() -> set[int]:
    """Host indexes whose gateway address is on one of the machine's interfaces, whichever run made them."""
    listing = _ip("-o", "-4", "addr", "show").stdout
    used = set()
    for index in range(1, config.MAX_HOSTS + 1):
        if f" {gateway_address(index)}/" in listing:
            used.add(index)
    return used


def _iptables_rule(table: str, chain: str, rule: list[str]) -> None:
    present = subprocess.run(["iptables", "-t", table, "-C", chain, *rule], capture_output=True, check=False)
    if present.returncode != 0:
        subprocess.run(["iptables", "-t", table, "-A", chain, *rule], check=True)


def ensure_nat() -> None:
    """Let hosts reach the registries through the machine; idempotent."""
    Path("/proc/sys/net/ipv4/ip_forward").write_text("1\n")
    subnet = str(config.SUBNET)
    _iptables_rule("nat", "POSTROUTING", ["-s", subnet, "!", "-d", subnet, "-j", "MASQUERADE"])
    _iptables_rule("filter", "FORWARD", ["-s", subnet, "-j", "ACCEPT"])
    _iptables_rule("filter", "FORWARD", ["-d", subnet, "-j", "ACCEPT"])
