"""What is installed for Signal: a pinned release under /opt (Java, signal-cli) and the accounts signal-cli holds.

The accounts are read from signal-cli's own files, not by running it: ``signal-cli listAccounts`` starts a JVM,
checks every account with Signal's servers, and waits for the lock the gateway's running daemon holds.
"""

from __future__ import annotations

import dataclasses
import json
import posixpath
import re
from typing import Any

from pyinfra.api.command import StringCommand
from pyinfra.api.facts import FactBase
from typing_extensions import override

from openclaw_infra.quoting import quoted

from .parsing import unreadable
from .records import JsonRecord

# Written into a release's directory once its archive passed the checksum and was unpacked whole.
CHECKSUM_FILE = ".openclaw-infra-sha256"
# The stable name of the release in use (a symlink beside the versions).
CURRENT = "current"
# signal-cli's account list (AccountsStore: <config>/data/accounts.json) and its per-account files beside it.
ACCOUNT_FILE_LINE = "##account-file"
_REGISTERED = re.compile(r'"registered"\s*:\s*(true|false)')
_UNPACKED_KEYS = ("sha256", "current", "loose")


@dataclasses.dataclass(frozen=True)
class UnpackedRelease(JsonRecord):
    # The checksum of the archive the version's directory was unpacked from; None: no (complete) such directory.
    sha256: str | None
    # Where ``current`` points (a version's directory name); None: no such link.
    current: str | None
    # Files of the version's directory not root's, or writable by group or others (at most five named).
    loose: tuple[str, ...]


class InstalledRelease(FactBase[UnpackedRelease]):
    """
    One version of a release unpacked under ``base_dir`` (``/opt/java``, ``/opt/signal-cli``): the archive checksum
    it was installed from, the version ``current`` points at, and any of its files a non-root user could change.

    Runs ``cat <base_dir>/<version>/.openclaw-infra-sha256; readlink <base_dir>/current; find <base_dir>/<version> …``.

    .. code:: python

        {"sha256": "62d38ebf…d7a7", "current": "0.14.5", "loose": []}
    """

    @override
    def command(self, base_dir: str, version: str) -> StringCommand:
        release = posixpath.join(base_dir, version)
        return StringCommand(
            "printf 'sha256=%s\\ncurrent=%s\\n'",
            StringCommand('"$(cat', quoted(posixpath.join(release, CHECKSUM_FILE)), '2>/dev/null)"'),
            StringCommand('"$(readlink', quoted(posixpath.join(base_dir, CURRENT)), '2>/dev/null)"'),
            ";", "if [ -d", quoted(release), "]; then find", quoted(release), "! -type l",
            "\\( ! -user root -o ! -group root -o -perm /022 \\)", "-printf 'loose=%p\\n' | head -n 5; fi",
        )  # fmt: skip

    @override
    def process(self, output: list[str]) -> UnpackedRelease:
        found: dict[str, list[str]] = {key: [] for key in _UNPACKED_KEYS}
        for line in output:
            key, separator, value = line.partition("=")
            if not separator or key not in found:
                raise unreadable("the installed release's files", line, "not sha256=, current= or loose=")
            found[key].append(value.strip())
        if len(found["sha256"]) != 1 or len(found["current"]) != 1:
            raise unreadable("the installed release's files", output[0] if output else "", "no sha256= or current=")
        return UnpackedRelease(
            sha256=found["sha256"][0] or None, current=found["current"][0] or None, loose=tuple(found["loose"])
        )


@dataclasses.dataclass(frozen=True)
class SignalAccount(JsonRecord):
    number: str
    # The account's ACI as signal-cli stored it (None until it knows it).
    uuid: str | None
    # Its file's name under data/ (signal-cli picks six random digits).
    path: str
    # "LIVE" (Signal's service) or "STAGING".
    environment: str | None
    # The account file says it is registered: linked and not since unlinked by the phone (signal-cli sets it false
    # when Signal's server refuses its credentials).
    registered: bool


class SignalCliAccounts(FactBase[list[SignalAccount]]):
    """
    The accounts signal-cli keeps under ``config_dir`` (its ``--config``): each one ``data/accounts.json`` lists,
    with the ``registered`` flag of its account file (only that flag is read from it: the file holds the keys).
    Empty when there is no ``accounts.json`` (nothing linked yet). Needs root (the files are the user's, 600).

    Runs ``cat <config_dir>/data/accounts.json`` and ``grep -o '"registered" : …'`` on each account file.

    .. code:: python

        [{"number": "+46701234567", "uuid": "768dcc44-526f-4ede-af80-d5cf58c892da", "path": "614226",
          "environment": "LIVE", "registered": true}]
    """

    @override
    def command(self, config_dir: str) -> StringCommand:
        data = quoted(posixpath.join(config_dir, "data"))
        return StringCommand(
            StringCommand("d=", data, ";", _separator=""),
            'if [ -f "$d/accounts.json" ]; then cat "$d/accounts.json";',
            'for f in "$d"/*; do name="${f##*/}";',
            'if [ -f "$f" ] && [ "$name" != accounts.json ]; then',
            "printf", quoted(f"\\n{ACCOUNT_FILE_LINE} %s "), '"$name";',
            "grep -o -m1", quoted('"registered" *: *[a-z]*'), '"$f" || echo; fi; done; fi',
        )  # fmt: skip

    @override
    def process(self, output: list[str]) -> list[SignalAccount]:
        registered: dict[str, bool] = {}
        json_lines = []
        for line in output:
            if line.startswith(ACCOUNT_FILE_LINE + " "):
                _, name, flag = (line + " ").split(" ", 2)
                match = _REGISTERED.search(flag)
                registered[name] = bool(match and match.group(1) == "true")
            else:
                json_lines.append(line)
        text = "\n".join(json_lines).strip()
        if not text:
            return []
        try:
            stored: Any = json.loads(text)
            accounts = [
                SignalAccount(
                    number=str(account["number"]),
                    uuid=account.get("uuid"),
                    path=str(account["path"]),
                    environment=account.get("environment"),
                    registered=registered.get(str(account["path"]), False),
                )
                for account in stored["accounts"]
                # signal-cli keeps a replaced account's entry with no number (AccountsStore.addAccount).
                if account.get("number")
            ]
        except (ValueError, KeyError, TypeError) as error:
            raise unreadable("signal-cli's accounts.json", json_lines[0] if json_lines else "", repr(error)) from None
        return accounts

    @staticmethod
    @override
    def default() -> list[SignalAccount]:
        return []
