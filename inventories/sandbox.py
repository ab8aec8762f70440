"""pyinfra inventory of the running sandbox hosts (`python -m sandbox_hosts up NAME`).

Set OPENCLAW_SANDBOX_HOSTS=name1,name2 to limit it to some of them; a name that is not up is an error, never an
empty run. The gateway token is read from a file the sandbox made (root-only); the inventory only says where it
is. OPENCLAW_SANDBOX_SECRETS (JSON, the shape of openclaw_secrets) replaces those sources, e.g. for tests that
plant a canary token. OPENCLAW_SANDBOX_DATA (a JSON object of openclaw_* settings) is added to every host's
data, e.g. for tests whose drift checks must see the settings the deploy had (the drift command takes no --data).
A host booted with `--login sudo-…` is reached as its sudo user with `_sudo`.
"""

import json
import os

from pyinfra.api.exceptions import InventoryError

from openclaw_infra.inventory import checked_hosts
from sandbox_hosts import list_hosts, mirror_service
from sandbox_hosts.hosts import demo_token_path

_wanted = [name for name in os.environ.get("OPENCLAW_SANDBOX_HOSTS", "").split(",") if name]
_secrets = (
    json.loads(os.environ["OPENCLAW_SANDBOX_SECRETS"])
    if os.environ.get("OPENCLAW_SANDBOX_SECRETS")
    else {"OPENCLAW_GATEWAY_TOKEN": {"file": str(demo_token_path())}}
)
_extra_data = json.loads(os.environ.get("OPENCLAW_SANDBOX_DATA") or "{}")
_up = {sandbox_host.name: sandbox_host for sandbox_host in list_hosts() if sandbox_host.is_alive()}
_missing = [name for name in _wanted if name not in _up]
if _missing or not _up:
    raise InventoryError(
        f"sandbox hosts not up: {', '.join(_missing) or '(none is up)'}; "
        "`python -m sandbox_hosts list` shows them, `python -m sandbox_hosts up NAME` boots one"
    )

sandbox = checked_hosts(
    [
        (
            sandbox_host.name,
            {
                **sandbox_host.pyinfra_data(),
                "openclaw_isolation": "linux-vm",
                # nodejs.org is out of reach here: the harness serves the same tarball layout from the npm registry.
                "openclaw_node": {"tarball_base_url": mirror_service.BASE_URL},
                # The real registry's packages through the harness's cache (sandbox_hosts/npm_cache.py): each
                # tarball is downloaded once per machine, not once per host.
                "openclaw_openclaw": {"npm_registry": mirror_service.NPM_REGISTRY_URL},
                "openclaw_secrets": _secrets,
                **_extra_data,
            },
        )
        for name, sandbox_host in _up.items()
        if not _wanted or name in _wanted
    ]
)
