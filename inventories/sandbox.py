"""pyinfra inventory of the running sandbox hosts (`python -m openclaw_infra.sandbox up NAME`).

Set OPENCLAW_SANDBOX_HOSTS=name1,name2 to limit it to some of them. The gateway token is read from a file
the sandbox made (root-only); the inventory only says where it is. OPENCLAW_SANDBOX_SECRETS (JSON, the shape of
openclaw_secrets) replaces those sources, e.g. for tests that plant a canary token.
"""

import json
import os

from openclaw_infra.inventory import checked_hosts
from openclaw_infra.sandbox import list_hosts, mirror_service
from openclaw_infra.sandbox.hosts import demo_token_path

_wanted = {name for name in os.environ.get("OPENCLAW_SANDBOX_HOSTS", "").split(",") if name}
_secrets = (
    json.loads(os.environ["OPENCLAW_SANDBOX_SECRETS"])
    if os.environ.get("OPENCLAW_SANDBOX_SECRETS")
    else {"OPENCLAW_GATEWAY_TOKEN": {"file": str(demo_token_path())}}
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
                "openclaw_secrets": _secrets,
            },
        )
        for sandbox_host in list_hosts()
        if sandbox_host.is_alive() and (not _wanted or sandbox_host.name in _wanted)
    ]
)
