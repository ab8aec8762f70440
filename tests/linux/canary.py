"""Watching a deploy for a planted secret: in pyinfra's output, in any process's command line, in readable files."""

from __future__ import annotations

import shlex
import threading
import time

from sandbox_hosts import SandboxHost


class ProcessListWatcher:
    """Samples every process's command line on the host while a deploy runs, to catch secrets in argv."""

    def __init__(self, host: SandboxHost):
        self.host = host
        self.samples: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            result = self.host.run("ps -eo args", check=False, timeout=30)
            self.samples.append(result.stdout)
            time.sleep(0.2)

    def __enter__(self) -> ProcessListWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def assert_secret_kept(
    host: SandboxHost, canary: str, output: str, samples: list[str], owners: frozenset[str] = frozenset({"root"})
) -> None:
    """``canary`` is absent from pyinfra's ``output`` and from every sampled process list, and every file on the
    host that holds it is owned by one of ``owners`` (root and the service user) with no access for anyone else."""
    assert canary not in output
    assert samples, "the process list was never sampled"
    assert not [sample for sample in samples if canary in sample]
    holders = host.run(
        f"grep -rlsF {canary} / --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev --exclude-dir=run "
        "| xargs -r stat -c '%U %a %n'",
        check=False,
        timeout=300,
    ).stdout.splitlines()
    assert holders, "the secret is nowhere on the host: the deploy did not install it"
    for line in holders:
        owner, mode, _path = line.split(" ", 2)
        assert owner in owners and mode.endswith("00"), line


# Run on the host as `nobody`: copies whatever it can read under the shared and login directories, as fast as it
# can, so a secret readable by another user even for a moment is caught. It never needs to know the secret.
INTRUDER_SCRIPT = r"""
import os, sys, time
out, tops = sys.argv[1], sys.argv[2:]
copies = 0
seen = set()
while not os.path.exists(os.path.join(out, "stop")):
    for top in tops:
        for root, _dirs, files in os.walk(top):
            for name in files:
                path = os.path.join(root, name)
                try:
                    with open(path, "rb") as handle:
                        data = handle.read(1 << 16)
                except OSError:
                    continue
                if (path, data) not in seen:
                    seen.add((path, data))
                    copies += 1
                    with open(os.path.join(out, str(copies)), "wb") as copy:
                        copy.write(data)
    time.sleep(0.005)
"""


class IntruderWatcher:
    """Another local user (``nobody``) reading every file it can under ``directories`` while a deploy runs."""

    OUT = "/var/tmp/intruder-copies"

    def __init__(self, host: SandboxHost, directories: tuple[str, ...] = ("/tmp", "/var/tmp", "/dev/shm", "/home")):
        self.host = host
        self.directories = directories

    def __enter__(self) -> IntruderWatcher:
        self.host.run(
            f"rm -rf {self.OUT} && install -d -o nobody -m 700 {self.OUT} && cd / && "
            f"(runuser -u nobody -- python3 -c {shlex.quote(INTRUDER_SCRIPT)} {self.OUT} {' '.join(self.directories)}"
            " >/dev/null 2>&1 &)"
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self.host.run(f"touch {self.OUT}/stop; sleep 0.5")

    def copies_holding(self, secret: str) -> list[str]:
        """Which copies hold ``secret`` (searched as root on the host; removes the copies afterwards)."""
        found = self.host.run(f"grep -rlF -- {shlex.quote(secret)} {self.OUT}", check=False).stdout.split()
        count = self.host.run(f"ls {self.OUT} | wc -l").stdout.strip()
        self.host.run(f"rm -rf {self.OUT}")
        assert int(count) > 1, "the intruder copied nothing at all: it was not watching"
        return found
