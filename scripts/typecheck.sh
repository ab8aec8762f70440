#!/usr/bin/env bash
# mypy over the package as it is imported: facts/, operations/, deploys/ and templates/ live at the top level
# and are mapped into openclaw_infra by setuptools, which mypy cannot follow; a tree of links shows it the mapping.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=build/typecheck
rm -rf "$tree" && mkdir -p "$tree/openclaw_infra"
for entry in openclaw_infra/*; do ln -s "$PWD/$entry" "$tree/openclaw_infra/"; done
for mapped in facts operations deploys templates; do ln -s "$PWD/$mapped" "$tree/openclaw_infra/$mapped"; done
MYPYPATH=$tree:$PWD exec .venv/bin/mypy -p openclaw_infra -p sandbox_hosts "$@"
