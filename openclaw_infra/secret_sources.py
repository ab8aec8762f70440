"""Read secrets on the control machine, from where the settings say, into values pyinfra prints as *MASKED*."""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path

from pyinfra.api.hiddenvalue import HiddenValue

from openclaw_infra.settings import SecretSource


class SecretUnavailable(ValueError):
    """A secret could not be read or was empty; the message says where from, never the value."""


def read_secret(source: SecretSource, multiline: bool = False) -> HiddenValue:
    """The secret at ``source``; one line (a value of the secrets file) unless ``multiline`` (a PEM key, returned
    ending in one newline)."""
    if source.env:
        value = os.environ.get(source.env)
        if value is None:
            raise SecretUnavailable(f"environment variable {source.env} is not set")
    elif source.file:
        path = Path(source.file).expanduser()
        try:
            value = path.read_text()
        except OSError as error:
            raise SecretUnavailable(f"file {path} cannot be read ({error.strerror})") from None
    else:
        assert source.command  # the model guarantees exactly one source
        try:
            result = subprocess.run(source.command, capture_output=True, text=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise SecretUnavailable(f"command {source.command[0]!r} could not run ({error})") from None
        if result.returncode != 0:
            # stderr only: stdout may hold part of the secret.
            raise SecretUnavailable(
                f"command {source.command[0]!r} exited {result.returncode}: {result.stderr.strip()[:200]}"
            )
        value = result.stdout
    # A trailing newline from `echo … > file` or a password manager is never part of the secret.
    value = value.rstrip("\r\n")
    if not value.strip():
        raise SecretUnavailable(f"{source.describe()} is empty")
    if multiline:
        value += "\n"
    elif "\n" in value or "\r" in value:
        raise SecretUnavailable(f"{source.describe()} holds more than one line")
    return HiddenValue(value)  # type: ignore[no-untyped-call]  # pyinfra leaves __init__ unannotated


def new_gateway_secret() -> HiddenValue:
    """A new random gateway token or password: 256 bits, URL-safe (it goes into headers and env files as is)."""
    return HiddenValue(secrets.token_urlsafe(32))  # type: ignore[no-untyped-call]


def write_private_file(path: Path, value: HiddenValue) -> None:
    """``value`` and a newline into ``path``, created 600 (its directory 700 when this makes it) and swapped in by
    one rename, so a reader sees the old secret or the new one, and no one else ever sees either."""
    path = path.expanduser()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    staged = path.with_name(f".{path.name}.new")
    descriptor = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w") as target:
        target.write(value.unmask() + "\n")
    os.chmod(staged, 0o600)
    os.replace(staged, path)
