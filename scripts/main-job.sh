#!/usr/bin/env bash
# The main job: set up, boot a disposable sandbox host, and deploy to it with pyinfra over real SSH.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

HOST=${OPENCLAW_DEMO_HOST:-demo}
DEPLOY=${OPENCLAW_DEMO_DEPLOY:-deploys/linux_vm.py}
sandbox() { .venv/bin/python -m sandbox_hosts "$@"; }

if ! sandbox list | grep -q "^${HOST}	.*	up	"; then
  sandbox down "$HOST"   # a stale one left by a crash or a reboot
  sandbox up "$HOST"
fi
sandbox mirror >/dev/null   # a host kept from an earlier run still installs Node from this run's mirror
echo "==> pyinfra inventories/sandbox.py ${DEPLOY}  (host ${HOST})"
OPENCLAW_SANDBOX_HOSTS=$HOST .venv/bin/pyinfra -y inventories/sandbox.py "$DEPLOY"
echo "==> the host stays up: 'python -m sandbox_hosts ssh ${HOST}' to look, 'down ${HOST}' to remove it"
