"""Your own hosts: the inventory the deploys, the drift checks and their schedule use.

    pyinfra inventories/hosts.py deploys/docker_isolation.py
    openclaw-infra drift inventories/hosts.py deploys/docker_isolation.py

The hosts are not written here but in a TOML file you keep beside your SSH keys: ``$OPENCLAW_HOSTS_FILE``, or
``inventories/hosts.toml`` (ignored by git). ``inventories/hosts.example.toml`` shows its shape:

    [all]                          # data every host gets (pyinfra's group data)
    openclaw_secrets = { OPENCLAW_GATEWAY_TOKEN = { env = "OPENCLAW_GATEWAY_TOKEN" } }

    [hosts."vps1.example.net"]     # one table per host: pyinfra connection data and openclaw_* settings
    ssh_user = "admin"
    _sudo = true

Every ``openclaw_*`` key is validated by the settings model (and every secret source read) while this file loads,
before pyinfra connects to any host; an error names the host, the key and the fix. Secrets are never values in
the file, only where the control machine reads them.
"""

import os
import tomllib
from pathlib import Path
from typing import Any

from pyinfra.api.exceptions import InventoryError

from openclaw_infra.inventory import checked_group

HOSTS_FILE = Path(os.environ.get("OPENCLAW_HOSTS_FILE") or Path(__file__).with_name("hosts.toml"))
EXAMPLE = Path(__file__).with_name("hosts.example.toml")


def _load(path: Path) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any]]:
    try:
        document = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise InventoryError(
            f"no hosts file at {path}. Fix: copy {EXAMPLE} there and fill in your hosts, "
            "or point OPENCLAW_HOSTS_FILE at yours."
        ) from None
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise InventoryError(f"{path} cannot be read: {error}") from None
    unknown = sorted(set(document) - {"all", "hosts"})
    if unknown:
        raise InventoryError(f"{path}: unknown table(s) {', '.join(unknown)}. Fix: use only [all] and [hosts.NAME].")
    hosts = document.get("hosts", {})
    if not hosts:
        raise InventoryError(f"{path} names no host. Fix: add a [hosts.\"NAME\"] table for each host.")
    for name, data in hosts.items():
        if not isinstance(data, dict):
            raise InventoryError(f"{path}: hosts.{name} must be a table of host data, not {data!r}.")
    return list(hosts.items()), document.get("all", {})


hosts = checked_group(*_load(HOSTS_FILE))
