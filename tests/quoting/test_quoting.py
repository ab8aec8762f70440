"""openclaw_infra.quoting: each writer read back by the program (or a faithful model of the parser) it writes for."""

from __future__ import annotations

import re
import shlex
import subprocess

import pytest
from pyinfra.api.command import StringCommand
from pyinfra.api.exceptions import OperationValueError

from openclaw_infra import quoting
from tests.quoting.readers import cron_decode

# Every character a user-set path may hold that a reader treats specially somewhere.
NASTY = [
    "/srv/open claw;touch x",
    '/srv/it\'s "open" claw',
    "/srv/$HOME `id` $(id) %h %% 100%",
    "/srv/back\\slash\\\\ and \\% and \\' and \\\"",
    "/srv/trailing\\",
    "/srv/glob * ? [a] ~ # ! & | < > ( ) { } = :",
    "/srv/ünïcode",
]
WRITERS = [
    quoting.shell_word,
    quoting.cron_word,
    quoting.systemd_word,
    quoting.systemd_exec_word,
    quoting.systemd_path,
    quoting.logrotate_path,
    quoting.systemd_executable,
    lambda value: str(StringCommand(quoting.quoted(value))),
]


def sh_argv(command_line: str) -> list[str]:
    """The words /bin/sh makes of ``command_line`` (as printf sees its arguments)."""
    result = subprocess.run(["sh", "-c", f"printf '%s\\0' {command_line}"], capture_output=True, check=True, text=True)
    return result.stdout.split("\0")[:-1]


@pytest.mark.parametrize("value", NASTY)
def test_shell_words_reach_the_command_as_one_argument(value: str) -> None:
    assert sh_argv(quoting.shell_word(value)) == [value]
    assert sh_argv(str(StringCommand("", quoting.quoted(value)))) == [value]
    assert shlex.split(quoting.shell_word(value)) == [value]


def test_plain_words_stay_readable() -> None:
    for writer in (quoting.shell_word, quoting.cron_word, quoting.systemd_word, quoting.systemd_exec_word):
        assert writer("/opt/node-v24.21.0/bin") == "/opt/node-v24.21.0/bin"


@pytest.mark.parametrize("debian", [True, False], ids=["debian-cron", "cronie"])
@pytest.mark.parametrize("value", NASTY)
def test_cron_words_survive_cron_then_the_shell(value: str, debian: bool) -> None:
    word = quoting.cron_word(value)
    assert re.search(r"(?<!\\)%", word) is None, "an unescaped % would end the command"
    assert "\\\\" not in word, "cron implementations disagree about a doubled backslash"
    assert sh_argv(cron_decode(f"{word} {word}", debian=debian)) == [value, value]


def test_cron_schedule_is_five_fields() -> None:
    assert quoting.cron_schedule(" 0  4 * * 1-5 ") == "0 4 * * 1-5"
    for bad in ("0 4 * *", "0 4 * * * *", "@daily", "0 4 * * mon", "0 4 * * %"):
        with pytest.raises(OperationValueError, match="is not five cron fields"):
            quoting.cron_schedule(bad)


def test_systemd_words_are_double_quoted_with_escapes_and_doubled_specifiers() -> None:
    assert quoting.systemd_word("HOME=/srv/open claw;x") == '"HOME=/srv/open claw;x"'
    assert quoting.systemd_word('/a "b" \\c %h $X') == '"/a \\"b\\" \\\\c %%h $X"'
    assert quoting.systemd_exec_word('/a "b" %h $X') == '"/a \\"b\\" %%h $$X"'
    assert quoting.systemd_executable("/srv/n o;d%e$x/node") == '"/srv/n o;d%%e$x/node"'


@pytest.mark.parametrize("value", ["/srv/it's", '/srv/"x"', "/srv/back\\slash"])
def test_systemd_refuses_a_program_path_it_cannot_run(value: str) -> None:
    with pytest.raises(OperationValueError, match="systemd refuses such a program path"):
        quoting.systemd_executable(value)


def test_systemd_path_is_the_bare_rest_of_the_line() -> None:
    assert quoting.systemd_path('/srv/it\'s "open" claw;x %h $X') == '/srv/it\'s "open" claw;x %%h $X'
    for bad in ("/srv/trailing ", " /srv/leading", "/srv/continued\\"):
        with pytest.raises(OperationValueError, match="a unit file cannot hold it"):
            quoting.systemd_path(bad)


def test_logrotate_path_escapes_glob_and_quotes() -> None:
    assert quoting.logrotate_path("/srv/a b'c\"d*e\\f") == '"/srv/a b\'c\\"d\\*e\\\\f"'
    for bad in ("/srv/{x", "/srv/x}"):
        with pytest.raises(OperationValueError, match="which logrotate cannot read"):
            quoting.logrotate_path(bad)


@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("bad", ["/srv/new\nline", "/srv/tab\there", "/srv/cr\r", "/srv/nul\0", "/srv/del\x7f"])
def test_control_characters_are_refused_by_every_writer(writer: object, bad: str) -> None:
    with pytest.raises(OperationValueError, match="control character"):
        writer(bad)  # type: ignore[operator]
