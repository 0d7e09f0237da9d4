"""Transitional alias of :mod:`smflow.local.support.processes` for launcher.py,
state/recovery.py and tests/integration/test_restart.py; remove once they import the new path."""

from smflow.local.support.processes import group_members, is_running, start_time, terminate_group  # noqa: F401
