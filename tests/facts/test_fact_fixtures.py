"""Every fact against captured output, in pyinfra's own fixture format (``pyinfra-testing``).

``tests/fixtures/facts/<module>.<Fact>/*.json`` hold ``arg``, ``command``, ``requires_command``, ``output`` and
the expected ``fact``, plus ``source`` (the real-output file or live capture it came from) and ``note``.
``…/unreadable/*.json`` hold output the fact must refuse: ``error`` is the line its message has to quote.
"""

from __future__ import annotations

import inspect
import json
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
from pyinfra.api.exceptions import FactProcessError
from pyinfra.api.facts import FactBase
from pyinfra_testing.facts import make_fact_tests

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "facts"
# The shared captures live next to the project checkout; CI may not have them.
REAL_OUTPUTS = PROJECT_ROOT.parent / "shared" / "fixtures" / "real-outputs"
FACT_MODULES = (
    "launchctl",
    "lume",
    "parallels",
    "multipass",
    "libvirt",
    "libvirt_domain",
    "qemu_image",
    "tcp_port",
    "utm",
    "ports",
    "ufw",
    "application_firewall",
    "pf",
    "accounts",
    "directory_services",
    "systemd_unit",
    "file_tree",
    "stray_secrets",
    "gateway_health",
    "batch",
    "macos_acl",
    "docker_containers",
    "docker_networks",
    "nftables",
    "gateway_backups",
    "gateway_sessions",
    "tailscale",
    "signal_cli",
    "channel_pairing",
    "tls_certificate",
)
# Real-output files of the tools these facts read (netstat is not read: lsof covers macOS).
REAL_OUTPUT_PREFIXES = (
    "launchctl_",
    "lume_",
    "prlctl_",
    "multipass_",
    "virsh_",
    "utmctl_",
    "ss__",
    "lsof_",
    "ufw_",
    "socketfilterfw__",
    "pfctl__",
    "dscl_read__",
)
# Real outputs that are not a whole answer of any fact, checked by a unit test instead.
COVERED_BY_UNIT_TESTS = {
    "prlctl_list__ip_configured_only_ipv4_ipv6.txt": "test_fact_parsers.py::test_prlctl_keeps_only_ipv4",
}

FACT_FOLDERS = sorted(folder for folder in FIXTURES.iterdir() if folder.is_dir())

for _folder in FACT_FOLDERS:
    _test_case = make_fact_tests("openclaw_infra.facts", _folder.name, _folder)
    globals()[f"TestFact_{_folder.name.replace('.', '_')}"] = _test_case


def _fact_classes() -> list[str]:
    found = []
    for module_name in FACT_MODULES:
        module = import_module(f"openclaw_infra.facts.{module_name}")
        for name, value in vars(module).items():
            public = not name.startswith("_")  # a module's shared base class is no fact of its own
            if (
                public
                and inspect.isclass(value)
                and issubclass(value, FactBase)
                and value.__module__ == module.__name__
            ):
                found.append(f"{module_name}.{name}")
    return sorted(found)


def _fixtures(pattern: str) -> list[Path]:
    return sorted(FIXTURES.glob(pattern))


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("fact_path", _fact_classes())
def test_every_fact_has_fixtures(fact_path: str) -> None:
    assert list((FIXTURES / fact_path).glob("*.json")), f"no fixtures for {fact_path}"


@pytest.mark.parametrize("fixture", _fixtures("*/*.json") + _fixtures("*/unreadable/*.json"), ids=str)
def test_fixture_names_its_source(fixture: Path) -> None:
    sources = _load(fixture).get("source")
    sources = sources if isinstance(sources, list) else [sources]
    assert sources and all(isinstance(source, str) and source for source in sources)
    for source in sources:
        if source.startswith("shared/fixtures/real-outputs/") and REAL_OUTPUTS.is_dir():
            assert (PROJECT_ROOT.parent / source).is_file(), f"{fixture.name}: {source} does not exist"


def test_every_real_output_of_these_tools_is_used() -> None:
    if not REAL_OUTPUTS.is_dir():
        pytest.skip(f"{REAL_OUTPUTS} is not here")
    used = set(COVERED_BY_UNIT_TESTS)
    for fixture in _fixtures("*/*.json") + _fixtures("*/unreadable/*.json"):
        sources = _load(fixture)["source"]
        used.update(Path(source).name for source in (sources if isinstance(sources, list) else [sources]))
    wanted = {path.name for path in REAL_OUTPUTS.iterdir() if path.name.startswith(REAL_OUTPUT_PREFIXES)}
    assert wanted - used == set()


@pytest.mark.parametrize("fixture", _fixtures("*/unreadable/*.json"), ids=lambda path: f"{path.parts[-3]}/{path.stem}")
def test_unreadable_output_raises_quoting_the_line(fixture: Path) -> None:
    data = _load(fixture)
    module_name, class_name = fixture.parts[-3].rsplit(".", 1)
    fact = getattr(import_module(f"openclaw_infra.facts.{module_name}"), class_name)()
    # The command must be the fact's own, like in the readable fixtures.
    assert str(fact.command(**data["arg"])) == data["command"]
    with pytest.raises(FactProcessError) as raised:
        fact.process(data["output"])
    assert repr(data["error"]) in str(raised.value)
