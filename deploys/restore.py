"""Put one gateway's state back from one of its archives, then verify the host.

    pyinfra inventories/hosts.py deploys/restore.py --data openclaw_restore_backup=<archive file name>

The archive's name says which gateway it belongs to (``<service>-<time>-<why>.tar.gz``, listed in
``/var/backups/openclaw/<service>/``); an archive taken from another state dir is refused. The state it replaces
is kept beside it as ``<state dir>.pre-restore-<time>``.
"""

from openclaw_infra.deploy_context import executed_by_pyinfra
from openclaw_infra.deploys.gateway_lifecycle import gateway_restore

if executed_by_pyinfra(globals()):
    gateway_restore()
