"""Keep the Node mirror served to sandbox hosts at one stable address while any host may need it.

The address sits on the machine's loopback device inside the sandbox subnet: hosts route to it through their
veth, nothing outside the machine can reach it, and it outlives any single host.
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

from openclaw_infra.sandbox import config, node_mirror

ADDRESS = str(config.SUBNET.network_address + 1)  # 10.213.0.1
PORT = 8780
BASE_URL = f"http://{ADDRESS}:{PORT}"


def _pid_file() -> Path:
    return config.RUN_DIR / "node-mirror.pid"


def _answering() -> bool:
    with contextlib.suppress(OSError), socket.create_connection((ADDRESS, PORT), timeout=1):
        return True
    return False


def _ensure_address() -> None:
    present = subprocess.run(["ip", "-o", "addr", "show", "dev", "lo"], capture_output=True, text=True, check=True)
    if f" {ADDRESS}/" not in present.stdout:
        subprocess.run(["ip", "addr", "add", f"{ADDRESS}/32", "dev", "lo"], check=True)


def ensure_running() -> str:
    """Build the mirror if needed (once, ~1 min), serve it in the background, and return its base URL."""
    node_mirror.build()
    _ensure_address()
    if _answering():
        return BASE_URL
    config.RUN_DIR.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "openclaw_infra.sandbox.node_mirror", "serve", "--address", ADDRESS]
    with (config.STATE_DIR / "node-mirror.log").open("a") as log:
        process = subprocess.Popen(
            [*command, "--port", str(PORT)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _pid_file().write_text(str(process.pid))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if _answering():
            return BASE_URL
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise RuntimeError(f"the Node mirror did not start; see {config.STATE_DIR / 'node-mirror.log'}")


def stop() -> None:
    pid_file = _pid_file()
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
        pid_file.unlink()
