#!/usr/bin/env bash
# The whole test suite: set up, lint, type-check, then every test (real sandbox hosts included).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "==> ruff"
.venv/bin/ruff check .
echo "==> mypy"
bash scripts/typecheck.sh
echo "==> pytest"
set +e
if [[ $# -eq 0 ]]; then
  # The whole suite: sandbox test files two at a time beside the rest (scripts/test_lanes.py says why not xdist).
  .venv/bin/python scripts/test_lanes.py --lanes "${OPENCLAW_TEST_LANES_COUNT:-2}"
else
  .venv/bin/pytest --durations=25 "$@"
fi
status=$?
set -e
if [[ $status -eq 5 ]]; then
  echo "pytest collected no tests: failing, a suite that runs nothing proves nothing" >&2
  exit 1
fi
exit $status
