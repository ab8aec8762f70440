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
from pathlib import Path

from openclaw_infra.inventory import checked_group, hosts_file

HOSTS_FILE = Path(os.environ.get("OPENCLAW_HOSTS_FILE") or Path(__file__).with_name("hosts.toml"))
EXAMPLE = Path(__file__).with_name("hosts.example.toml")

hosts = checked_group(*hosts_file(HOSTS_FILE, EXAMPLE, "OPENCLAW_HOSTS_FILE"))
