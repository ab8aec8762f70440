"""What the Signal deploys take from ``--data`` and the settings before any host is touched: the pairing codes
asked for, and whether approving them would have OpenClaw rewrite the managed config."""

from __future__ import annotations

from typing import Any

import pytest

from openclaw_infra.deploys.signal_setup import APPROVE_KEY, _owner_configured, requested_codes
from openclaw_infra.settings import Settings


@pytest.mark.parametrize(
    ("value", "codes"),
    [("ZHYWXLZG", ["ZHYWXLZG"]), ("zhywxlzg, T38E6QVM", ["ZHYWXLZG", "T38E6QVM"]), (["T38E6QVM"], ["T38E6QVM"])],
)
def test_codes_are_read_from_the_request(value: Any, codes: list[str]) -> None:
    assert requested_codes({APPROVE_KEY: value}) == (codes, None)


@pytest.mark.parametrize("value", [None, "", "ZHYWXLZG,ABCD0O1I", "ZHYWXLZ"])
def test_a_bad_or_missing_request_is_refused_with_how_to_ask(value: Any) -> None:
    codes, problem = requested_codes({} if value is None else {APPROVE_KEY: value})
    assert codes == []
    assert problem is not None and "Fix: give the 8-character code(s) the bot sent" in problem


@pytest.mark.parametrize(
    ("signal", "extra_config", "expected"),
    [
        ({"account": "+46701234567"}, {}, False),
        ({"account": "+46701234567", "owner": "+46700000001"}, {}, True),
        ({"account": "+46701234567"}, {"commands": {"ownerAllowFrom": ["signal:+46700000001"]}}, True),
    ],
)
def test_an_owner_is_found_in_the_config_the_deploy_writes(
    signal: dict[str, str], extra_config: dict[str, Any], expected: bool
) -> None:
    model = Settings.model_validate(
        {
            "gateways": [{"extra_config": extra_config, "secrets": {"OPENCLAW_GATEWAY_TOKEN": {"env": "A"}}}],
            "signal": signal,
        }
    )
    assert _owner_configured(model) is expected
