"""launchd jobs on macOS: ``launchctl print`` for one job, ``launchctl list`` for a domain."""

from __future__ import annotations

import dataclasses
import re
from enum import StrEnum
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactBase
from typing_extensions import override

from openclaw_infra.quoting import quoted

from .parsing import unreadable
from .records import JsonRecord

# launchctl exits 113 for a job that is not loaded ('Could not find service "X" in domain for …').
NOT_LOADED_EXIT_CODE = 113
NOT_LOADED_TEXT = "Could not find service"

_DOMAIN = re.compile(r"^(?:system|gui/\d+|user/\d+)$")
_LABEL = re.compile(r"^[^\s/]+$")
_USER = re.compile(r"^[a-z_][a-z0-9_-]*$")
_PRINT_HEADER = re.compile(r"^(?P<target>\S+) = \{$")
_PRINT_PROPERTY = re.compile(r"^(?P<key>[^=]+?) =(?: (?P<value>.*))?$")
_LEADING_INT = re.compile(r"^-?\d+")


class JobState(StrEnum):
    RUNNING = "running"
    NOT_RUNNING = "not running"
    OTHER = "other"


@dataclasses.dataclass(frozen=True)
class LaunchdJob(JsonRecord):
    """One loaded launchd job as ``launchctl print`` shows it.

    ``environment_keys`` are the names in the job's own ``environment`` block (its plist's
    EnvironmentVariables, plus XPC_SERVICE_NAME launchd adds); ``inherited_environment_keys`` those of the
    ``default``, ``global`` and ``inherited environment`` blocks. Values are never read into the record.
    ``last_exit_code`` is ``None`` until the job has exited once.
    """

    label: str
    state: JobState
    raw_state: str
    pid: int | None
    last_exit_code: int | None
    program: str | None
    arguments: tuple[str, ...]
    runs: int | None
    path: str | None
    job_type: str | None
    domain: str | None
    environment_keys: tuple[str, ...]
    inherited_environment_keys: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class LaunchctlListEntry(JsonRecord):
    """A job in ``launchctl list``: its pid while it runs, and the status of its last exit."""

    pid: int | None
    last_exit_status: int | None


def _validated_target(label: str, domain: str) -> str:
    if not _DOMAIN.match(domain):
        raise ValueError(f"domain must be 'system', 'gui/<uid>' or 'user/<uid>', not {domain!r}")
    if not _LABEL.match(label):
        raise ValueError(f"not a launchd label: {label!r}")
    return f"{domain}/{label}"


class LaunchctlJob(FactBase[LaunchdJob | None]):
    """
    Returns one launchd job of one domain, or ``None`` when it is not loaded there (or not on macOS).

    + label: the job's label, e.g. ``ai.openclaw.gateway``
    + domain: ``system`` (daemons), ``gui/<uid>`` (agents of a logged-in user) or ``user/<uid>``

    Runs ``launchctl print DOMAIN/LABEL``; its exit code 113 ("Could not find service") means not loaded.
    Reads the tab-indented output of every macOS release sampled (Yosemite to Sonoma).

    .. code:: python

        {
            "label": "com.wazuh.agent", "state": "running", "raw_state": "running", "pid": 1486,
            "last_exit_code": 0, "program": "/Library/StartupItems/WAZUH/Wazuh-launcher",
            "arguments": ["/Library/StartupItems/WAZUH/Wazuh-launcher"], "runs": 3,
            "path": "/Library/LaunchDaemons/com.wazuh.agent.plist", "job_type": None,
            "domain": "com.apple.xpc.launchd.domain.system",
            "environment_keys": ["XPC_SERVICE_NAME"], "inherited_environment_keys": ["PATH"],
        }
    """

    @override
    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "launchctl"

    @override
    def command(self, label: str, domain: str = "system") -> StringCommand:
        target = _validated_target(label, domain)
        return StringCommand("launchctl print", quoted(target), f"|| [ $? -eq {NOT_LOADED_EXIT_CODE} ]")

    @override
    def process(self, output: list[str]) -> LaunchdJob | None:
        lines = [line.strip() for line in output if line.strip()]
        # The not-found text goes to stderr; should a launchctl print it on stdout, it still means "not loaded".
        if any(line.startswith(NOT_LOADED_TEXT) for line in lines):
            return None
        header = _PRINT_HEADER.match(lines[0])
        if not header:
            raise unreadable("launchctl print", lines[0], "expected 'DOMAIN/LABEL = {'")
        reader = _PrintReader()
        for line in lines[1:]:
            if not reader.read(line):
                break
        raw_state = reader.properties.get("state")
        if raw_state is None:
            raise unreadable("launchctl print", lines[0], "the job has no 'state'")
        last_exit = _LEADING_INT.match(reader.properties.get("last exit code", ""))
        return LaunchdJob(
            # The header names the job 'gui/501/LABEL' on newer releases, 'LABEL' on older ones.
            label=header["target"].rsplit("/", 1)[-1],
            state=_job_state(raw_state),
            raw_state=raw_state,
            pid=_int_or_none(reader.properties.get("pid")),
            last_exit_code=int(last_exit.group()) if last_exit else None,
            program=reader.properties.get("program"),
            arguments=tuple(reader.arguments),
            runs=_int_or_none(reader.properties.get("runs")),
            path=reader.properties.get("path"),
            job_type=reader.properties.get("type"),
            domain=reader.properties.get("domain"),
            environment_keys=tuple(reader.environment_keys),
            inherited_environment_keys=tuple(sorted(set(reader.inherited_environment_keys))),
        )


