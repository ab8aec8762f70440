"""preflight.host_ready against pyinfra-testing fixtures (no host needed).

``tests/fixtures/operations/preflight/host_ready/*.json``: ``kwargs.settings`` as inventory data (without the
``openclaw_`` prefix), fake ``facts``, then the ``noop_description`` or the ``exception``; ``_doc`` says what each
case is.
"""

from __future__ import annotations

from pathlib import Path

from pyinfra_testing.operations import make_operation_tests

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "operations" / "preflight" / "host_ready"

TestOperation_preflight_host_ready = make_operation_tests("tests.settings", "json_operations.host_ready", FIXTURES)
