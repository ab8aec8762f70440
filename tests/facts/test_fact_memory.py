"""read_facts remembers what it read for the rest of a run while no operation changes the host: a real pyinfra
run through its API on this machine (@local), counting the commands pyinfra sends."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from pyinfra.api import Config, Inventory, State
from pyinfra.api.connect import connect_all
from pyinfra.api.operation import add_op, operation
from pyinfra.api.operations import run_ops
from pyinfra.connectors.local import LocalConnector
from pyinfra.context import host
from pyinfra.context import state as context_state
from pyinfra.facts.files import File
from pyinfra.operations import files

from openclaw_infra.facts.batch import read_facts


@operation()
def look(path: str, reuse: bool, seen: list[tuple[bool, Any, int]]) -> Generator[str, None, None]:
    """Reads File(path) and notes (executing, value, commands sent for it)."""
    before = _sent[0]
    (found,) = read_facts((File, {"path": path}), reuse=reuse)
    seen.append((context_state.is_executing, found, _sent[0] - before))
    host.noop("looked")
    yield from ()


_sent = [0]


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> None:
    original = LocalConnector.run_shell_command

    def counting(self: LocalConnector, *args: Any, **kwargs: Any) -> Any:
        _sent[0] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LocalConnector, "run_shell_command", counting)


def _state() -> State:
    state = State(Inventory((["@local"], {})), Config())
    connect_all(state)
    return state


def _executed(seen: list[tuple[bool, Any, int]]) -> list[tuple[Any, int]]:
    return [(value, sent) for executing, value, sent in seen if executing]


def test_read_again_after_no_change_is_taken_from_memory(tmp_path: Path, counted: None) -> None:
    target = str(tmp_path / "file")
    seen: list[tuple[bool, Any, int]] = []
    state = _state()
    add_op(state, look, path=target, reuse=False, seen=seen)
    add_op(state, files.directory, path=str(tmp_path))  # already there: runs no command
    add_op(state, look, path=target, reuse=True, seen=seen)
    run_ops(state)
    assert _executed(seen) == [(None, 1), (None, 0)]


def test_read_again_after_an_operation_ran_a_command(tmp_path: Path, counted: None) -> None:
    target = str(tmp_path / "file")
    seen: list[tuple[bool, Any, int]] = []
    state = _state()
    add_op(state, look, path=target, reuse=False, seen=seen)
    add_op(state, files.file, path=target)  # creates it
    add_op(state, look, path=target, reuse=True, seen=seen)
    run_ops(state)
    (before, first_sent), (after, second_sent) = _executed(seen)
    assert before is None and first_sent == 1
    assert after and after["size"] == 0 and second_sent == 1


def test_what_was_read_while_planning_is_read_again_when_executing(tmp_path: Path, counted: None) -> None:
    target = tmp_path / "file"
    seen: list[tuple[bool, Any, int]] = []
    state = _state()
    add_op(state, look, path=str(target), reuse=True, seen=seen)
    planned = [value for executing, value, _ in seen if not executing]
    # Changed behind pyinfra's back between planning and execution: execution must see it.
    target.write_text("made between plan and run\n")
    run_ops(state)
    assert planned == [None]
    ((value, sent),) = _executed(seen)
    assert value and value["size"] == len("made between plan and run\n") and sent == 1


def test_without_reuse_every_read_goes_to_the_host(tmp_path: Path, counted: None) -> None:
    target = str(tmp_path / "file")
    seen: list[tuple[bool, Any, int]] = []
    state = _state()
    add_op(state, look, path=target, reuse=False, seen=seen)
    add_op(state, look, path=target, reuse=False, seen=seen)
    run_ops(state)
    assert [sent for _, sent in _executed(seen)] == [1, 1]
