"""A whole deploy planned and "executed" against fixture facts, no host needed: the deploy-level counterpart of the
operation fixtures, for the models that cannot run here (a Mac).

The deploy runs on a real pyinfra ``State`` with one host whose facts come from a fixture (keyed as in the
operation fixtures). Then each operation is executed in order the way pyinfra executes it, ``_if`` conditions
included, except that its commands are collected instead of run: the facts stay those of the fixture, so a
"fresh" fixture shows what a first run does, and a fixture of a host as deployed must plan no command at all.
The verification at the end reads the facts of the host after the run (``facts_after_the_run``), as it does on a
real host.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest.mock import patch

from pyinfra.api import Config, Inventory, State
from pyinfra.api.command import FileUploadCommand, FunctionCommand, PyinfraCommand, StringCommand
from pyinfra.api.host import Host
from pyinfra.api.state import StateStage
from pyinfra.context import ctx_host, ctx_state
from pyinfra_testing import util

from tests.fake_facts import batched_fact, fixture_facts

HOST_NAME = "mac1"


@dataclasses.dataclass
class PlannedOperation:
    name: str
    commands: list[Any]
    noop: str | None


def command_json(command: PyinfraCommand) -> Any:
    """A command as a fixture holds it: the shell text (masked where it hides a value), an upload as its target
    and the SHA-256 of its content (the content may be a secret: it is never written into a fixture)."""
    if isinstance(command, StringCommand):
        return command.get_masked_value()
    if isinstance(command, FileUploadCommand):
        source = command.src
        source.seek(0)  # type: ignore[union-attr]
        data = source.read()  # type: ignore[union-attr]
        content = data if isinstance(data, bytes) else data.encode()
        return ["upload", command.dest, f"sha256 {hashlib.sha256(content).hexdigest()}"]
    if isinstance(command, FunctionCommand):
        return ["function", getattr(command.function, "__name__", str(command.function))]
    raise TypeError(f"unexpected command {command!r}")


def raw_text(command: PyinfraCommand) -> str:
    """What would reach the host's shell or process list: the command's unmasked text ('' for an upload)."""
    return command.get_raw_value() if isinstance(command, StringCommand) else ""


def _plain(value: Any) -> Any:
    """A fake fact's value as JSON data that reads as a record too (``value.path`` and ``value["path"]``): what a
    deploy hands on (the verification prints values as pyinfra's ``--json`` does) must be plain data."""
    if isinstance(value, util.FakeFact):
        return util._wrap_fact_value(value.__dict__.get("data"))
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


@contextmanager
def _facts_from(facts_by_phase: Callable[[], Mapping[str, Any]], noops: list[str]) -> Iterator[None]:
    def get_fact(self: Host, fact_cls: Any, *args: Any, **kwargs: Any) -> Any:
        fake = util.FakeHost(None, self.name, dict(facts_by_phase()), self.data)
        return _plain(batched_fact(fake, fact_cls, *args, **kwargs))

    def noop(self: Host, description: str) -> None:
        noops.append(description)

    with fixture_facts(), patch.object(Host, "get_fact", get_fact), patch.object(Host, "noop", noop):
        yield


def run_deploy(
    deploy: Callable[[], None],
    host_data: Mapping[str, Any],
    facts: Mapping[str, Any],
    facts_after_the_run: Mapping[str, Any] | None = None,
    verify_operation: str | None = None,
) -> tuple[list[PlannedOperation], list[str]]:
    """Plan ``deploy`` for one host with ``host_data``, then execute it against ``facts``; the operation named
    ``verify_operation`` reads ``facts_after_the_run`` instead. Returns each operation with the commands it ran
    (or the reason it ran none), and every command's raw text."""
    inventory = Inventory(([(HOST_NAME, dict(host_data))], {}))
    state = State(inventory=inventory, config=Config())
    host = inventory.get_host(HOST_NAME)
    state.active_hosts = {host}
    state.activated_hosts = {host}
    phase = {"facts": facts}
    noops: list[str] = []
    with _facts_from(lambda: phase["facts"], noops), ctx_state.use(state), ctx_host.use(host):
        state.set_stage(StateStage.Prepare)
        deploy()
        state.set_stage(StateStage.Execute)
        state.is_executing = True
        planned, raw = [], []
        for op_hash in state.get_op_order():
            meta = state.get_op_meta(op_hash)
            name = ", ".join(meta.names)
            if verify_operation and name.endswith(verify_operation) and facts_after_the_run is not None:
                phase["facts"] = facts_after_the_run
            data = state.get_op_data_for_host(host, op_hash)
            noops.clear()
            commands = list(data.command_generator())
            data.operation_meta.set_complete(True, commands, None)  # type: ignore[arg-type]
            conditions = data.global_arguments.get("_if") or []
            conditions = conditions if isinstance(conditions, list) else [conditions]
            skipped = not all(condition() for condition in conditions)
            reason = "skipped: its _if is false" if skipped else (noops[-1] if noops else None)
            planned.append(PlannedOperation(name, [command_json(command) for command in commands], reason))
            raw += [raw_text(command) for command in commands]
            phase["facts"] = facts
    return planned, raw


SCENARIOS_ROOT = Path(__file__).resolve().parent / "fixtures" / "deploys"
SCENARIO_FILES = {"scenario.json", "fresh_facts.json", "deployed_facts.json", "fresh_run.json"}


@dataclasses.dataclass(frozen=True)
class Scenarios:
    """The scenarios of one deploy under ``tests/fixtures/deploys/<folder>/<scenario>/``: ``scenario.json`` (the
    inventory data, the environment its secret sources read, where the facts come from), the facts of a fresh
    host and of the host as deployed (also what the verification reads after a run), and ``fresh_run.json``."""

    folder: str
    deploy: Callable[[], None]
    verify_operation: str

    @property
    def root(self) -> Path:
        return SCENARIOS_ROOT / self.folder

    def names(self) -> list[str]:
        return sorted(path.name for path in self.root.iterdir() if path.is_dir())

    def load(self, scenario: str, name: str) -> Any:
        return json.loads((self.root / scenario / name).read_text())

    def run(
        self, scenario: str, facts: Mapping[str, Any], after: Mapping[str, Any] | None = None
    ) -> tuple[list[PlannedOperation], list[str]]:
        """The deploy on ``facts``; its verification reads ``after`` (default: the deployed facts)."""
        return run_deploy(
            self.deploy,
            self.load(scenario, "scenario.json")["host_data"],
            facts,
            facts_after_the_run=self.load(scenario, "deployed_facts.json") if after is None else after,
            verify_operation=self.verify_operation,
        )

    def deployed_with(self, scenario: str, **changes: Any) -> dict[str, Any]:
        """The deployed facts with ``changes``: ``"fact|key"`` for one argument's value, ``"fact"`` for all."""
        facts: dict[str, Any] = copy.deepcopy(self.load(scenario, "deployed_facts.json"))
        for fact_and_key, value in changes.items():
            fact, _, key = fact_and_key.partition("|")
            if key:
                facts[fact][key] = value
            else:
                facts[fact] = value
        return facts


def as_json(planned: list[PlannedOperation]) -> list[dict[str, Any]]:
    """What ``fresh_run.json`` holds: each operation's name (without the deploy's), commands, or why none."""
    return [{"name": op.name.rpartition(" | ")[2], "commands": op.commands, "noop": op.noop} for op in planned]


def changing(planned: list[PlannedOperation]) -> dict[str, list[Any]]:
    """The operations that ran a command, by name."""
    return {op.name.rpartition(" | ")[2]: op.commands for op in planned if op.commands}
