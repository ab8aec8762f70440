"""How an operation refuses a host: with its reason and the fix, never a traceback, and before anything changes
where it can be.

While pyinfra plans the deploy (change detection), the refusal is an ``OperationError``: pyinfra stops the run
before any operation executes and prints the message. Run with ``-y`` pyinfra plans nothing, and an exception
raised while an operation executes ends in a greenlet traceback; so then the refusal is a command that prints the
message to stderr and fails the operation (the host's last lines are the reason, as in ``verification``).
"""

from __future__ import annotations

from collections.abc import Generator

from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import OperationError
from pyinfra.context import state

from openclaw_infra.quoting import quoted


def refuse(message: str) -> Generator[StringCommand, None, None]:
    """``yield from refuse(...)`` then ``return``: refuse the host with ``message`` (the problem and its fix)."""
    if not state.is_executing:
        raise OperationError(message)
    yield StringCommand("echo", quoted(message), ">&2", "; exit 1")
