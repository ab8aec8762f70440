"""The one place a value from the settings is made safe for whatever reads it: a shell, a cron line, a unit file,
a logrotate config.

Paths a user sets may hold spaces, quotes and ';' (``/srv/open claw``); they are never pasted into a command
or a file as they are. Control characters (a newline ends a cron line or a unit setting) are refused here as a
last line of defence; the settings model refuses them first, naming the field. Each writer below follows the
parser of the program that reads the result (named in its docstring), and refuses what that parser cannot read
back exactly.
"""

from __future__ import annotations

import json
import re
import shlex

from pyinfra.api.command import QuoteString
from pyinfra.api.exceptions import OperationValueError

# Words made only of these need no quotes in a shell, a cron line or a unit file: the file stays readable.
_PLAIN = re.compile(r"[A-Za-z0-9_@+=,./-]+")

# Inside '…': a quote ends it ('\'' writes one); a backslash is literal, then the quote is closed and reopened so
# no character of the value follows it; '%' is escaped for cron (the shell then sees a plain '%').
_CRON_QUOTED = {"'": "'\\''", "\\": "\\''", "%": "\\%"}
_CRON_FIELD = re.compile(r"[0-9*/,-]+")


def _printable(value: str | int) -> str:
    text = str(value)
    if any(ord(character) < 32 or ord(character) == 127 for character in text):
        raise OperationValueError(f"{text!r} holds a control character; it cannot be written safely")
    return text


def quoted(value: str | int) -> QuoteString:
    """A word of a pyinfra ``StringCommand``, quoted for the shell when the command is rendered."""
    return QuoteString(_printable(value))


def shell_word(value: str | int) -> str:
    """A word of a command line written into a file only a shell reads (a script)."""
    return shlex.quote(_printable(value))


def cron_word(value: str | int) -> str:
    """A word of the command of a crontab line: quoted for ``/bin/sh``, then escaped for cron itself.

    cron turns an unescaped '%' of the command into a newline (the rest becomes stdin) and drops the backslash
    of ``\\%``; Debian's cron also reads ``\\\\`` as one backslash, cronie does not. So a '%' is written ``\\%``, and
    a backslash of the value is always followed by a closing quote: cron never sees a backslash it would act on.
    """
    text = _printable(value)
    if _PLAIN.fullmatch(text):
        return text
    return "'" + "".join(_CRON_QUOTED.get(character, character) for character in text) + "'"


def cron_schedule(schedule: str) -> str:
    """The five time fields of a crontab line, one space apart; anything but digits and ``*/,-`` is refused."""
    fields = schedule.split()
    if len(fields) != 5 or not all(_CRON_FIELD.fullmatch(field) for field in fields):
        raise OperationValueError(f"{schedule!r} is not five cron fields")
    return " ".join(fields)


def systemd_word(value: str | int) -> str:
    """One word of a unit setting that splits its value into words: ``Environment=``, ``ReadWritePaths=``,
    ``BindPaths=`` (systemd.syntax(7)): double-quoted with ``\\\\`` and ``\\"`` escapes, and '%' doubled
    (specifiers are expanded in all of them). ``NAME=value`` of ``Environment=`` is one such word.
    """
    text = _printable(value)
    if _PLAIN.fullmatch(text):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'"{escaped}"'


def systemd_word_value(word: str) -> str:
    """The value of a ``systemd_word`` as written in a unit file: its quotes, escapes and doubled '%' undone."""
    if len(word) >= 2 and word[0] == word[-1] == '"':
        word = re.sub(r"\\(.)", r"\1", word[1:-1])
    return word.replace("%%", "%")


def systemd_exec_word(value: str | int) -> str:
    """An argument in ``ExecStart=``: a ``systemd_word`` with '$' doubled too (systemd expands ``$VAR`` in them)."""
    return systemd_word(value).replace("$", "$$")


def systemd_executable(path: str) -> str:
    """The program of ``ExecStart=``: a ``systemd_word``. systemd expands no ``$VAR`` in it but refuses one that
    holds a quote or a backslash ("Executable name contains special characters"): refused here first.
    """
    if any(character in path for character in "'\"\\"):
        raise OperationValueError(f"{path!r} holds a quote or a backslash; systemd refuses such a program path")
    return systemd_word(path)


def systemd_path(path: str) -> str:
    """A path that is the whole rest of a unit setting (``WorkingDirectory=``, ``EnvironmentFile=``,
    ``StandardOutput=append:``): systemd takes it as written, without unquoting, after expanding specifiers.

    So it is written bare with '%' doubled. systemd strips blanks at both ends of a line and joins a line ending in
    a backslash with the next: such a path cannot be written there and is refused.
    """
    text = _printable(path)
    if text != text.strip() or text.endswith("\\"):
        raise OperationValueError(
            f"{text!r} starts or ends with a blank or ends with a backslash; a unit file cannot hold it"
        )
    return text.replace("%", "%%")


def yaml_string(value: str | int) -> str:
    """A scalar of a YAML file (cloud-init's user-data and meta-data): a JSON string, which YAML reads as a
    double-quoted scalar with the same escapes, so no value can start a new key, list item or document."""
    return json.dumps(_printable(value))


def logrotate_path(path: str) -> str:
    """A path in the file list of a logrotate config, to which a glob such as ``/*.log`` may be appended.

    logrotate (config.c, readConfigFile) reads the list up to the first '{', splits it with popt's
    ``poptParseArgvString`` (inside double quotes only ``\\"`` is an escape, any other backslash is kept) and
    expands each word with glob(3) (backslash escapes ``*?[`` and itself). So the path is glob-escaped, then
    double-quoted with ``\\"``. '{' and '}' end or break the list wherever they stand: refused.
    """
    text = _printable(path)
    if "{" in text or "}" in text:
        raise OperationValueError(f"{text!r} holds '{{' or '}}', which logrotate cannot read in a file name")
    globbed = re.sub(r"([\\*?\[])", r"\\\1", text)
    escaped = globbed.replace('"', '\\"')
    return f'"{escaped}"'
