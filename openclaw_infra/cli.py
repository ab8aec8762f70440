"""``openclaw-infra``: the project's command line.

openclaw-infra drift INVENTORY [DEPLOY …] [--json] [--all]
openclaw-infra tailscale-policy INVENTORY [--host NAME]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

# Drift runs pyinfra in this process: pyinfra's CLI package monkey-patches it for gevent when imported, which must
# happen before anything imports paramiko (pyinfra's own console script imports it first too).
import pyinfra_cli  # noqa: F401
from pyinfra.api.exceptions import PyinfraError
from pyinfra_cli.exceptions import UnexpectedExternalError

from openclaw_infra.drift.run import (
    EXIT_UNCHECKED,
    check_inventory,
    exit_code,
    inventory_hosts,
    report_json,
    report_table,
)
from openclaw_infra.host_settings import validated_settings
from openclaw_infra.tailscale_policy import inventory_policy


def _on_inventory(command: str, inventory: str, work: Callable[[], int], refused: tuple[type[Exception], ...]) -> int:
    """Run ``work`` on ``inventory``; one line and exit 2 when the inventory is missing or does not load, or when
    ``work`` raises one of ``refused`` (invalid settings, …)."""
    if inventory.endswith(".py") and not Path(inventory).is_file():
        # pyinfra would take the name for a host to SSH to; a mistyped file name is what it is.
        print(f"openclaw-infra {command}: no inventory file {inventory}", file=sys.stderr)
        return EXIT_UNCHECKED
    try:
        return work()
    except UnexpectedExternalError as error:  # the inventory file itself raised: say what, not where in pyinfra
        print(f"openclaw-infra {command}: {inventory} failed to load: {error.exception!r}", file=sys.stderr)
    except refused as error:
        print(f"openclaw-infra {command}: {error}", file=sys.stderr)
    return EXIT_UNCHECKED


def _drift(args: argparse.Namespace) -> int:
    def check() -> int:
        results = check_inventory(args.inventory, args.deploys, Path.cwd())
        print(report_json(results) if args.json else report_table(results, show_all=args.all))
        return exit_code(results)

    # PyinfraError: invalid settings, an inventory that refuses to load.
    return _on_inventory("drift", args.inventory, check, (PyinfraError,))


def _tailscale_policy(args: argparse.Namespace) -> int:
    def policy() -> int:
        hosts = inventory_hosts(args.inventory, Path.cwd())
        settings = validated_settings((host.name, host.data.dict()) for host in hosts)  # type: ignore[no-untyped-call]
        print(inventory_policy(settings, args.host))
        return 0

    # ValueError: no host with openclaw_tailscale, or hosts needing different policies.
    return _on_inventory("tailscale-policy", args.inventory, policy, (PyinfraError, ValueError))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="openclaw-infra", description="pyinfra-openclaw tools")
    commands = parser.add_subparsers(dest="command", required=True)
    drift = commands.add_parser(
        "drift",
        help="report whether hosts still match the deploys; changes nothing",
        description="Exit 0: no drift. 1: drift found. 2: a host could not be checked (or the settings are invalid).",
    )
    drift.add_argument("inventory", help="pyinfra inventory file, e.g. inventories/hosts.py")
    drift.add_argument("deploys", nargs="*", help="deploy files whose dry-run plan must show no change")
    drift.add_argument("--json", action="store_true", help="machine-readable report")
    drift.add_argument("--all", action="store_true", help="also list the checks that match")
    drift.set_defaults(func=_drift)
    policy = commands.add_parser(
        "tailscale-policy",
        help="print the tailnet policy file (HuJSON) the inventory's openclaw_tailscale settings need",
        description="Exit 0: printed. 2: no such inventory, invalid settings, or hosts needing different policies.",
    )
    policy.add_argument("inventory", help="pyinfra inventory file, e.g. inventories/hosts.py")
    policy.add_argument("--host", help="the host whose policy to print, when hosts need different ones")
    policy.set_defaults(func=_tailscale_policy)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
