"""Several facts read with one remote command: each costs a round trip over SSH, and a no-op deploy is mostly
fact reads.

``read_facts((File, {"path": p}), (Sha256File, {"path": p}))`` gives the values the facts would return one by one:
each fact's own command runs (in a subshell, in order), and its output goes through its own ``process``, or its
``default`` where pyinfra would return that (no output, or the binary it requires absent).

What ``read_facts`` read is remembered for the run while no operation has run a command on the host since (pyinfra
3.10 caches no facts): ``reuse=True`` takes those values instead of reading again. The deploy's verification
uses it, so after a run that changed nothing it reads only what no operation read before it (health, listening
sockets, unit state). Values read while a deploy is planned are never carried into its execution.
"""

from __future__ import annotations

import json
import re
import weakref
from collections.abc import Mapping, Sequence
from importlib import import_module
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import FactProcessError, OperationError
from pyinfra.api.facts import FactBase
from pyinfra.context import ctx_host, ctx_state, host
from typing_extensions import override

from openclaw_infra.quoting import quoted

MARKER = "##openclaw-fact-end"
# What pyinfra's own guard prints when a fact's required binary is missing (pyinfra.api.facts).
MISSING_COMMAND = "##PYINFRA_NOCMD##"
_END = re.compile(rf"^{MARKER} (\S+) (\d+)$")

FactAndArguments = tuple[type[FactBase[Any]], Mapping[str, Any]]


def fact_name(fact_class: type[FactBase[Any]]) -> str:
    """``files.File`` for pyinfra's facts (as its CLI names them), the full path for ours."""
    return f"{fact_class.__module__.removeprefix('pyinfra.facts.')}.{fact_class.__name__}"


def fact_class(name: str) -> type[FactBase[Any]]:
    """The fact ``name`` names (``files.File``, ``openclaw_infra.facts.ports.ListeningPorts``)."""
    module, _, class_name = name.rpartition(".")
    if not module.startswith("openclaw_infra.facts."):
        module = f"pyinfra.facts.{module}"
    found = getattr(import_module(module), class_name, None)
    if not (isinstance(found, type) and issubclass(found, FactBase)):
        raise TypeError(f"{name!r} is not a fact")
    return found


def _section(name: str, fact: FactBase[Any], kwargs: Mapping[str, Any]) -> StringCommand:
    command = fact.command(**kwargs) if callable(fact.command) else fact.command
    required = fact.requires_command(**kwargs)
    if required:
        # pyinfra's own guard, so a missing binary gives the fact's default as it would alone.
        body = StringCommand(
            "if command -v", required, ">/dev/null 2>&1; then (", command, "); else echo",
            quoted(MISSING_COMMAND), "; fi",
        )  # fmt: skip
    else:
        body = StringCommand("(", command, ")")
    # The newline first: a fact whose output does not end in one still ends before the marker.
    return StringCommand(body, "; printf", quoted(f"\\n{MARKER} %s %s\\n"), quoted(name), '"$?"')


class FactBatch(FactBase[list[tuple[str, Any]]]):
    """
    Facts read in one command, in order: ``facts`` is ``[[name, {argument: value}], …]`` with names as pyinfra's
    CLI writes them (``files.File``, ``openclaw_infra.facts.ports.ListeningPorts``). Returns ``[[name, value],
    …]``. A fact that exits non-zero fails the read, as it would alone.

    Runs ``( <each fact's command> ); printf '\\n##openclaw-fact-end %s %s\\n' <name> "$?"`` for each fact.

    .. code:: python

        [["files.File", {"user": "root", "group": "root", "mode": 600, …}], ["files.Sha256File", "9f86…"]]
    """

    # Several of pyinfra's facts keep what their command was built from for their process (Sha256File keeps
    # its path), so each part is parsed by the instance that built its command, as pyinfra does for one fact.
    _parts: list[tuple[str, FactBase[Any]]]

    @staticmethod
    @override
    def default() -> list[tuple[str, Any]]:
        return []

    @override
    def command(self, facts: Sequence[Sequence[Any]]) -> StringCommand:
        self._parts = [(name, fact_class(name)()) for name, _ in facts]
        sections = [_section(name, fact, kwargs) for (name, fact), (_, kwargs) in zip(self._parts, facts, strict=True)]
        return StringCommand(*(part for section in sections for part in (section, ";")))

    @override
    def process(self, output: list[str]) -> list[tuple[str, Any]]:
        parts = iter(self._parts)
        values: list[tuple[str, Any]] = []
        lines: list[str] = []
        for line in output:
            end = _END.match(line)
            if not end:
                lines.append(line)
                continue
            name, status = end.groups()
            expected, fact = next(parts, (None, None))
            if fact is None or name != expected:
                raise FactProcessError(f"cannot read fact batch output line {line!r} (expected the end of {expected})")
            if lines and lines[-1] == "":
                lines.pop()  # the newline printed before the marker
            if status != "0":
                raise FactProcessError(f"fact {name} exited {status}: {' '.join(lines)[:200]!r}")
            if not lines or lines == [MISSING_COMMAND]:
                values.append((name, fact.default()))
            else:
                values.append((name, fact.process(lines)))
            lines = []
        missing = [name for name, _ in parts]
        if lines or missing:
            raise FactProcessError(f"cannot read fact batch output: it ends before the end of {missing or lines[-1:]}")
        return values


# Per pyinfra state, per host: (fact name, arguments) -> (epoch it was read in, value).
_remembered: weakref.WeakKeyDictionary[Any, dict[str, dict[tuple[str, str], tuple[tuple[bool, int], Any]]]] = (
    weakref.WeakKeyDictionary()
)


def _epoch() -> tuple[bool, int] | None:
    """What a remembered value is valid for: the phase (planning or executing) and how many of the host's
    operations have run commands so far. ``None`` where there is no real run to remember for (operation tests)."""
    current_state, current_host = ctx_state.get(), ctx_host.get()  # type: ignore[no-untyped-call]
    operations = getattr(current_state, "ops", None)
    if not isinstance(operations, dict) or current_host not in operations:
        return None
    changed = sum(1 for data in operations[current_host].values() if data.operation_meta.executed)
    return bool(current_state.is_executing), changed


def read_facts(*requests: FactAndArguments, reuse: bool = False) -> list[Any]:
    """The values of ``requests`` (fact class, keyword arguments) for the current host, read in one command;
    with ``reuse``, values this run read while nothing has changed the host since are taken as they are."""
    epoch = _epoch()
    memory = None
    if epoch is not None:
        memory = _remembered.setdefault(ctx_state.get(), {}).setdefault(host.name, {})  # type: ignore[no-untyped-call]
    keys = [(fact_name(fact), json.dumps(kwargs, sort_keys=True, default=str)) for fact, kwargs in requests]
    values: list[Any] = [None] * len(requests)
    wanted = []
    for index, key in enumerate(keys):
        found = memory.get(key) if memory is not None and reuse else None
        if found is not None and found[0] == epoch:
            values[index] = found[1]
        else:
            wanted.append(index)
    if not wanted:
        return values
    names = [keys[index][0] for index in wanted]
    batch = [[keys[index][0], dict(requests[index][1])] for index in wanted]
    answered = host.get_fact(FactBatch, facts=batch)
    # Empty: pyinfra could not read the batch (it has said why and failed the host).
    if [name for name, _ in answered] != names:
        raise OperationError(f"could not read the facts {', '.join(names)}")
    for index, (_, value) in zip(wanted, answered, strict=True):
        values[index] = value
        if memory is not None and epoch is not None:
            memory[keys[index]] = (epoch, value)
    return values
