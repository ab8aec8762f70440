"""``openclaw-infra``: the project's command line.

openclaw-infra drift INVENTORY [DEPLOY …] [--json] [--all]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# Drift runs pyinfra in this process: pyinfra's CLI package monkey-patches it for gevent when imported, which must
# happen before anything imports paramiko (pyinfra's own console script imports it first too).
import pyinfra_cli  # noqa: F401
from pyinfra.api.exceptions import PyinfraError
from pyinfra_cli.exceptions import UnexpectedExternalError

from openclaw_infra.drift.run import EXIT_UNCHECKED, check_inventory, exit_code, report_json, report_table


def _drift(args: argparse.Namespace) -> int:
    if args.inventory.endswith(".py") and not Path(args.inventory).is_file():
        # pyinfra would take the name for a host to SSH to; a mistyped file name is what it is.
        print(f"openclaw-infra drift: no inventory file {args.inventory}", file=sys.stderr)
        return EXIT_UNCHECKED
    try:
        results = check_inventory(args.inventory, args.deploys, Path.cwd())
    except PyinfraError as error:  # invalid settings, an inventory that refuses to load
        print(f"openclaw-infra drift: {error}", file=sys.stderr)
        return EXIT_UNCHECKED
    except UnexpectedExternalError as error:  # the inventory file itself raised: say what, not where in pyinfra
        print(f"openclaw-infra drift: {args.inventory} failed to load: {error.exception!r}", file=sys.stderr)
        return EXIT_UNCHECKED
    print(report_json(results) if args.json else report_table(results, show_all=args.all))
    return exit_code(results)


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
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
