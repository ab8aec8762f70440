"""Every operation against pyinfra-testing fixtures (no host needed), from one fixtures root.

``tests/fixtures/operations/<module>/<operation>/*.json``: ``kwargs``, fake ``facts`` (keyed ``<module>.<Fact>``,
then ``<arg>=<value>`` for facts with arguments), then the exact ``commands``, the ``noop_description`` or the
``exception``; ``_doc`` says what the case is. Every folder there becomes a test class: a new operation needs
fixtures only. Cases holding the SHA-1 of a rendered file (``files.Sha1File``) change with its template, which is
the point.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest.mock import patch

from pyinfra_testing import util
from pyinfra_testing.operations import make_operation_tests

from openclaw_infra.facts.batch import FactBatch, fact_class

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "operations"
OPERATION_FOLDERS = sorted(folder for folder in FIXTURES.glob("*/*") if folder.is_dir())
# Operations whose arguments JSON cannot hold (the settings model) run through an adapter that builds them.
ADAPTED = {
    "preflight.host_ready": ("tests", "operation_adapters.host_ready"),
    "secret_files.secret_file": ("tests", "operation_adapters.secret_file"),
    "secret_files.secret_file_over_sudo": ("tests", "operation_adapters.secret_file_over_sudo"),
    "verification.host_verified": ("tests", "operation_adapters.host_verified"),
    "verification.host_verified_after_the_run": ("tests", "operation_adapters.host_verified_after_the_run"),
    "verification.vm_host_verified": ("tests", "operation_adapters.vm_host_verified"),
    "verification.vm_host_verified_after_the_run": ("tests", "operation_adapters.vm_host_verified_after_the_run"),
    "vm_addresses.vm_addresses_after_the_run": ("tests", "operation_adapters.vm_addresses_after_the_run"),
}


def _record_attribute(self: util.FakeFact, key: str) -> Any:
    # pyinfra-testing reads the value of a fact without arguments by attribute only off its JSON value (a dict);
    # facts returning a record (ufw.UfwStatus) are read as one, the way it already treats facts with arguments.
    data = self.__dict__.get("data")
    if isinstance(data, dict) and key in data:
        return util._wrap_fact_value(data[key])
    return getattr(data, key)


def _record_items(self: util.FakeFact) -> Any:
    # Likewise for a fact returning a list of records (ports.ListeningPorts): its items are read as records.
    return iter(util._wrap_fact_value(self.__dict__.get("data")))


_fake_get_fact = util.FakeHost.get_fact


def _batched_fact(self: util.FakeHost, fact_cls: Any, *args: Any, **kwargs: Any) -> Any:
    # A batch of facts (one remote command) is answered from the fixture's facts one by one, keyed as each fact
    # read alone would be: fixtures name the facts an operation decides from, not how they travel.
    if fact_cls is FactBatch:
        return [
            [name, _plain_scalar(_fake_get_fact(self, fact_class(name), **arguments))]
            for name, arguments in kwargs["facts"]
        ]
    return _fake_get_fact(self, fact_cls, *args, **kwargs)


def _plain_scalar(value: Any) -> Any:
    # pyinfra-testing wraps the value of a fact without arguments in an object, a None or a False too (both then
    # truthy): such a value is handed over as it is.
    data = value.__dict__.get("data") if isinstance(value, util.FakeFact) else value
    return data if data is None or isinstance(data, (bool, int, float, str)) else value


for _folder in OPERATION_FOLDERS:
    _module, _name = _folder.parent.name, _folder.name
    _package, _operation = ADAPTED.get(f"{_module}.{_name}", ("openclaw_infra.operations", f"{_module}.{_name}"))
    _tests = make_operation_tests(_package, _operation, _folder)
    _tests = patch.object(util.FakeFact, "__iter__", _record_items)(_tests)
    _tests = patch.object(util.FakeFact, "__getattr__", _record_attribute)(_tests)
    globals()[f"TestOperation_{_module}_{_name}"] = patch.object(util.FakeHost, "get_fact", _batched_fact)(_tests)


# A TestCase left bound at module level would be collected a second time.
del _folder, _module, _name, _package, _operation, _tests


def test_every_folder_holds_fixtures() -> None:
    assert OPERATION_FOLDERS, f"no operation fixtures under {FIXTURES}"
    assert [folder for folder in OPERATION_FOLDERS if not list(folder.glob("*.json"))] == []
