"""The link's callback (``operations.signal_cli._link_awaited``): what it reads from the running ``signal-cli link``,
what it puts in front of the operator and when it gives up. Linking needs a phone, so it runs here against a fake
host that answers as the transient unit would, with the lines signal-cli 0.14.5 prints (``LinkCommand``: the URI,
then ``Associated with: <number>``; ``Main.handleCommandException``: the error's message alone, on stderr, which
the unit sends to the same file)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pytest
from pyinfra.api.exceptions import OperationError

from openclaw_infra.operations.signal_cli import URI_WAIT_SECONDS, LinkProgress, _link_awaited

ACCOUNT = "+4917662882151"
# DeviceLinkUrl.createDeviceLinkUri: the provisioning id and the device's public key, URL-encoded, '=' dropped.
URI = "sgnl://linkdevice?uuid=8uYjxzuqRW-H1m6qgzW_kw&pub_key=BcM5d6BuLZ2Q%2Bc%2FfFQDcAR1NwnZcp0Z%2BtwOkqJGbeXE1"
UNIT = "openclaw-signal-link-home-openclaw-openclaw-signal-cli.service"
OUTPUT = "/run/openclaw-infra/openclaw-signal-link-home-openclaw-openclaw-signal-cli.out"
CONFIG = "/home/openclaw/.openclaw/signal-cli"
ACCOUNTS_LINKED = [
    "{",
    '  "accounts" : [ {',
    '    "path" : "614226",',
    '    "environment" : "LIVE",',
    f'    "number" : "{ACCOUNT}",',
    '    "uuid" : "768dcc44-526f-4ede-af80-d5cf58c892da"',
    "  } ],",
    '  "version" : 2',
    "}",
    "",
    '##account-file 614226 "registered" : true',
]


@dataclass
class Result:
    stdout_lines: list[str]


@dataclass
class FakeHost:
    """Each read of the link's output answers the next of ``outputs`` (the last one repeats); ``accounts`` is what
    the accounts fact prints at the end."""

    outputs: list[tuple[list[str], str]]
    accounts: list[str] = field(default_factory=lambda: list(ACCOUNTS_LINKED))
    name: str = "gw"
    commands: list[str] = field(default_factory=list)
    reads: int = 0

    def run_shell_command(self, command: Any, **arguments: Any) -> tuple[bool, Result]:
        text = command.get_raw_value()
        self.commands.append(text)
        if text.startswith("cat "):
            lines, state = self.outputs[min(self.reads, len(self.outputs) - 1)]
            self.reads += 1
            return True, Result([*lines, "", state])
        if "accounts.json" in text:
            return True, Result(self.accounts)
        return True, Result([])


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def awaited(host: FakeHost, timeout: int = 300) -> Clock:
    clock = Clock()
    _link_awaited(None, host, {}, ACCOUNT, UNIT, OUTPUT, CONFIG, timeout, clock=clock, sleep=clock.sleep)
    return clock


def test_the_uri_is_shown_then_the_phones_confirmation_awaited(caplog: pytest.LogCaptureFixture) -> None:
    host = FakeHost(
        outputs=[
            ([], "activating"),
            ([URI], "active"),
            ([URI], "active"),
            ([URI, f"Associated with: {ACCOUNT}"], "inactive"),
        ]
    )
    with caplog.at_level(logging.INFO):
        awaited(host)
    shown = [record.getMessage() for record in caplog.records if URI in record.getMessage()]
    assert len(shown) == 1 and "Linked devices" in shown[0] and "within 300 s" in shown[0]
    assert any(f"signal-cli is linked to {ACCOUNT}" in record.getMessage() for record in caplog.records)
    # Read until confirmed, never stopped.
    assert host.reads == 4 and not any(command.startswith("systemctl stop") for command in host.commands)
    assert host.commands[0] == f"cat {OUTPUT} 2>/dev/null; echo; systemctl is-active {UNIT}"


def test_a_link_the_phone_never_scans_is_stopped_at_the_timeout() -> None:
    host = FakeHost(outputs=[([URI], "active")])
    with pytest.raises(OperationError, match="the phone did not scan the link within 120 s; it was stopped"):
        awaited(host, timeout=120)
    assert host.commands[-1] == f"systemctl stop {UNIT} 2>/dev/null; true"


def test_signal_clis_own_error_is_quoted_when_it_gives_up() -> None:
    host = FakeHost(outputs=[([URI], "active"), ([URI, "Link request timed out, please try again."], "failed")])
    with pytest.raises(OperationError, match="stopped before the phone confirmed the link: Link request timed out"):
        awaited(host)


def test_no_uri_at_all_fails_naming_what_signal_cli_said() -> None:
    said = "Error: Could not find or load main class org.asamk.signal.Main"
    host = FakeHost(outputs=[([said], "failed")])
    with pytest.raises(OperationError, match=f"printed no link URI \\(it said: {said}\\)"):
        awaited(host)


def test_a_jvm_that_never_prints_the_uri_is_given_up_on() -> None:
    host = FakeHost(outputs=[([], "active")])
    with pytest.raises(OperationError, match="printed no link URI"):
        clock = Clock()
        try:
            _link_awaited(None, host, {}, ACCOUNT, UNIT, OUTPUT, CONFIG, 300, clock=clock, sleep=clock.sleep)
        finally:
            assert URI_WAIT_SECONDS <= clock.now < URI_WAIT_SECONDS + 5


def test_a_phone_of_another_number_is_refused() -> None:
    host = FakeHost(outputs=[([URI, "Associated with: +46701234567"], "inactive")])
    with pytest.raises(OperationError, match="the phone that scanned is \\+46701234567's, not \\+4917662882151's"):
        awaited(host)


def test_a_link_that_left_no_registered_account_fails() -> None:
    unregistered = [*ACCOUNTS_LINKED[:-1], '##account-file 614226 "registered" : false']
    host = FakeHost(outputs=[([URI, f"Associated with: {ACCOUNT}"], "inactive")], accounts=unregistered)
    with pytest.raises(OperationError, match="holds no registered account"):
        awaited(host)


def test_progress_reads_the_uri_and_the_number_from_signal_clis_lines() -> None:
    progress = LinkProgress(["", URI, f"Associated with: {ACCOUNT}"])
    assert (progress.uri, progress.linked_to) == (URI, ACCOUNT)
    assert progress.said == [f"Associated with: {ACCOUNT}"]
    assert LinkProgress(["INFO  Something else"]).uri is None
