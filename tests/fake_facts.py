"""How fixtures answer facts, shared by the operation fixtures and the deploy plans: pyinfra-testing's fake facts,
taught to hand over records, lists of records and plain scalars the way our operations read them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest.mock import patch

from pyinfra_testing import util

from openclaw_infra.facts.batch import FactBatch, fact_class


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


def plain_scalar(value: Any) -> Any:
    # pyinfra-testing wraps the value of a fact without arguments in an object, a None or a False too (both then
    # truthy): such a value is handed over as it is.
    data = value.__dict__.get("data") if isinstance(value, util.FakeFact) else value
    return data if data is None or isinstance(data, (bool, int, float, str)) else value


def batched_fact(self: util.FakeHost, fact_cls: Any, *args: Any, **kwargs: Any) -> Any:
    # A batch of facts (one remote command) is answered from the fixture's facts one by one, keyed as each fact
    # read alone would be: fixtures name the facts an operation decides from, not how they travel.
    if fact_cls is FactBatch:
        return [
            [name, plain_scalar(_fake_get_fact(self, fact_class(name), **arguments))]
            for name, arguments in kwargs["facts"]
        ]
    return _fake_get_fact(self, fact_cls, *args, **kwargs)


@contextmanager
def fixture_facts() -> Iterator[None]:
    """pyinfra-testing's fakes, patched to answer as described above, for the duration of the block."""
    with ExitStack() as stack:
        stack.enter_context(patch.object(util.FakeFact, "__iter__", _record_items))
        stack.enter_context(patch.object(util.FakeFact, "__getattr__", _record_attribute))
        stack.enter_context(patch.object(util.FakeHost, "get_fact", batched_fact))
        yield
