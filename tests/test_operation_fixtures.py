"""Every operation against pyinfra-testing fixtures (no host needed), from one fixtures root.

``tests/fixtures/operations/<module>/<operation>/*.json``: ``kwargs``, fake ``facts`` (keyed ``<module>.<Fact>``,
then ``<arg>=<value>`` for facts with arguments), then the exact ``commands``, the ``noop_description`` or the
``exception``; ``_doc`` says what the case is. Every folder there becomes a test class: a new operation needs
fixtures only. Cases holding the SHA-1 of a rendered file (``files.Sha1File``) change with its template, which is
the point.
"""

from __future__ import annotations

from pathlib import Path
from unittest.mock import patch

from pyinfra_testing import util
from pyinfra_testing.operations import make_operation_tests

from tests import fake_facts

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "operations"
OPERATION_FOLDERS = sorted(folder for folder in FIXTURES.glob("*/*") if folder.is_dir())
# Operations whose arguments JSON cannot hold (the settings model) run through an adapter that builds them.
ADAPTED = {
    "preflight.host_ready": ("tests", "operation_adapters.host_ready"),
    "secret_files.secret_file": ("tests", "operation_adapters.secret_file"),
    "secret_files.secret_file_over_sudo": ("tests", "operation_adapters.secret_file_over_sudo"),
    "tailscale.node_tagged": ("tests", "operation_adapters.node_tagged"),
    "verification.host_verified": ("tests", "operation_adapters.host_verified"),
    "verification.host_verified_after_the_run": ("tests", "operation_adapters.host_verified_after_the_run"),
    "verification.vm_host_verified": ("tests", "operation_adapters.vm_host_verified"),
    "verification.vm_host_verified_after_the_run": ("tests", "operation_adapters.vm_host_verified_after_the_run"),
    "vm_addresses.vm_addresses_after_the_run": ("tests", "operation_adapters.vm_addresses_after_the_run"),
    "gateway_container.gateway_container": ("tests", "operation_adapters.gateway_container"),
    "verification.container_host_verified": ("tests", "operation_adapters.container_host_verified"),
    "verification.contained_verified_after_the_run": ("tests", "operation_adapters.contained_verified_after_the_run"),
    "openclaw_upgrade.upgrade_healthy_or_rolled_back": (
        "tests",
        "operation_adapters.upgrade_healthy_or_rolled_back",
    ),
    "openclaw_upgrade.upgrade_healthy_or_rolled_back_after_the_run": (
        "tests",
        "operation_adapters.upgrade_healthy_or_rolled_back_after_the_run",
    ),
    "verification.container_host_verified_after_the_run": (
        "tests",
        "operation_adapters.container_host_verified_after_the_run",
    ),
}


for _folder in OPERATION_FOLDERS:
    _module, _name = _folder.parent.name, _folder.name
    _package, _operation = ADAPTED.get(f"{_module}.{_name}", ("openclaw_infra.operations", f"{_module}.{_name}"))
    _tests = make_operation_tests(_package, _operation, _folder)
    _tests = patch.object(util.FakeFact, "__iter__", fake_facts._record_items)(_tests)
    _tests = patch.object(util.FakeFact, "__getattr__", fake_facts._record_attribute)(_tests)
    globals()[f"TestOperation_{_module}_{_name}"] = patch.object(util.FakeHost, "get_fact", fake_facts.batched_fact)(
        _tests
    )


# A TestCase left bound at module level would be collected a second time.
del _folder, _module, _name, _package, _operation, _tests


def test_every_folder_holds_fixtures() -> None:
    assert OPERATION_FOLDERS, f"no operation fixtures under {FIXTURES}"
    assert [folder for folder in OPERATION_FOLDERS if not list(folder.glob("*.json"))] == []
