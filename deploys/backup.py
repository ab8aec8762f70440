"""Archive every gateway's state now (config, credentials, sessions, workspaces), root-only on the host; with
``openclaw_backups.fetch_to`` also a copy on the control machine.

    pyinfra inventories/hosts.py deploys/backup.py

The gateways keep running: OpenClaw copies its SQLite databases with SQLite's online backup API.
"""

from openclaw_infra.deploy_context import executed_by_pyinfra
from openclaw_infra.deploys.gateway_lifecycle import gateway_backups

if executed_by_pyinfra(globals()):
    gateway_backups()
