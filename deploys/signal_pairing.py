"""Approve Signal senders (the guide's "Approve senders"): each code the bot sent a sender, approved on the gateway
carrying the channel, through its own CLI as its user.

    pyinfra inventories/hosts.py deploys/signal_pairing.py --data openclaw_approve_signal_pairing=5X9JSF56[,…]

A code that is not pending (approved already, expired after an hour) changes nothing and says so.
"""

from openclaw_infra.deploy_context import executed_by_pyinfra
from openclaw_infra.deploys.signal_setup import signal_pairing_approved

if executed_by_pyinfra(globals()):
    signal_pairing_approved()