class LaunchctlUserJob(LaunchctlJob):
    """
    ``LaunchctlJob`` in the GUI domain of ``user``, named by the user rather than the uid: the uid is looked up on
    the host (``id -u``), so a check can ask before it knows the uid. A user that does not exist fails the fact.

    + label: the job's label, e.g. ``ai.openclaw.gateway``
    + user: whose GUI domain (``gui/<uid>``) to read

    Runs ``uid=$(id -u -- USER) && launchctl print "gui/$uid/LABEL"``; the value is ``LaunchctlJob``'s.

    .. code:: python

        {
            "label": "ai.openclaw.gateway", "state": "running", "raw_state": "running", "pid": 4242,
            "last_exit_code": 0, "program": "/opt/node/bin/node", "arguments": ["/opt/node/bin/node", "…"],
            "runs": 1, "path": "/Users/openclaw/Library/LaunchAgents/ai.openclaw.gateway.plist",
            "job_type": "LaunchAgent", "domain": "gui/502", "environment_keys": ["HOME", "PATH"],
            "inherited_environment_keys": [],
        }
    """

    @override
    def command(self, label: str, user: str) -> StringCommand:  # type: ignore[override]
        _validated_target(label, "system")
        if not _USER.match(user):
            raise ValueError(f"not a user name: {user!r}")
        # The label is validated: nothing in it means anything to the shell inside double quotes.
        return StringCommand(
            "uid=$(id -u --", quoted(user), ") && launchctl print", f'"gui/$uid/{label}"',
            f"|| [ $? -eq {NOT_LOADED_EXIT_CODE} ]",
        )  # fmt: skip


class _PrintReader:
    """Reads the body of ``launchctl print`` by brace depth: the indentation is tabs, or spaces when pasted."""

    def __init__(self) -> None:
        self.properties: dict[str, str] = {}
        self.arguments: list[str] = []
        self.environment_keys: list[str] = []
        self.inherited_environment_keys: list[str] = []
        self._depth = 1
        self._block: str | None = None

    def read(self, line: str) -> bool:
        """Take one stripped line; ``False`` once the job's closing brace is read."""
        if line == "}":
            self._depth -= 1
            if self._depth == 1:
                self._block = None
            return self._depth > 0
        if self._depth > 1:
            self._read_block_line(line)
            return True
        prop = _PRINT_PROPERTY.match(line)
        if not prop:
            return True  # a bare flag line such as 'submitted job. ignore execute allowed'
        key, value = prop["key"], prop["value"] or ""
        if value == "{":
            self._depth, self._block = 2, key
        else:
            self.properties.setdefault(key, value)
        return True

    def _read_block_line(self, line: str) -> None:
        if line.endswith("{"):
            self._depth += 1  # a nested block (endpoints, event triggers): nothing we read
            return
        if self._depth != 2:
            return
        if self._block == "arguments":
            self.arguments.append(line)
        elif self._block == "environment":
            self.environment_keys.append(_environment_key(line))
        elif self._block in ("default environment", "global environment", "inherited environment"):
            self.inherited_environment_keys.append(_environment_key(line))


