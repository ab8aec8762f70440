"""A deploy whose gateway does not come up ends with the reason and the gateway's own evidence, not a traceback."""

from __future__ import annotations

import pytest

from sandbox_hosts import SandboxHost
from tests.helpers import run_pyinfra

pytestmark = pytest.mark.sandbox

CANARY = "canary-verify-3e9d1c-do-not-leak"


def test_failed_verification_shows_reason_and_evidence(sandbox_host: SandboxHost) -> None:
    host = sandbox_host
    # Something else holds the gateway's port before the deploy: the gateway cannot listen, /health never answers.
    host.run("systemd-run --unit=squatter nc -lk 127.0.0.1 18789")
    result = run_pyinfra(
        [host],
        "--data",
        'openclaw_secrets={"OPENCLAW_GATEWAY_TOKEN": {"env": "CANARY_GATEWAY_TOKEN"}}',
        "deploys/linux_vm.py",
        env={"CANARY_GATEWAY_TOKEN": CANARY},
        check=False,
    )
    printed = result.stdout + result.stderr
    assert result.returncode != 0, printed
    assert "Traceback" not in printed, printed
    assert CANARY not in printed
    # The reason: which checks failed, expected against found.
    assert "verification failed: health 127.0.0.1:18789: expected ok, found no answer" in printed, printed
    # The gateway's own evidence: its unit's state, its journal, the tail of its error log.
    assert "--- openclaw-gateway.service:" in printed and "Active:" in printed, printed
    assert "--- last lines of /home/openclaw/.openclaw/logs/gateway.err.log:" in printed, printed
    # ...and the reason is the last thing said about the host before pyinfra gives up.
    tail = printed[printed.rindex("verification failed:") :]
    assert "Traceback" not in tail and len(tail.splitlines()) < 10, tail
