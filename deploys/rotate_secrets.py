"""Rotate each gateway's token (or password): a new random one, stored where the settings read it, on the host,
the gateway restarted on it and verified. The old one is refused from then on.

    pyinfra inventories/hosts.py deploys/rotate_secrets.py [--data openclaw_rotate_gateways=openclaw-gateway,...]

A token whose source is a file (``{"file": "~/.secrets/token"}``) is rewritten there (600). One read from an
environment variable or a command is left in ``openclaw_rotated_secrets_dir`` with word of where to store it:
until it is stored there, a deploy would put the old one back.
"""

from openclaw_infra.deploy_context import executed_by_pyinfra
from openclaw_infra.deploys.secret_rotation import secrets_rotated

if executed_by_pyinfra(globals()):
    secrets_rotated()
