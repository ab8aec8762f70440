"""Load a pyinfra inventory as the pyinfra CLI does, in a process of its own, and print each host's ``openclaw_*``
data and ``ssh_hostname`` as JSON: ``python -m openclaw_infra.host_suite.inventory_data INVENTORY``.

A process of its own because pyinfra's inventory loader lives in ``pyinfra_cli``, whose import monkey-patches the
whole process with gevent: never done to a pytest run. Secret values are not printed (the data holds only where the
control machine reads them); the suite reads them itself.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from openclaw_infra.settings import DATA_PREFIX

# Exit code and stderr prefix of a refusal, so the caller can show it as it is.
EXIT_REFUSED = 2
# Host data the suite matches a testinfra host by, besides the host's name.
MATCHED_KEYS = ("ssh_hostname",)


def inventory_data(inventory: str) -> dict[str, dict[str, Any]]:
    from pyinfra.api.state import State
    from pyinfra.context import ctx_state
    from pyinfra_cli.inventory import make_inventory

    # Like pyinfra's CLI: an inventory may import modules that sit beside it in the project it is run from.
    sys.path.append(str(Path.cwd()))
    with ctx_state.use(State()):
        hosts = make_inventory(inventory)
    return {
        host.name: {
            key: value for key, value in host.data.dict().items() if key.startswith(DATA_PREFIX) or key in MATCHED_KEYS
        }
        for host in hosts
    }


def main(argv: list[str]) -> int:
    (inventory,) = argv
    if inventory.endswith(".py") and not Path(inventory).is_file():
        # pyinfra would take the name for a host to SSH to; a mistyped file name is what it is.
        print(f"no inventory file {inventory}", file=sys.stderr)
        return EXIT_REFUSED
    from pyinfra.api.exceptions import PyinfraError
    from pyinfra_cli.exceptions import UnexpectedExternalError

    try:
        data = inventory_data(inventory)
    except PyinfraError as error:  # invalid settings, an inventory that refuses to load
        print(error, file=sys.stderr)
        return EXIT_REFUSED
    except UnexpectedExternalError as error:  # the inventory file itself raised: say what, not where in pyinfra
        print(f"{inventory} failed to load: {error.exception!r}", file=sys.stderr)
        return EXIT_REFUSED
    # default=str: a value the inventory wrote as a Path (or the like) reaches the settings model as its text.
    print(json.dumps(data, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
