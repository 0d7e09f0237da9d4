"""smflow.local.processes.is_running: live processes, exited children, gone pids."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from smflow.local.processes import is_running


def test_a_live_child_is_running_and_an_exited_one_is_not_even_before_it_is_reaped():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert is_running(child.pid)
        os.kill(child.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while is_running(child.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not is_running(child.pid)  # a zombie child is reaped, not counted as running
    finally:
        child.kill()


def test_this_process_is_running_and_a_pid_that_does_not_exist_is_not():
    assert is_running(os.getpid())
    with open("/proc/sys/kernel/pid_max") as limit:
        unused = int(limit.read()) + 1  # above the largest pid the kernel hands out
    assert not is_running(unused)
