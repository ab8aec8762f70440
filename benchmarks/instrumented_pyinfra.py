"""The real pyinfra CLI, run in-process with two probes: seconds per operation and remote commands per host.

    python benchmarks/instrumented_pyinfra.py METRICS <pyinfra arguments…>

Writes {"operations": [[host, name, seconds], …], "commands": {host: n}, "uploads": {host: n}, "sent": {host:
[command, …]}} to METRICS, or to METRICS/<pid>.json when METRICS is a directory (one file per run when several run
at once). Every command pyinfra sends over SSH counts, fact probes included; ``sent`` holds each as the remote
shell runs it (``sh -c '…'``), so a benchmark can replay the same probes as one script. Secrets never travel in a
command line, but a sudo password does (pyinfra's ``env PYINFRA_SUDO_PASSWORD=…``): METRICS must be private.
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import sys
import time
from typing import Any

from pyinfra.api import operations as api_operations
from pyinfra.connectors.ssh import SSHConnector
from pyinfra.connectors.sshuserclient.client import SSHClient
from pyinfra_cli.main import main as pyinfra_main

timings: list[tuple[str, str, float]] = []
commands: collections.Counter[str] = collections.Counter()
uploads: collections.Counter[str] = collections.Counter()
sent: collections.defaultdict[str, list[str]] = collections.defaultdict(list)

_run_host_op = api_operations._run_host_op
_run_shell_command = SSHConnector.run_shell_command
_put_file = SSHConnector.put_file
_exec_command = SSHClient.exec_command
_client_hosts: dict[int, str] = {}


def _timed_op(state: Any, host: Any, op_hash: str) -> bool:
    started = time.monotonic()
    try:
        return bool(_run_host_op(state, host, op_hash))
    finally:
        name = ", ".join(sorted(state.op_meta[op_hash].names))
        timings.append((host.name, name, time.monotonic() - started))


def _counted_command(self: SSHConnector, *args: Any, **kwargs: Any) -> Any:
    commands[self.host.name] += 1
    _client_hosts[id(self.client)] = self.host.name
    return _run_shell_command(self, *args, **kwargs)


def _recorded_exec(self: SSHClient, command: str, *args: Any, **kwargs: Any) -> Any:
    # The string the host's shell runs, as sent: the connector has wrapped it (sh -c, sudo, env) by now.
    sent[_client_hosts.get(id(self), "?")].append(command)
    return _exec_command(self, command, *args, **kwargs)


def _counted_upload(self: SSHConnector, *args: Any, **kwargs: Any) -> Any:
    uploads[self.host.name] += 1
    return _put_file(self, *args, **kwargs)


def _write_metrics(path: str) -> None:
    if os.path.isdir(path):
        path = os.path.join(path, f"{os.getpid()}.json")
    with open(path, "w") as handle:
        json.dump({"operations": timings, "commands": commands, "uploads": uploads, "sent": sent}, handle)


if __name__ == "__main__":
    metrics_path = sys.argv.pop(1)
    api_operations._run_host_op = _timed_op  # type: ignore[assignment]
    SSHConnector.run_shell_command = _counted_command  # type: ignore[method-assign]
    SSHConnector.put_file = _counted_upload  # type: ignore[method-assign]
    SSHClient.exec_command = _recorded_exec  # type: ignore[method-assign,assignment]
    atexit.register(_write_metrics, metrics_path)
    sys.argv[0] = "pyinfra"
    pyinfra_main()
