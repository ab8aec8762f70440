"""Keep the Node mirror served to sandbox hosts at one stable address while any host may need it.

The address sits on the machine's loopback device inside the sandbox subnet: hosts route to it through their
veth, nothing outside the machine can reach it, and it outlives any single host. It belongs to the run whose
``RUN_DIR`` holds its pid file: a mirror left answering by an earlier run (another state directory, a killed
session) is stopped and replaced, never trusted.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from sandbox_hosts import config, node_mirror
from sandbox_hosts.locks import held

ADDRESS = str(config.SUBNET.network_address + 1)  # 10.213.0.1
PORT = 8780
BASE_URL = f"http://{ADDRESS}:{PORT}"
NPM_REGISTRY_URL = f"{BASE_URL}/npm"  # npm_cache, served by the same process
# How a mirror process of this harness shows in the process list (also those of the old in-package location).
COMMAND_MARKERS = ("sandbox_hosts.node_mirror", "openclaw_infra.sandbox.node_mirror")


class MirrorServiceError(RuntimeError):
    pass


def _pid_file() -> Path:
    return config.RUN_DIR / "node-mirror.pid"


def _log_file() -> Path:
    return config.state_dir() / "node-mirror.log"


def _answering() -> bool:
    with contextlib.suppress(OSError), socket.create_connection((ADDRESS, PORT), timeout=1):
        return True
    return False


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _is_mirror(pid: int) -> bool:
    return any(marker in _command_line(pid) for marker in COMMAND_MARKERS)


def _own_pid() -> int | None:
    """The pid of this run's mirror, if its pid file names a live mirror process."""
    try:
        pid = int(_pid_file().read_text())
    except (OSError, ValueError):
        return None
    return pid if _is_mirror(pid) else None


def _listener_pids() -> list[int]:
    """Processes listening on the mirror's address and port, whoever started them."""
    listing = subprocess.run(
        ["ss", "-Hltnp", "src", f"{ADDRESS}:{PORT}"], capture_output=True, text=True, check=True
    ).stdout
    return sorted({int(part.split(",")[0]) for part in listing.split("pid=")[1:]})


def _exited(pid: int) -> bool:
    """Whether the process is gone or a zombie. Its command line empties early in its exit, before its sockets
    close: waiting for that alone left the address answering for a moment after ``down`` (seen in CI)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


def _stop(pid: int) -> None:
    for stop_signal in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, stop_signal)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if _exited(pid):
                return
            time.sleep(0.1)
    raise MirrorServiceError(f"the Node mirror (process {pid}) did not exit")


def _replace_foreign_mirror() -> None:
    """Stop a mirror another run left on our address; refuse to kill anything that is not one."""
    for pid in _listener_pids():
        if not _is_mirror(pid):
            raise MirrorServiceError(
                f"{ADDRESS}:{PORT} is held by process {pid} ({_command_line(pid)[:120]!r}), not a Node mirror "
                "of this harness; stop it or choose another OPENCLAW_SANDBOX_SUBNET"
            )
        _stop(pid)


def _ensure_address() -> None:
    present = subprocess.run(["ip", "-o", "addr", "show", "dev", "lo"], capture_output=True, text=True, check=True)
    if f" {ADDRESS}/" not in present.stdout:
        subprocess.run(["ip", "addr", "add", f"{ADDRESS}/32", "dev", "lo"], check=True)


def _serving_lock() -> contextlib.AbstractContextManager[None]:
    """Held while this run's mirror is started or stopped (by any of its processes)."""
    return held(config.run_dir() / ".node-mirror.lock")


def ensure_running() -> str:
    """Build the mirror if needed (once, ~1 min), serve it in the background, and return its base URL.

    Several pytest processes of one run (scripts/test_lanes.py) may ask at once: one starts it under a lock while
    the others wait, so none replaces a mirror another has just started."""
    node_mirror.build()
    with _serving_lock():
        return _ensure_serving()


def _ensure_serving() -> str:
    _ensure_address()
    if _own_pid() is not None and _answering():
        return BASE_URL
    _replace_foreign_mirror()
    command = [sys.executable, "-m", "sandbox_hosts.node_mirror", "serve", "--address", ADDRESS]
    with _log_file().open("a") as log:
        process = subprocess.Popen(
            [*command, "--port", str(PORT)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # The harness is not an installed package: the mirror finds it from the project root.
            cwd=Path(__file__).resolve().parent.parent,
            start_new_session=True,
        )
    (config.run_dir() / _pid_file().name).write_text(str(process.pid))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if _answering():
            return BASE_URL
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise MirrorServiceError(f"the Node mirror did not start; see {_log_file()}")


def stop() -> None:
    with _serving_lock():
        _stop_own()


def _stop_own() -> None:
    pid = _own_pid()
    if pid is not None:
        _stop(pid)
    _pid_file().unlink(missing_ok=True)
