"""The Debian packages a host needs beside Node and OpenClaw."""

from __future__ import annotations

from collections.abc import Generator

from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import OperationError
from pyinfra.api.operation import operation
from pyinfra.context import host
from pyinfra.facts.deb import DebPackages
from pyinfra.operations import apt

from openclaw_infra.facts.batch import read_facts


@operation()
def debian_packages(packages: list[str]) -> Generator[StringCommand, None, None]:
    """
    ``packages`` installed from the host's apt sources (present is enough: never upgraded here).

    + packages: Debian package names

    The package lists are refreshed only when a package is missing: an hour-old apt cache is no reason for a
    no-op run, or a drift check, to call the host changed. The installed list is read once (``read_facts``, shared
    with the other operations of the run); apt's own operation, which reads it again, runs only when one is missing.
    """
    if not packages:
        raise OperationError("debian_packages needs at least one package name")
    (installed,) = read_facts((DebPackages, {}))
    missing = [package for package in packages if package not in installed]
    if not missing:
        host.noop(f"installed: {', '.join(packages)}")
        return
    yield from apt.packages._inner(packages=packages, update=True, cache_time=3600)
