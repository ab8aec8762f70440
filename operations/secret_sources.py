"""Where a rotated secret goes on the control machine: back into its source when that is a file, else into a
private file for the operator to store wherever the source reads it from."""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

from pyinfra import logger
from pyinfra.api.command import FunctionCommand
from pyinfra.api.exceptions import OperationValueError
from pyinfra.api.hiddenvalue import HiddenValue
from pyinfra.api.operation import operation

from openclaw_infra.secret_sources import write_private_file
from openclaw_infra.settings import SecretSource


def _delivered(path: str, value: HiddenValue, how_to_store: str) -> None:
    write_private_file(Path(path), value)
    logger.warning(how_to_store)


@operation(is_idempotent=False)
def rotated_secret_stored(
    secret_name: str, source: SecretSource, value: HiddenValue, delivery_path: str
) -> Generator[FunctionCommand, None, None]:
    """
    Put a new secret where the next run reads it: a ``file`` source is rewritten (600, swapped in by one rename);
    for an ``env`` or ``command`` source the value goes to ``delivery_path`` (600 in a 700 directory) and the run
    says how to store it there, since no program can write an environment or a password manager for you.

    + secret_name: the secret's name (``OPENCLAW_GATEWAY_TOKEN``), for the message
    + source: where the settings read it from
    + value: the new value, masked in every output
    + delivery_path: where an ``env`` or ``command`` source's new value is left on the control machine

    Runs on the control machine when the operation executes (nothing is written by a dry run).
    """
    if not isinstance(value, HiddenValue):
        raise OperationValueError("value must be a HiddenValue: a secret is never passed in the clear")
    if source.file:
        yield FunctionCommand(write_private_file, (Path(os.path.expanduser(source.file)), value), {})
        return
    where = f"environment variable {source.env}" if source.env else f"the store command {source.command} reads"
    message = (
        f"the new {secret_name} is in {delivery_path} (600): put it into {where}, then delete that file. Until "
        "then a deploy reads the old value there and puts it back on the host."
    )
    yield FunctionCommand(_delivered, (delivery_path, value, message), {})
