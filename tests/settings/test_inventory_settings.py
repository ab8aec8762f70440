"""Settings built from real inventory files, and refused before pyinfra connects to anything."""

from __future__ import annotations

import subprocess

import pytest
from pyinfra.api import State
from pyinfra.context import ctx_state
from pyinfra_cli.inventory import make_inventory as cli_make_inventory

from openclaw_infra.host_settings import settings_for_hosts
from openclaw_infra.settings import Settings
from tests.helpers import PROJECT_ROOT, PYINFRA

EXAMPLE_INVENTORY = PROJECT_ROOT / "inventories" / "example.py"
TOKENS = {
    "OPENCLAW_GATEWAY_TOKEN": "shared-token",
    "OPENCLAW_WA_TOKEN": "wa-token",
    "OPENCLAW_SIG_TOKEN": "sig-token",
    "ANTHROPIC_API_KEY": "sk-ant-example",
}


def make_inventory(path: str) -> object:
    """Load an inventory file the way the pyinfra CLI does (it needs a current state to exec files in)."""
    with ctx_state.use(State()):
        return cli_make_inventory(path)


@pytest.fixture
def example_hosts(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, object]]:
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)
    inventory = make_inventory(str(EXAMPLE_INVENTORY))
    return {host.name: host.data.dict() for host in inventory}  # type: ignore[attr-defined]


def test_example_inventory_round_trip(example_hosts: dict[str, dict[str, object]]) -> None:
    all_settings = settings_for_hosts(example_hosts.items())
    assert set(all_settings) == {"vps1.example.net", "openclaw-vm.local", "mini.example.net"}

    vm = all_settings["openclaw-vm.local"].settings
    assert vm.isolation == "linux-vm"
    assert [str(network) for network in vm.firewall.gateway_allowed_sources] == ["100.64.0.0/10"]
    assert vm.node.version == "24.21.0" and vm.openclaw.version == "2026.9.6"
    assert (
        all_settings["openclaw-vm.local"].secrets_of(vm.gateways[0])["ANTHROPIC_API_KEY"].unmask() == "sk-ant-example"
    )

    mini = all_settings["mini.example.net"]
    wa, sig = mini.settings.gateways
    assert mini.secrets_of(wa)["OPENCLAW_GATEWAY_TOKEN"].unmask() == "wa-token"
    assert mini.secrets_of(sig)["OPENCLAW_GATEWAY_TOKEN"].unmask() == "sig-token"
    assert mini.settings.state_dir_of(sig) == "/home/openclaw/.openclaw-sig"
    assert mini.settings.transcript_pruning.prune_after_days == 14
    # group data gives defaults, host data wins per key
    assert all_settings["vps1.example.net"].settings.isolation == "docker-isolation"

    for host_settings in all_settings.values():
        dumped = host_settings.settings.model_dump(mode="json")
        assert Settings.model_validate(dumped) == host_settings.settings
        # the model holds where secrets come from, never their values
        assert not [value for value in TOKENS.values() if value in str(dumped)]


def test_example_inventory_refuses_empty_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENCLAW_GATEWAY_TOKEN", "")
    monkeypatch.setenv("OPENCLAW_WA_TOKEN", "x")
    monkeypatch.setenv("OPENCLAW_SIG_TOKEN", "y")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "z")
    with pytest.raises(Exception) as caught:
        make_inventory(str(EXAMPLE_INVENTORY))
    # pyinfra wraps errors raised in inventory files; ours is the cause.
    cause = caught.value.__cause__ or getattr(caught.value, "exception", None) or caught.value
    assert "openclaw_secrets.OPENCLAW_GATEWAY_TOKEN: environment variable OPENCLAW_GATEWAY_TOKEN is empty" in str(cause)


def test_cli_refuses_bad_settings_before_connecting() -> None:
    """The host behind this inventory refuses connections: had pyinfra connected first, it would say so."""
    result = subprocess.run(
        [PYINFRA, "-y", "tests/fixtures/inventories/bad_settings_unreachable.py", "deploys/preflight.py"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin", "OPENCLAW_TEST_TOKEN": "t0k"},
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "host 'unreachable': openclaw_gateways[0].port: port 80 is outside 1024-65535" in output
    assert "host 'unreachable-home': openclaw_service_home: service_home '/home' is a top-level directory" in output
    assert "Connecting to hosts" not in output
    assert "t0k" not in output
