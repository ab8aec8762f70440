"""Read a pyinfra fact through a testinfra host: the fact's own command, run as pyinfra would run it, parsed by the
fact's own ``process``, in the JSON form ``pyinfra … fact … --json`` prints (what ``ExpectedState.checks`` takes).
"""

from __future__ import annotations

from typing import Any, Protocol

from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import FactProcessError
from pyinfra.api.facts import _MISSING_COMMAND_MARKER, FactBase, ShortFactBase
from pyinfra.connectors.util import make_unix_command

from openclaw_infra.expected_state import FactRequest, as_printed


class CommandResult(Protocol):
    rc: int
    stdout: str
    stderr: str


class CommandRunner(Protocol):
    """What this module needs of a ``testinfra.host.Host``: ``run`` a shell command (through sudo with ``--sudo``)."""

    def run(self, command: str, *args: str, **kwargs: Any) -> CommandResult: ...


class FactUnreadable(RuntimeError):
    """A fact whose command failed or whose output its parser refused: the host cannot be checked, as when
    pyinfra says "could not load fact" / "could not process fact"."""


def _made(command: Any, kwargs: dict[str, Any]) -> Any:
    # A fact's command (and requires_command) is a method of its arguments or a plain attribute, as in pyinfra.
    return command(**kwargs) if callable(command) else command


def fact_shell_command(fact: FactBase[Any], kwargs: dict[str, Any]) -> str:
    """The shell string pyinfra's ``get_fact`` would hand its connector for ``fact`` (no sudo: the testinfra host
    adds its own). A fact with ``requires_command`` runs inside pyinfra's guard, which prints the missing-command
    marker instead of failing when that binary is absent."""
    command = _made(fact.command, kwargs)
    required = _made(fact.requires_command, kwargs)
    if required:
        # pyinfra.api.facts._get_fact builds this guard inline; these are its words.
        command = StringCommand(
            "if", "command", "-v", required, ">/dev/null", "2>&1;",
            "then", "(", command, ");",
            "else", "echo", f"'{_MISSING_COMMAND_MARKER}';", "fi",
        )  # fmt: skip
    if not isinstance(command, StringCommand):
        command = StringCommand(command)
    # pyinfra's own wrapping (``sh -c '…'``, or the fact's shell_executable) and quoting; HiddenValues unmasked,
    # as pyinfra sends them.
    return str(make_unix_command(command, _shell_executable=fact.shell_executable or "sh").get_raw_value())


def _output_lines(text: str) -> list[str]:
    # As pyinfra reads a command's output: one entry per line, its newline removed.
    lines = text.split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def read_fact_value(host: CommandRunner, fact_class: type[Any], kwargs: dict[str, Any]) -> Any:
    """``fact_class``'s value on ``host`` with pyinfra's semantics: its default when the command it requires is
    missing or it printed nothing; ``FactUnreadable`` when the command failed or ``process`` refused its output."""
    if issubclass(fact_class, ShortFactBase):
        # pyinfra reads the fact a short fact stands for, then lets it reshape the value.
        return fact_class().process_data(read_fact_value(host, fact_class.fact, kwargs))  # type: ignore[no-untyped-call]
    fact: FactBase[Any] = fact_class()
    if type(fact).check_preconditions is not FactBase.check_preconditions:
        # Its preconditions read other facts through a pyinfra host, which this reader does not have.
        raise FactUnreadable(f"{fact.name}: facts with preconditions cannot be read through testinfra")
    described = f"{fact.name} {kwargs}" if kwargs else fact.name
    result = host.run(fact_shell_command(fact, kwargs))
    if result.rc != 0:
        why = result.stderr.strip().splitlines()[-1:] or [f"exit {result.rc}"]
        raise FactUnreadable(f"could not load fact {described}: {why[0]}")
    lines = _output_lines(result.stdout)
    if not lines or lines == [_MISSING_COMMAND_MARKER]:
        return fact.default()
    try:
        return fact.process(lines)
    except FactProcessError as error:
        raise FactUnreadable(f"could not process fact {described}: {error}") from None


def read_printed(host: CommandRunner, request: FactRequest) -> Any:
    """The value of ``request`` on ``host`` as ``pyinfra … fact … --json`` prints it."""
    fact_class, kwargs = request.resolve()
    return as_printed(read_fact_value(host, fact_class, kwargs))
