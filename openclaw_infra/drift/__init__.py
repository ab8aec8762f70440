"""Drift checks: do deployed hosts still match what the deploys set? Read-only, for cron and CI."""
