"""Check every host of an inventory in parallel; one host that cannot be checked never hides the others."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pyinfra.api.exceptions import InventoryError
from pyinfra.api.state import State
from pyinfra.context import ctx_state
from pyinfra_cli.inventory import make_inventory

from openclaw_infra.drift.checks import HostResult, check_host
from openclaw_infra.host_settings import HostSettings, settings_for_hosts

EXIT_NO_DRIFT = 0
EXIT_DRIFT = 1
EXIT_UNCHECKED = 2
MAX_PARALLEL_HOSTS = 8


def inventory_settings(inventory: str, cwd: Path) -> dict[str, HostSettings]:
    """Load the inventory as the pyinfra CLI does and validate every host's settings (reads secret sources)."""
    # Like pyinfra's CLI: an inventory may import modules that sit beside it in the project it is run from.
    if str(cwd) not in sys.path:
        sys.path.append(str(cwd))
    with ctx_state.use(State()):
        hosts = make_inventory(inventory)
    return settings_for_hosts((host.name, host.data.dict()) for host in hosts)


def check_inventory(inventory: str, deploys: Sequence[str], cwd: Path) -> list[HostResult]:
    hosts = inventory_settings(inventory, cwd)
    if not hosts:
        # Asked to check hosts and given none: a typo in the inventory's name must not read as "no drift".
        raise InventoryError(f"{inventory} gives no hosts to check")
    with ThreadPoolExecutor(max_workers=max(1, min(MAX_PARALLEL_HOSTS, len(hosts)))) as pool:
        return list(pool.map(lambda host_settings: check_host(inventory, host_settings, deploys, cwd), hosts.values()))


def exit_code(results: Sequence[HostResult]) -> int:
    """2 when any host could not be checked (the answer is incomplete), else 1 on any drift, else 0."""
    if any(result.status == "unchecked" for result in results):
        return EXIT_UNCHECKED
    if any(result.status == "drift" for result in results):
        return EXIT_DRIFT
    return EXIT_NO_DRIFT


def report_json(results: Sequence[HostResult]) -> str:
    return json.dumps(
        {
            "exit_code": exit_code(results),
            "summary": {
                status: sum(result.status == status for result in results) for status in ("ok", "drift", "unchecked")
            },
            "hosts": [
                {
                    "host": result.host,
                    "status": result.status,
                    "error": result.error,
                    "checks": [{**dataclasses.asdict(check), "ok": check.ok} for check in result.checks],
                }
                for result in results
            ],
        },
        indent=2,
    )


def report_table(results: Sequence[HostResult], show_all: bool = False) -> str:
    rows = [("HOST", "CHECK", "EXPECTED", "FOUND")]
    for result in results:
        if result.error is not None:
            rows.append((result.host, "could not be checked", "-", result.error))
            continue
        shown = [check for check in result.checks if show_all or not check.ok]
        rows += [(result.host, check.check, check.expected, check.found) for check in shown]
        if not shown:
            rows.append((result.host, f"all {len(result.checks)} checks", "match", "match"))
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3]
             for row in rows]  # fmt: skip
    summary = {status: sum(r.status == status for r in results) for status in ("ok", "drift", "unchecked")}
    lines.append(f"\n{summary['ok']} ok, {summary['drift']} drifted, {summary['unchecked']} could not be checked")
    return "\n".join(lines)
