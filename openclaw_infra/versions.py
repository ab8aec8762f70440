"""Pinned versions and the Node range each pinned OpenClaw release accepts.

OpenClaw declares ``engines.node`` in its package.json; the deploy refuses a Node pin outside it before any
host is touched, because npm only warns and the gateway then fails at run time.
"""

from __future__ import annotations

import re

DEFAULT_OPENCLAW_VERSION = "2026.9.6"
DEFAULT_NODE_VERSION = "24.21.0"

# `npm view openclaw@<version> engines` for every release the project has been tested with.
OPENCLAW_NODE_ENGINES: dict[str, str] = {
    "2026.9.6": ">=24.16.0 <25 || >=26.1.0",
}

_VERSION = re.compile(r"^(\d+)(?:\.(\d+))?(?:\.(\d+))?$")
_COMPARATOR = re.compile(r"^(>=|<=|>|<|=)?v?(\d+(?:\.\d+){0,2})$")


class EngineRangeError(ValueError):
    """An ``engines.node`` range this module cannot read."""


def parse_version(text: str) -> tuple[int, int, int]:
    """``"24.16"`` -> ``(24, 16, 0)``; raises ``ValueError`` on anything else."""
    match = _VERSION.match(text.strip().lstrip("v"))
    if not match:
        raise ValueError(f"not a version: {text!r}")
    major, minor, patch = (int(part) if part else 0 for part in match.groups())
    return major, minor, patch


def _satisfies_comparator(version: tuple[int, int, int], comparator: str) -> bool:
    match = _COMPARATOR.match(comparator)
    if not match:
        raise EngineRangeError(f"unsupported comparator {comparator!r}")
    operator, bound_text = match.groups()
    bound = parse_version(bound_text)
    if operator == ">=":
        return version >= bound
    if operator == ">":
        return version > bound
    if operator == "<=":
        return version <= bound
    if operator == "<":
        return version < bound
    return version == bound


def node_satisfies(node_version: str, engines_range: str) -> bool:
    """True when ``node_version`` is inside an npm-style ``engines`` range.

    Supports what OpenClaw publishes: comparator sets joined by ``||``, each a space-separated AND of
    ``>=``/``>``/``<=``/``<``/``=`` comparators.
    """
    version = parse_version(node_version)
    alternatives = [part.split() for part in engines_range.split("||")]
    if not all(alternatives):
        raise EngineRangeError(f"empty alternative in {engines_range!r}")
    return any(
        all(_satisfies_comparator(version, comparator) for comparator in comparators) for comparators in alternatives
    )
