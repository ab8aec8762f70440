"""The expected state of a deployed host as a testinfra suite: one test per check of ``ExpectedState`` (the same
checks the deploy's verification and ``openclaw-infra drift`` run), parametrized by the suite's plugin."""

from __future__ import annotations

import pytest

from openclaw_infra.host_suite.host_checks import HostCheck


def test_expected_state(openclaw_check: HostCheck) -> None:
    if openclaw_check.check is None:
        pytest.fail(f"{openclaw_check.host} could not be checked: {openclaw_check.unreadable}", pytrace=False)
    check = openclaw_check.check
    if not check.ok:
        pytest.fail(
            f"{openclaw_check.host}: {check.check}: expected {check.expected}, found {check.found}", pytrace=False
        )
