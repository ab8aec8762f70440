"""Facts read through a testinfra host, on this machine (testinfra's ``local://``): the same values the pyinfra CLI
prints for them, and pyinfra's semantics for a missing command, empty output, a failed command and refused output."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import testinfra
from pyinfra.api.command import QuoteString, StringCommand
from pyinfra.api.exceptions import FactProcessError
from pyinfra.api.facts import FactBase, ShortFactBase
from pyinfra.api.hiddenvalue import HiddenValue
from testinfra.host import Host

from openclaw_infra.expected_state import FactRequest
from openclaw_infra.host_suite.fact_reading import FactUnreadable, read_fact_value, read_printed
from tests.helpers import PROJECT_ROOT, PYINFRA


@pytest.fixture(scope="module")
def local() -> Host:
    return testinfra.get_host("local://")


def test_values_are_what_the_pyinfra_cli_prints(local: Host, tmp_path: Path) -> None:
    # A name the shell would split and a quote pyinfra must escape.
    path = tmp_path / "it's a file"
    path.write_text("content\n")
    path.chmod(0o640)
    # Access time ahead of modification time: reading the content (Sha256File) must not move it (relatime) between
    # the two reads being compared.
    os.utime(path, (time.time() + 3600, 1_000_000_000))
    # Listed by ForeignEntries: a directory of its own, since listing one moves its access time.
    tree = tmp_path / "tree"
    tree.mkdir()
    requests = [
        FactRequest("files.File", (("path", str(path)),)),
        FactRequest("files.File", (("path", str(tmp_path / "absent")),)),
        FactRequest("files.Directory", (("path", str(tmp_path)),)),
        FactRequest("files.Sha256File", (("path", str(path)),)),
        FactRequest("openclaw_infra.facts.installed_versions.NodeVersion", (("path", "/nonexistent/bin/node"),)),
        FactRequest("openclaw_infra.facts.accounts.GroupMembers", (("group", "root"),)),
        # One of ours with several arguments (a health check would do, but its answer holds how long it waited).
        FactRequest(
            "openclaw_infra.facts.file_tree.ForeignEntries",
            (("path", str(tree)), ("user", "root"), ("group", "root")),
        ),
    ]
    words = [word for request in requests for word in request.cli_words()]
    cli = subprocess.run(
        [PYINFRA, "@local", "fact", *words, "--json"],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120, check=True,
    )  # fmt: skip
    printed = [by_host["@local"] for by_host in json.loads(cli.stdout).values()]
    assert printed[0]["mode"] == 640 and printed[1] is None  # the CLI read what the test set up
    assert [read_printed(local, request) for request in requests] == printed


class _Fact(FactBase[Any]):
    """A fact of the test's own: its command is given per test."""

    shell_command: Any = "true"

    def command(self) -> Any:
        return self.shell_command

    def process(self, output: list[str]) -> Any:
        return output


class MissingTool(_Fact):
    shell_command = "echo never-run"

    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "openclaw-no-such-tool"

    @staticmethod
    def default() -> Any:
        return "default"


class PrintsNothing(_Fact):
    shell_command = "true"

    @staticmethod
    def default() -> Any:
        return []


class Fails(_Fact):
    shell_command = "echo half an answer; echo no such gateway >&2; exit 3"


class Refused(_Fact):
    shell_command = "echo garbage"

    def process(self, output: list[str]) -> Any:
        raise FactProcessError(f"cannot read {output[0]!r}")


class HiddenArgument(_Fact):
    # Unmasked when sent, and quoted: the shell must neither split it nor expand it.
    shell_command = StringCommand("printf", "'%s\\n'", QuoteString(HiddenValue("it's $HOME")), "' second line'")


class LineCount(ShortFactBase):
    fact = HiddenArgument

    def process_data(self, data: list[str]) -> int:
        return len(data)


class WithPreconditions(_Fact):
    def check_preconditions(self, state: Any, host: Any) -> str | None:
        return None


def test_short_facts_reshape_the_fact_they_stand_for(local: Host) -> None:
    assert read_fact_value(local, LineCount, {}) == 2


def test_facts_with_preconditions_are_refused(local: Host) -> None:
    # Their preconditions read other facts through a pyinfra host: refused rather than skipped.
    with pytest.raises(FactUnreadable, match="facts with preconditions cannot be read through testinfra"):
        read_fact_value(local, WithPreconditions, {})


def test_missing_required_command_gives_the_default(local: Host) -> None:
    assert read_fact_value(local, MissingTool, {}) == "default"


def test_no_output_gives_the_default(local: Host) -> None:
    assert read_fact_value(local, PrintsNothing, {}) == []


def test_failed_command_is_unreadable_with_its_error(local: Host) -> None:
    with pytest.raises(FactUnreadable, match=r"could not load fact .*Fails: no such gateway"):
        read_fact_value(local, Fails, {})


def test_refused_output_is_unreadable(local: Host) -> None:
    with pytest.raises(FactUnreadable, match=r"could not process fact .*Refused: cannot read 'garbage'"):
        read_fact_value(local, Refused, {})


def test_hidden_values_are_sent_unmasked_and_quoted(local: Host) -> None:
    assert read_fact_value(local, HiddenArgument, {}) == ["it's $HOME", " second line"]
