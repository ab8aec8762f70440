"""Gather each gateway's audit bundle (the guide's "Audit"): its logs and journal, its sessions and their redacted
trajectories, and its config, with every secret masked; kept on the host (root's, 600) and copied to
``openclaw_audit_dir`` on the control machine (``<dir>/<host>/``, 600 in 700).

    pyinfra inventories/hosts.py deploys/audit.py
"""

from openclaw_infra.deploy_context import executed_by_pyinfra
from openclaw_infra.deploys.incident_response import audit_bundles

if executed_by_pyinfra(globals()):
    audit_bundles()
