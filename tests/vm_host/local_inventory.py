"""The machine itself as a VM host, for the live VM host deploy test: its data is the JSON in
``OPENCLAW_TEST_VM_HOST_DATA`` (the test writes it per run)."""

import json
import os

vm_hosts = [("@local", json.loads(os.environ["OPENCLAW_TEST_VM_HOST_DATA"]))]
