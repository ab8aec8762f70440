"""The one place a value from the settings is made safe for whatever reads it: a shell, a cron line, a unit file.

Paths a user sets may hold spaces, quotes and ';' (``/srv/open claw``); they are never pasted into a command
or a file as they are. Control characters (a newline ends a cron line or a unit setting) are refused here as a
last line of defence; the settings model refuses them first, naming the field.
"""

from __future__ import annotations

import shlex

from pyinfra.api.command import QuoteString
from pyinfra.api.exceptions import OperationValueError


def _printable(value: str) -> str:
    if any(ord(character) < 32 or ord(character) == 127 for character in value):
        raise OperationValueError(f"{value!r} holds a control character; it cannot be written safely")
    return value


def quoted(value: str | int) -> QuoteString:
    """A word of a pyinfra ``StringCommand``, quoted for the shell when the command is rendered."""
    return QuoteString(_printable(str(value)))


def shell_word(value: str | int) -> str:
    """A word of a command line written into a file a shell reads (a cron line, a script)."""
    return shlex.quote(_printable(str(value)))
