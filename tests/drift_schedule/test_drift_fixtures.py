"""The drift schedule operations against pyinfra-testing fixtures (no host needed).

``tests/fixtures/operations/drift_schedule/<operation>/*.json``: ``kwargs``, fake ``facts`` (keyed ``<module>.<Fact>``
and ``<arg>=<value>``), then the exact ``commands``, the ``noop_description`` or the ``exception``; ``_doc`` says
what each case is. The "unchanged" cases hold the SHA-1 of the rendered file: a template change must update them
(and the upload commands of the others), which is the point.
"""

from __future__ import annotations

from pathlib import Path

from pyinfra_testing.operations import make_operation_tests

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "operations" / "drift_schedule"
OPERATIONS = ("report_runner", "systemd_timer", "launchd_daemon", "cron_job")


for _name in OPERATIONS:
    globals()[f"TestOperation_drift_schedule_{_name}"] = make_operation_tests(
        "openclaw_infra.operations", f"drift_schedule.{_name}", FIXTURES / _name
    )
