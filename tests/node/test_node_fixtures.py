"""Node runtime and OpenClaw package facts against pyinfra-testing fixtures (no host needed), and the Node mirror.

``tests/node/fixtures/facts/<module>.<Fact>/*.json``: ``arg``, ``command``, ``output`` and the ``fact``. The
operations' fixtures are loaded with every other operation's by tests/test_operation_fixtures.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pyinfra.api.exceptions import FactProcessError
from pyinfra_testing.facts import make_fact_tests

from openclaw_infra.facts.installed_versions import NodeVersion, OpenClawVersion
from sandbox_hosts import node_mirror

FACT_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "facts"

for _folder in sorted(path for path in FACT_FIXTURES.iterdir() if path.is_dir()):
    globals()[f"TestFact_{_folder.name.replace('.', '_')}"] = make_fact_tests(
        "openclaw_infra.facts", _folder.name, _folder
    )


@pytest.mark.parametrize(
    "output",
    [
        ["24.21.0"],  # no leading v: not node's format
        ["v24"],
        ["Welcome to nvm", "v24.21.0"],  # a wrapper printing more than the version
    ],
)
def test_node_version_refuses_output_it_cannot_read(output: list[str]) -> None:
    with pytest.raises(FactProcessError, match="cannot read `node --version` output"):
        NodeVersion().process(output)


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (['{"name": "openclaw", "version": '], "not JSON"),
        (['{"name": "left-pad", "version": "1.3.0"}'], "not the openclaw package's"),
        (['{"name": "openclaw"}'], "has no version"),
    ],
)
def test_openclaw_version_refuses_a_broken_package_json(output: list[str], message: str) -> None:
    with pytest.raises(FactProcessError, match=message):
        OpenClawVersion().process(output)


CHANGELOG = """
<a id="24.21.0"></a>
## 2026-09-08, Version 24.21.0 'Krypton' (LTS)
* **crypto**: update root certificates
<a id="24.20.0"></a>
## 2026-08-26, Version 24.20.0 'Krypton' (LTS)
* **deps**: upgrade npm to 11.19.0 (npm team)
* **deps**: upgrade npm to 11.18.0 (npm team)
<a id="24.19.0"></a>
* **deps**: upgrade npm to 11.17.0 (npm team)
"""


def test_bundled_npm_is_the_newest_upgrade_at_or_below_the_release() -> None:
    # 24.21.0 upgraded nothing: it ships what 24.20.0 upgraded to last (the real 24.21.0 CHANGELOG reads so too).
    assert node_mirror.bundled_npm_version("24.21.0", CHANGELOG) == "11.19.0"
    assert node_mirror.bundled_npm_version("24.19.0", CHANGELOG) == "11.17.0"
    with pytest.raises(node_mirror.MirrorError, match="no entry"):
        node_mirror.bundled_npm_version("24.22.0", CHANGELOG)


def test_mirror_refuses_to_listen_on_every_interface(tmp_path: Path) -> None:
    with pytest.raises(node_mirror.MirrorError, match="every interface"), node_mirror.serve(tmp_path, "0.0.0.0"):  # noqa: S104 (refused)
        pass
