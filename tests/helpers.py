"""Run the real pyinfra CLI against sandbox hosts, through the project's own inventory file."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from openclaw_infra.deploys.linux_gateway import VERIFY_OPERATION
from openclaw_infra.drift.checks import fact_failures
from sandbox_hosts import SandboxHost

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Printed by every Linux deploy that got as far as its verification (exit 0: it passed).
VERIFIED = VERIFY_OPERATION
SANDBOX_INVENTORY = PROJECT_ROOT / "inventories" / "sandbox.py"
PYINFRA = str(Path(sys.executable).parent / "pyinfra")
# A deploy of a few sandbox hosts takes 2-5 minutes, beside another test file's; far longer is a hang.
PYINFRA_TIMEOUT_SECONDS = 900


def changed_operations(json_output: str) -> list[str]:
    """From ``pyinfra --json`` output: the operations that changed a host, by name without the deploy's prefix."""
    operations = json.loads(json_output)["results"]["operations"]
    return [operation["name"].rpartition(" | ")[2] for operation in operations if operation["success"]]


_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
_OPERATION_STARTED = re.compile(r"--> Starting (?:[\w ,]+ )?operation: (?P<name>.+)$")
_HOST_CHANGED = re.compile(r"^\s*\[[^\]]+\] Success(?: on retry \d+)?$")


def changed_operations_logged(log: str) -> list[str]:
    """From pyinfra's progress log: the operations that changed a host. A run that fails prints no ``--json``
    results (pyinfra stops at "No hosts remaining!"), but its log still says, operation by operation, what it did."""
    names: list[str] = []
    current = ""
    for raw_line in log.splitlines():
        line = _ANSI_ESCAPE.sub("", raw_line).rstrip()
        if started := _OPERATION_STARTED.search(line):
            current = started["name"].rpartition(" | ")[2]
        elif current and _HOST_CHANGED.match(line) and current not in names:
            names.append(current)
    return names


def run_pyinfra(
    hosts: Sequence[SandboxHost],
    *args: str,
    env: dict[str, str] | None = None,
    check: bool = True,
    timeout: float = PYINFRA_TIMEOUT_SECONDS,
) -> subprocess.CompletedProcess[str]:
    """``pyinfra inventories/sandbox.py ARGS…`` limited to ``hosts``; returns the finished process.

    ``-y`` is added except for ``--dry`` runs: with ``-y`` pyinfra skips change detection, and a dry plan would
    then always say "no change". A run still going after ``timeout`` is killed and fails the test with what it had
    printed, which names the operation it was stuck in.
    """
    run_env = {**os.environ, **(env or {}), "OPENCLAW_SANDBOX_HOSTS": ",".join(host.name for host in hosts)}
    confirm = [] if "--dry" in args else ["-y"]
    command = [PYINFRA, *confirm, str(SANDBOX_INVENTORY), *args]
    # Files, not pipes: what a killed run printed is still there to read.
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        try:
            finished = subprocess.run(
                command, stdout=stdout, stderr=stderr, text=True, cwd=PROJECT_ROOT, env=run_env, timeout=timeout,
                check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"pyinfra {' '.join(args)} still ran after {timeout:.0f} s and was killed; the end of its output:\n"
                f"{_tail(stdout)}\n{_tail(stderr)}"
            ) from None
        result = subprocess.CompletedProcess(command, finished.returncode, _read(stdout), _read(stderr))
    if check and result.returncode != 0:
        raise AssertionError(f"pyinfra exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


def _read(output: IO[str]) -> str:
    output.seek(0)
    return output.read()


def _tail(output: IO[str], lines: int = 80) -> str:
    return "\n".join(_read(output).splitlines()[-lines:])


FACTS_PACKAGE = "openclaw_infra.facts"


def _cli_value(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def facts_json(host: SandboxHost, *facts: tuple[str, dict[str, object]]) -> list[Any]:
    """The values of ``facts`` (``("ports.ListeningPorts", {"udp": True})``, …) for ``host``, in order.

    ``pyinfra INVENTORY fact A k=v B --json`` prints ``{"<fact> (<args>)": {"<host>": value}, …}`` in the
    order the facts were given.
    """
    words: list[str] = []
    for fact, args in facts:
        words += [f"{FACTS_PACKAGE}.{fact}", *(f"{key}={_cli_value(value)}" for key, value in args.items())]
    result = run_pyinfra([host], "fact", *words, "--json")
    # --json still prints a fact's default when pyinfra could not read it: that must not pass for an answer.
    assert not fact_failures(result.stderr), f"pyinfra could not read a fact:\n{result.stderr}"
    printed = json.loads(result.stdout)
    assert len(printed) == len(facts), printed
    return [by_host[host.name] for by_host in printed.values()]


def fact_json(host: SandboxHost, fact: str, **args: object) -> Any:
    """One fact's value for ``host`` as ``pyinfra … fact FACT key=value --json`` prints it."""
    (value,) = facts_json(host, (fact, args))
    return value


def install_project(host: SandboxHost, scratch: Path, target: str) -> None:
    """The project as an operator installs it on a machine: a venv at ``target/.venv`` with the wheel built from
    this tree (pinned by requirements.lock), and the shipped deploy files in ``target/deploys``."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(scratch), str(PROJECT_ROOT)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = scratch.glob("*.whl")
    for local in (wheel, PROJECT_ROOT / "requirements.lock"):
        subprocess.run([*host.root_shell_args(), f"cat > /tmp/{local.name}"], input=local.read_bytes(), check=True)
    host.run(
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null && "
        f"python3 -m venv {target}/.venv && "
        f"PIP_CERT=/etc/ssl/certs/ca-certificates.crt {target}/.venv/bin/pip install -q --disable-pip-version-check "
        f"-c /tmp/requirements.lock /tmp/{wheel.name} && "
        f"mkdir -p {target}/deploys && cp {target}/.venv/lib/python3*/site-packages/openclaw_infra/deploys/*.py "
        f"{target}/deploys/",
        timeout=600,
    )


def status_with_token(host: SandboxHost, port: int, token: str, address: str = "127.0.0.1") -> str:
    """The HTTP status of an authenticated request from ``host`` to the gateway at ``address``:``port``
    (``POST /tools/invoke``, which always takes the gateway's auth): the header read by curl from stdin, never on a
    command line. "000": no connection within 10 s."""
    result = subprocess.run(
        [*host.root_shell_args(),
         "curl -s -m 10 -o /dev/null -w '%{http_code}' -H @- -H 'Content-Type: application/json' "
         f"-d '{{\"tool\": \"no-such-tool\"}}' http://{address}:{port}/tools/invoke"],
        input=f"Authorization: Bearer {token}\n", capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return result.stdout.strip()


def sandbox_drift(gateway: SandboxHost, deploy: str, env: dict[str, str]) -> tuple[int, set[str], str]:
    """The real drift command against one sandbox host; (exit code, failing checks, all it printed)."""
    result = subprocess.run(
        [str(Path(PYINFRA).with_name("openclaw-infra")), "drift", "inventories/sandbox.py", deploy, "--json"],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600, check=False,
        env={**os.environ, **env, "OPENCLAW_SANDBOX_HOSTS": gateway.name},
    )  # fmt: skip
    (entry,) = json.loads(result.stdout)["hosts"]
    failing = {check["check"] for check in entry["checks"] if not check["ok"]}
    return result.returncode, failing, result.stdout + result.stderr
