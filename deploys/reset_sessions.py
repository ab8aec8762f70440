"""Reset every session of the host's gateways (the guide's "Session reset"): each is deleted through the running
gateway, which archives its transcript beside the store (``agents/<id>/sessions/*.deleted.*``) for the audit.

    pyinfra inventories/hosts.py deploys/reset_sessions.py

OpenClaw 2026.9.6 has no ``openclaw sessions reset``; this is what its CLI offers in its place.
"""

from openclaw_infra.deploy_context import executed_by_pyinfra
from openclaw_infra.deploys.incident_response import sessions_reset

if executed_by_pyinfra(globals()):
    sessions_reset()
