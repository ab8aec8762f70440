"""Exclusive locks between the threads, greenlets and processes of the harness (several pytest processes may share
one run's registry, key and Node mirror)."""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def lock_cooperatively(lock: IO[str]) -> None:
    """An exclusive ``flock`` taken by polling: under gevent (pytest imports pyinfra's CLI, which patches the
    process) the "threads" of ``up_many`` are greenlets, and one blocked in ``flock`` would block the one holding
    it, deadlocking; ``time.sleep`` yields to the others there and is a plain sleep elsewhere."""
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            time.sleep(0.05)


@contextlib.contextmanager
def held(path: Path) -> Iterator[None]:
    """``path`` (created if missing) locked with ``lock_cooperatively`` for the block; released when it ends."""
    with path.open("w") as lock:
        lock_cooperatively(lock)
        yield
