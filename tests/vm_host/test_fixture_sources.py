"""The Multipass, UTM, Lume and Parallels operation fixtures decide from real captured output: each names, under
``_fact_source``, the file in ../shared/fixtures/real-outputs/ its VM list came from, and that file, parsed by the
project's own fact, must give exactly the value the fixture hands the operation."""

from __future__ import annotations

import json
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
OPERATION_FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "operations"
SHARED = PROJECT_ROOT.parent
# The VM list facts these operations decide from; no other input may stand in for a real capture.
CAPTURED_FACTS = {"multipass.MultipassVms", "utm.UtmVms", "lume.LumeVms", "parallels.ParallelsVms"}


def _fixtures() -> list[Path]:
    found = []
    for path in sorted(OPERATION_FIXTURES.glob("*/*/*.json")):
        if CAPTURED_FACTS & set(json.loads(path.read_text(encoding="utf-8")).get("facts", {})):
            found.append(path)
    return found


def _parsed(fact_path: str, source: Path) -> Any:
    module_name, class_name = fact_path.rsplit(".", 1)
    fact = getattr(import_module(f"openclaw_infra.facts.{module_name}"), class_name)()
    # Real-output files: '# source/command/note' lines, '# ---', then the output as captured.
    _, _, output = source.read_text(encoding="utf-8").partition("# ---\n")
    return json.loads(json.dumps([record.to_json() for record in fact.process(output.splitlines())]))


def test_vm_operations_that_cannot_run_here_have_captured_inputs() -> None:
    names = {path.parent.parent.name for path in _fixtures()}
    assert names >= {"multipass_vms", "utm_vms", "vm_addresses", "lume_vms", "parallels_vms"}, names


@pytest.mark.parametrize("fixture", _fixtures(), ids=lambda path: f"{path.parts[-3]}/{path.parts[-2]}/{path.stem}")
def test_fact_input_is_the_parsed_real_output(fixture: Path) -> None:
    data = json.loads(fixture.read_text(encoding="utf-8"))
    sources = data.get("_fact_source", {})
    for fact_path in CAPTURED_FACTS & set(data["facts"]):
        assert fact_path in sources, f"{fixture.name}: {fact_path} names no real-output file in _fact_source"
        source = SHARED / sources[fact_path]
        assert sources[fact_path].startswith("shared/fixtures/real-outputs/"), sources[fact_path]
        if not source.parent.is_dir():
            pytest.skip(f"{source.parent} is not here")
        assert _parsed(fact_path, source) == data["facts"][fact_path]