def _environment_key(line: str) -> str:
    # 'NAME => value': keep the name only, values may be secrets.
    key, arrow, _ = line.partition(" => ")
    if not arrow:
        raise unreadable("launchctl print", key, "expected 'NAME => value' in an environment block")
    return key


def _job_state(raw_state: str) -> JobState:
    try:
        return JobState(raw_state)
    except ValueError:
        return JobState.OTHER


class LaunchctlList(FactBase[dict[str, LaunchctlListEntry]]):
    """
    Returns the jobs of the caller's launchd domain: label → pid (while running) and last exit status.

    + label: only this job: ``{}`` when it is not loaded

    Runs ``launchctl list`` (a table), or ``launchctl list LABEL`` (a plist dictionary; exit 113 when not
    loaded). The domain is the one of the user the command runs as: root's is ``system``; use ``_sudo_user=`` for a
    user's agents. ``{}`` where launchctl is missing.

    .. code:: python

        {
            "com.openssh.ssh-agent": {"pid": 780, "last_exit_status": 0},
            "com.airprintbridge": {"pid": None, "last_exit_status": 78},
        }
    """

    default = dict

    @override
    def requires_command(self, *args: Any, **kwargs: Any) -> str:
        return "launchctl"

    @override
    def command(self, label: str | None = None) -> str | StringCommand:
        if label is None:
            return "launchctl list"
        if not _LABEL.match(label):
            raise ValueError(f"not a launchd label: {label!r}")
        return StringCommand("launchctl list", quoted(label), f"|| [ $? -eq {NOT_LOADED_EXIT_CODE} ]")

    @override
    def process(self, output: list[str]) -> dict[str, LaunchctlListEntry]:
        lines = [line.strip() for line in output if line.strip()]
        if any(line.startswith(NOT_LOADED_TEXT) for line in lines):
            return {}
        if lines[0] == "{":
            return _from_job_dictionary(lines)
        jobs = {}
        for line in lines:
            cells = line.split(None, 2)
            if cells == ["PID", "Status", "Label"]:
                continue
            if len(cells) != 3 or not _is_int_or_dash(cells[0]) or not _is_int_or_dash(cells[1]):
                raise unreadable("launchctl list", line, "expected 'PID Status Label'")
            pid, status, label = cells
            jobs[label] = LaunchctlListEntry(pid=_int_or_none(pid), last_exit_status=_int_or_none(status))
        return jobs


_DICT_ENTRY = re.compile(r'^"(?P<key>[^"]+)" = (?P<value>.*?);?$')


def _from_job_dictionary(lines: list[str]) -> dict[str, LaunchctlListEntry]:
    """``launchctl list LABEL`` prints an old-style plist dictionary: '"PID" = 40425;'."""
    top: dict[str, str] = {}
    depth = 0
    for line in lines:
        if line in ("{", "(") or line.endswith(("= {", "= (")):
            depth += 1
            continue
        if line.rstrip(";") in ("}", ")"):
            depth -= 1
            continue
        entry = _DICT_ENTRY.match(line)
        if depth == 1:
            if not entry:
                raise unreadable("launchctl list", line, "expected '\"Key\" = value;'")
            top[entry["key"]] = entry["value"].strip('"')
    label = top.get("Label")
    if label is None:
        raise unreadable("launchctl list", lines[0], "the job has no Label")
    return {
        label: LaunchctlListEntry(
            pid=_int_or_none(top.get("PID")), last_exit_status=_int_or_none(top.get("LastExitStatus"))
        )
    }


def _is_int_or_dash(text: str) -> bool:
    return text == "-" or _LEADING_INT.fullmatch(text) is not None


def _int_or_none(text: str | None) -> int | None:
    if text is None or not _LEADING_INT.fullmatch(text):
        return None
    return int(text)
