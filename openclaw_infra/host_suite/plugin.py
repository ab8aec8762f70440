"""pytest plugin of the host suite (registered through the ``pytest11`` entry point): its options, and one test
item per check of each ``--hosts`` host, decided before the tests run (pytest names items at collection)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from openclaw_infra.host_suite.host_checks import HostCheck

# The parameter the suite's test takes; the hook acts on no other test.
CHECK_PARAMETER = "openclaw_check"
DEFAULT_HEALTH_WAIT_SECONDS = 5
_CHECKS = pytest.StashKey["list[HostCheck]"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("openclaw", "OpenClaw host suite (pytest --pyargs openclaw_infra.host_suite)")
    group.addoption(
        "--openclaw-inventory",
        metavar="INVENTORY",
        help="pyinfra inventory the hosts were deployed from (e.g. inventories/hosts.py): each host is checked "
        "against the settings of the inventory host whose name or ssh_hostname it is reached by",
    )
    group.addoption(
        "--openclaw-host",
        metavar="NAME",
        help="check every --hosts host against this inventory host's settings instead of matching by name",
    )
    group.addoption(
        "--openclaw-health-wait",
        metavar="SECONDS",
        type=int,
        default=DEFAULT_HEALTH_WAIT_SECONDS,
        help=f"how long a gateway may take to answer /health (default {DEFAULT_HEALTH_WAIT_SECONDS})",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if CHECK_PARAMETER not in metafunc.fixturenames:
        return
    config = metafunc.config
    if _CHECKS not in config.stash:
        # Imported here: pytest loads this plugin in every run of an environment that has the package installed.
        from openclaw_infra.host_suite.host_checks import SuiteRefused

        try:
            config.stash[_CHECKS] = _collect_checks(config)
        except SuiteRefused as refusal:
            refused = str(refusal)
        else:
            refused = ""
        if refused:  # failed outside the except block, so pytest shows the reason alone, not a chain
            pytest.fail(f"openclaw host suite: {refused}", pytrace=False)
    checks = config.stash[_CHECKS]
    metafunc.parametrize(CHECK_PARAMETER, checks, ids=[check.test_id for check in checks])


def _collect_checks(config: pytest.Config) -> list[HostCheck]:
    import testinfra

    from openclaw_infra.host_suite.host_checks import (
        LOCAL_INVENTORY_NAME,
        SuiteRefused,
        checks_of,
        inventory_host_for,
        load_inventory_data,
        settings_of,
    )

    inventory = config.getoption("openclaw_inventory")
    if not inventory:
        raise SuiteRefused(
            "--openclaw-inventory=INVENTORY is needed: the pyinfra inventory the hosts were deployed from"
        )
    option = config.option
    # The hosts testinfra's own plugin would give its ``host`` fixture, from the same options.
    hosts = testinfra.get_hosts(
        option.hosts.split(",") if option.hosts else [None],
        connection=option.connection,
        ssh_config=option.ssh_config,
        ssh_identity_file=option.ssh_identity_file,
        sudo=option.sudo,
        sudo_user=option.sudo_user,
        ansible_inventory=option.ansible_inventory,
        force_ansible=option.force_ansible,
    )
    data = load_inventory_data(inventory, config.invocation_params.dir)
    chosen = config.getoption("openclaw_host")
    names = [
        inventory_host_for(
            LOCAL_INVENTORY_NAME if host.backend.NAME == "local" else host.backend.get_hostname(), data, chosen
        )
        for host in hosts
    ]
    settings = settings_of(data, names)
    wait = config.getoption("openclaw_health_wait")
    return [check for host, name in zip(hosts, names, strict=True) for check in checks_of(host, settings[name], wait)]
