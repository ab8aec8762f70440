"""Link signal-cli, as the Signal gateway's user, as a device of the bot's Signal account (the guide's "Link to
Signal account"): run after the Linux deploy, with the bot's phone at hand.

    pyinfra inventories/hosts.py deploys/signal_link.py

The ``sgnl://linkdevice?…`` URI appears in pyinfra's output as a warning: scan it with the phone (Signal >
Settings > Linked devices > Link new device) within ``openclaw_signal.link_timeout_seconds``. An account already
linked changes nothing.
"""

from openclaw_infra.deploy_context import executed_by_pyinfra
from openclaw_infra.deploys.signal_setup import signal_link

if executed_by_pyinfra(globals()):
    signal_link()
