"""Test deploy: the wrapper script and an /etc/cron.d-style file, all under a scratch directory on @local.

DRIFT_TEST_ROOT      scratch directory (absolute, plain path)
DRIFT_TEST_COMMAND   the drift command as a JSON list
DRIFT_TEST_SCHEDULE  five cron fields
"""

import json
import os

from openclaw_infra.operations import drift_schedule

root = os.environ["DRIFT_TEST_ROOT"]
report_dir = f"{root}/reports"
runner = f"{root}/libexec/run-drift"

drift_schedule.report_runner(
    name="Drift check: wrapper script and report directory",
    command=json.loads(os.environ["DRIFT_TEST_COMMAND"]),
    working_dir=root,
    user="root",
    report_dir=report_dir,
    keep_reports=2,
    runner=runner,
)
drift_schedule.cron_job(
    name="Drift check: cron",
    user="root",
    schedule=os.environ["DRIFT_TEST_SCHEDULE"],
    log_path=drift_schedule.runner_log_path(report_dir),
    runner=runner,
    cron_file=f"{root}/cron.d/openclaw-drift",
)
