"""Check every host of an inventory in one pyinfra run; one host that cannot be checked never hides the others.

One process and one SSH connection per host: the inventory is loaded as pyinfra's CLI loads it, every host is
connected at once, the deploy files are planned as ``pyinfra --dry`` plans them (operations are only ever
planned, never executed), then the expected state's facts are read on the same connections, each remote
command's answer taken from the plan where the plan already asked it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pyinfra
from pyinfra.api.command import StringCommand
from pyinfra.api.config import Config
from pyinfra.api.connect import disconnect_all
from pyinfra.api.exceptions import InventoryError, OperationError, PyinfraError
from pyinfra.api.host import Host
from pyinfra.api.state import State, StateStage
from pyinfra.connectors.util import CommandOutput
from pyinfra.context import ctx_config, ctx_host, ctx_inventory, ctx_state
from pyinfra_cli.exceptions import UnexpectedExternalError
from pyinfra_cli.inventory import make_inventory
from pyinfra_cli.prints import build_plan_json
from pyinfra_cli.util import exec_file

from openclaw_infra.drift.checks import (
    HEALTH_WAIT_SECONDS,
    HostResult,
    plan_check,
    plan_refusal,
    unavailable_vm_result,
)
from openclaw_infra.expected_state import Check, FactRequest, as_printed
from openclaw_infra.gateway_expected_state import expected_state_of
from openclaw_infra.host_settings import HostSettings, SettingsError, settings_for_hosts
from openclaw_infra.ssh_tuning import set_tcp_nodelay
from openclaw_infra.vm_discovery import recording_unavailable
from openclaw_infra.vm_host_expected_state import VmHostExpectedState
from openclaw_infra.vm_host_settings import VM_HOST_KEY, vm_hosts_settings

EXIT_NO_DRIFT = 0
EXIT_DRIFT = 1
EXIT_UNCHECKED = 2

Result = TypeVar("Result")


class HostUnchecked(RuntimeError):
    pass


class HostErrors(logging.Handler):
    """The error lines pyinfra logs for each host (each starts with the host's ``[name]``): why pyinfra failed a
    host while it planned or read a fact, in pyinfra's own words."""

    PREFIX = re.compile(r"\[(?P<host>[^\]]+)\]\s*(?P<text>.*)")

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: defaultdict[str, list[str]] = defaultdict(list)

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(pyinfra.__name__):
            return
        match = self.PREFIX.match(record.getMessage())
        if match:
            self.lines[match["host"]].append(match["text"].strip())

    def reason(self, host_name: str, default: str) -> str:
        """One line: pyinfra's error ("could not load fact: …") and the first thing the host said about it."""
        lines = [line.splitlines()[0] for line in self.lines.get(host_name, []) if line]
        errors = [line.removeprefix("Error: ") for line in lines if line.startswith("Error")]
        details = [line for line in lines if not line.startswith("Error")]
        if errors and details:
            return f"{errors[0]}: {details[0]}"
        return (errors or details or [default])[0]

    @contextlib.contextmanager
    def capturing(self) -> Iterator[HostErrors]:
        # On the root logger: with a handler there, nothing pyinfra or paramiko logs reaches stderr through
        # Python's last-resort handler (paramiko's tracebacks of a refused connection); the report says it.
        logger = logging.getLogger()
        logger.addHandler(self)
        try:
            yield self
        finally:
            logger.removeHandler(self)


class RemoteAnswers:
    """Each remote command's answer, asked once per host and run.

    pyinfra 3 keeps no fact cache (every ``host.get_fact`` runs its command again), and a drift run changes
    nothing on the host: a probe the plan already ran (a file's mode, the installed versions, ufw's status) answers
    the expected state's checks from here. Keyed by the command as sent and its connector arguments (sudo, user,
    env, …), so a fact read with other arguments is read again. Failures are not kept.
    """

    def __init__(self, host: Host):
        self._run_shell_command = host.run_shell_command
        self._answers: dict[tuple[str, str], tuple[bool, CommandOutput]] = {}
        host.run_shell_command = self  # type: ignore[method-assign]  # this host object only, for this run

    def __call__(self, command: StringCommand | str, *args: Any, **arguments: Any) -> tuple[bool, CommandOutput]:
        if args or arguments.get("_stdin") is not None:
            return self._run_shell_command(command, *args, **arguments)
        raw = command.get_raw_value() if isinstance(command, StringCommand) else str(command)
        key = (raw, repr(sorted((name, value) for name, value in arguments.items() if not name.startswith("print_"))))
        if key not in self._answers:
            status, output = self._run_shell_command(command, **arguments)
            if not status:
                return status, output
            self._answers[key] = (status, output)
        return self._answers[key]


@contextlib.contextmanager
def _as_pyinfra_cli() -> Iterator[None]:
    # In CLI mode pyinfra orders a deploy file's operations by where they are called, as `pyinfra --dry` does.
    was_cli = pyinfra.is_cli
    pyinfra.is_cli = True
    try:
        yield
    finally:
        pyinfra.is_cli = was_cli


def _one_line(error: BaseException, host_name: str) -> str:
    """An exception as one line; of a multi-line message (every host's settings), the line naming this host."""
    if isinstance(error, UnexpectedExternalError):
        error = error.exception
    lines = [line.strip() for line in str(error).splitlines() if line.strip()] or [type(error).__name__]
    return next((line for line in lines if f"'{host_name}'" in line), lines[0])


def _on_each_host(
    state: State, hosts: Sequence[Host], work: Callable[[Host], Result], errors: HostErrors
) -> tuple[dict[Host, Result], dict[Host, str]]:
    """``work`` on every host at once, each in its host's context: what it returned, and why it failed where it
    raised or pyinfra failed the host (a fact it could not read)."""

    def on_host(host: Host) -> tuple[Result | None, Exception | None]:
        # Caught here: gevent would print the traceback of a greenlet that raises.
        try:
            with ctx_host.use(host), ctx_config.use(state.config.copy()):
                return work(host), None
        except Exception as error:
            return None, error

    greenlets = {host: state.pool.spawn(on_host, host) for host in hosts}
    done: dict[Host, Result] = {}
    failed: dict[Host, str] = {}
    for host, greenlet in greenlets.items():
        value, error = greenlet.get()
        if host in state.failed_hosts:
            # pyinfra's own lines say which fact it could not read, and what the host answered.
            failed[host] = errors.reason(host.name, _one_line(error, host.name) if error else "pyinfra failed it")
        elif error is not None:
            failed[host] = _one_line(error, host.name)
        else:
            done[host] = value
    return done, failed


def connect_host(host: Host) -> None:
    """Connect ``host`` for a drift run: Nagle off on its socket, each remote command's answer kept for the run."""
    host.connect(show_errors=False, raise_exceptions=True)
    set_tcp_nodelay(host)
    RemoteAnswers(host)


def _deploy_file_planner(filename: str) -> Callable[[Host], str | None]:
    def plan_on(_: Host) -> str | None:
        try:
            exec_file(filename)
        except OperationError as refusal:
            # An operation refused the host as it is (say a firewall rule it will not remove on its own): that is
            # drift to name, not a host that could not be checked; its facts are still read.
            return str(refusal)
        return None

    return plan_on


def _plan(
    state: State, hosts: list[Host], deploys: Sequence[str], cwd: Path, errors: HostErrors
) -> tuple[dict[Host, str], dict[Host, list[str]]]:
    """Plan ``deploys`` on ``hosts`` as ``pyinfra --dry`` does (file by file, every host in parallel): the hosts
    whose plan failed, and why; and the refusals of operations, by host. Nothing is executed: the state never
    reaches pyinfra's execute stage."""
    failed: dict[Host, str] = {}
    refused: dict[Host, list[str]] = {}
    for index, deploy in enumerate(deploys):
        state.config.lock_current_state()
        state.current_op_file_number = index
        state.current_deploy_filename = os.path.join(cwd, deploy)
        planner = _deploy_file_planner(state.current_deploy_filename)
        planned, failed_now = _on_each_host(state, [host for host in hosts if host not in failed], planner, errors)
        failed.update(failed_now)
        for host, refusal in planned.items():
            if refusal is not None:
                refused.setdefault(host, []).append(refusal)
        state.config.reset_locked_state()
    return failed, refused


def _plan_checks(state: State, plan: Sequence[Mapping[str, Any]], host: Host) -> list[Check]:
    """One check per operation of the plan (as ``--dry --json`` prints it) that would change ``host``.

    Operations that change only when another one did (``hosts_with_conditional_change``: a restart on change) are
    left out: the operation they depend on is the drift.
    """
    return [
        plan_check(_own_name(state, host, operation))
        for operation in plan
        if host.name in operation["hosts_with_change"]
    ]


def _own_name(state: State, host: Host, operation: Mapping[str, Any]) -> str:
    """The operation's name in ``host``'s own plan.

    Planned together, the hosts' operations at one place in a deploy share one entry holding every host's names,
    and ``--json`` prints any one of them (another host's "Node 24.21.0", another gateway profile's unit): a host's
    own is the one its ``name`` argument made, under the deploy's name.
    """
    given = state.get_op_data_for_host(host, operation["op_hash"]).global_arguments.get("name")
    own = [
        name
        for name in state.op_meta[operation["op_hash"]].names
        if given and (name == given or name.endswith(f" | {given}"))
    ]
    return own[0] if len(own) == 1 else str(operation["name"])


class ExpectedChecks(Protocol):
    """An expected state: a gateway host's (``ExpectedState``) or a VM host's (``VmHostExpectedState``)."""

    def requests(self) -> list[FactRequest]: ...

    def checks(self, values: Mapping[FactRequest, Any]) -> list[Check]: ...


def expected_states(hosts: Sequence[Host]) -> dict[str, ExpectedChecks]:
    """Each host's expected state from its validated settings: a VM host (``openclaw_vm_host`` in its data) is
    checked as the VM host deploy left it, any other host as a gateway host. Raises ``SettingsError`` naming every
    problem of every host."""
    # pyinfra leaves HostData.dict unannotated.
    data: dict[str, dict[str, Any]] = {host.name: host.data.dict() for host in hosts}  # type: ignore[no-untyped-call]
    problems: list[str] = []
    vm_hosts, gateways = {}, {}
    try:
        vm_hosts = vm_hosts_settings((name, data[name]) for name in data if VM_HOST_KEY in data[name])
    except SettingsError as error:
        problems += error.problems
    try:
        gateways = settings_for_hosts((name, data[name]) for name in data if VM_HOST_KEY not in data[name])
    except SettingsError as error:
        problems += error.problems
    if problems:
        raise SettingsError(problems)
    return {
        **{name: VmHostExpectedState(name, settings.vm_host) for name, settings in vm_hosts.items()},
        **{name: gateway_expected_state(settings) for name, settings in gateways.items()},
    }


def gateway_expected_state(host_settings: HostSettings) -> ExpectedChecks:
    """A gateway host's expected state, by its model, with the drift checks' short health wait."""
    return expected_state_of(host_settings, HEALTH_WAIT_SECONDS)


def _expected_state_checks(state: State, host: Host, expected: ExpectedChecks) -> list[Check]:
    values = {}
    for request in expected.requests():
        fact_class, kwargs = request.resolve()
        value = host.get_fact(fact_class, **kwargs)
        if host in state.failed_hosts:  # pyinfra logged why; the fact's default value is no answer
            raise HostUnchecked(f"could not read fact {' '.join(request.cli_words())}")
        values[request] = as_printed(value)
    return expected.checks(values)


def _load_inventory(inventory: str, cwd: Path) -> Any:
    # Like pyinfra's CLI: an inventory may import modules that sit beside it in the project it is run from, and a
    # config.py there sets pyinfra's config (sudo, timeouts) for the plan.
    if str(cwd) not in sys.path:
        sys.path.append(str(cwd))
    if (cwd / "config.py").exists():
        exec_file(str(cwd / "config.py"))
    return make_inventory(inventory, cwd=str(cwd))


def inventory_hosts(inventory: str, cwd: Path) -> list[Host]:
    """The hosts ``inventory`` gives, loaded as pyinfra's CLI loads it (nothing connected, nothing checked)."""
    state = State()
    state.cwd = str(cwd)
    config = Config()  # type: ignore[no-untyped-call]  # pyinfra leaves __init__ unannotated
    with _as_pyinfra_cli(), ctx_state.use(state), ctx_config.use(config):
        return list(_load_inventory(inventory, cwd))


def check_inventory(inventory: str, deploys: Sequence[str], cwd: Path) -> list[HostResult]:
    """Every host of ``inventory`` checked against ``deploys`` and its expected state, in inventory order.

    Raises ``PyinfraError`` when there is nothing to check: invalid settings (every host's problems at once), an
    inventory that does not load or gives no hosts, a deploy file that does not exist.
    """
    missing = [deploy for deploy in deploys if not (cwd / deploy).is_file()]
    if missing:
        raise PyinfraError(f"no deploy file {', '.join(missing)}")
    # Without -y: pyinfra must detect the changes each operation would make.
    state = State(check_for_changes=True)
    state.cwd = str(cwd)
    config = Config()  # type: ignore[no-untyped-call]  # pyinfra leaves __init__ unannotated
    errors = HostErrors()
    with _as_pyinfra_cli(), errors.capturing(), ctx_state.use(state), ctx_config.use(config):
        # A VM inventory (inventories/vms.py) gives hosts only for the VMs it can reach; the declared VMs it could
        # not are recorded while it loads, and reported here like hosts.
        with recording_unavailable() as unavailable_vms:
            loaded = _load_inventory(inventory, cwd)
        hosts = list(loaded)
        expected = expected_states(hosts)
        unavailable = [unavailable_vm_result(vm) for vm in unavailable_vms]
        if not hosts:
            if unavailable:
                return unavailable
            # Asked to check hosts and given none: a typo in the inventory's name must not read as "no drift".
            raise InventoryError(f"{inventory} gives no hosts to check")
        config.lock_current_state()
        with ctx_inventory.use(loaded):
            state.init(loaded, config)
            try:
                return [*_check_hosts(state, hosts, expected, deploys, cwd, errors), *unavailable]
            finally:
                disconnect_all(state)


def _check_hosts(
    state: State,
    hosts: list[Host],
    expected: dict[str, ExpectedChecks],
    deploys: Sequence[str],
    cwd: Path,
    errors: HostErrors,
) -> list[HostResult]:
    state.set_stage(StateStage.Connect)
    connected, unchecked = _on_each_host(state, hosts, connect_host, errors)
    for host in connected:
        state.activate_host(host)
    state.set_stage(StateStage.Prepare)
    planned = [host for host in hosts if host in connected]
    failed_plans, refused = _plan(state, planned, deploys, cwd, errors)
    unchecked.update(failed_plans)
    plan = build_plan_json(state)
    read, failed = _on_each_host(
        state,
        [host for host in planned if host not in unchecked],
        lambda host: _expected_state_checks(state, host, expected[host.name]),
        errors,
    )
    unchecked.update(failed)
    return [
        HostResult(host.name, error=unchecked[host])
        if host in unchecked
        else HostResult(
            host.name,
            tuple([*map(plan_refusal, refused.get(host, [])), *_plan_checks(state, plan, host), *read[host]]),
        )
        for host in hosts
    ]


def exit_code(results: Sequence[HostResult]) -> int:
    """2 when any host could not be checked (the answer is incomplete), else 1 on any drift, else 0."""
    if any(result.status == "unchecked" for result in results):
        return EXIT_UNCHECKED
    if any(result.status == "drift" for result in results):
        return EXIT_DRIFT
    return EXIT_NO_DRIFT


def report_json(results: Sequence[HostResult]) -> str:
    return json.dumps(
        {
            "exit_code": exit_code(results),
            "summary": {
                status: sum(result.status == status for result in results) for status in ("ok", "drift", "unchecked")
            },
            "hosts": [
                {
                    "host": result.host,
                    "status": result.status,
                    "error": result.error,
                    "checks": [{**dataclasses.asdict(check), "ok": check.ok} for check in result.checks],
                }
                for result in results
            ],
        },
        indent=2,
    )


def report_table(results: Sequence[HostResult], show_all: bool = False) -> str:
    rows = [("HOST", "CHECK", "EXPECTED", "FOUND")]
    for result in results:
        if result.error is not None:
            rows.append((result.host, "could not be checked", "-", result.error))
            continue
        shown = [check for check in result.checks if show_all or not check.ok]
        rows += [(result.host, check.check, check.expected, check.found) for check in shown]
        if not shown:
            rows.append((result.host, f"all {len(result.checks)} checks", "match", "match"))
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3]
             for row in rows]  # fmt: skip
    summary = {status: sum(r.status == status for r in results) for status in ("ok", "drift", "unchecked")}
    lines.append(f"\n{summary['ok']} ok, {summary['drift']} drifted, {summary['unchecked']} could not be checked")
    return "\n".join(lines)
