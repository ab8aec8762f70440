"""Validate OpenClaw settings while pyinfra loads an inventory file: before it connects to any host."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from openclaw_infra.host_settings import settings_for_hosts

HostEntry = tuple[str, Mapping[str, Any]]


def checked_hosts(hosts: list[HostEntry], group_data: Mapping[str, Any] | None = None) -> list[HostEntry]:
    """Return ``hosts`` unchanged after validating each host's settings (host data over ``group_data``).

    For an inventory group written as ``[(name, data), ...]``; raises ``SettingsError`` naming every bad field.
    """
    settings_for_hosts((name, {**(group_data or {}), **data}) for name, data in hosts)
    return hosts


def checked_group(hosts: list[HostEntry], group_data: Mapping[str, Any]) -> tuple[list[HostEntry], Mapping[str, Any]]:
    """The ``(hosts, group_data)`` form of a pyinfra inventory group, validated like ``checked_hosts``."""
    return checked_hosts(hosts, group_data), group_data
