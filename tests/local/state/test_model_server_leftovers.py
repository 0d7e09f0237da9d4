"""A restarted runtime ends what the model servers of its own state folder left running, and
nothing else: processes are told apart by the marker their instance folder gives them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from smflow.local.state.recovery import end_leftover_model_server_processes
from smflow.local.support.processes import TREE_ENV, folder_marker, is_running, start_time

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")

SLEEPER = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"


def _sleeper(marker: str | None) -> subprocess.Popen:
    env = {key: value for key, value in os.environ.items() if key != TREE_ENV}
    if marker is not None:
        env[TREE_ENV] = marker
    process = subprocess.Popen([sys.executable, "-c", SLEEPER], env=env, start_new_session=True)
    needle = f"{TREE_ENV}={marker}".encode() if marker else b"SIG_IGN"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # until exec'd: /proc then shows the new environment
        try:
            if needle in Path(f"/proc/{process.pid}/environ").read_bytes() + \
                    Path(f"/proc/{process.pid}/cmdline").read_bytes():
                break
        except OSError:
            pass
        time.sleep(0.01)
    return process


def _instance(state: Path, endpoint: str) -> Path:
    folder = state / "work" / "endpoints" / endpoint / "config-0a1b2c3d" / "AllTraffic" / "instance-1"
    folder.mkdir(parents=True)
    return folder


def test_only_this_state_folders_leftovers_are_ended(tmp_path):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    transform = ours / "work" / "transform" / "job" / "instance-2"
    transform.mkdir(parents=True)
    processes = {
        "endpoint": _sleeper(folder_marker(_instance(ours, "e"))),
        "transform": _sleeper(folder_marker(transform)),
        "other state folder": _sleeper(folder_marker(_instance(theirs, "e"))),  # same layout, other runtime
        "no marker": _sleeper(None),
        "unknown marker": _sleeper("0" * 32),
    }
    try:
        newest = max(start_time(process.pid) for process in processes.values())
        time.sleep(0.05)  # start times count clock ticks (10 ms): the next one starts strictly later
        late = processes["started after the restart"] = _sleeper(folder_marker(ours / "work" / "endpoints" / "e"
                                                                               / "config-0a1b2c3d" / "AllTraffic"
                                                                               / "instance-1"))
        assert start_time(late.pid) > newest
        began = time.monotonic()
        ended = end_leftover_model_server_processes(ours / "work", started_before=newest, timeout=5)
        assert time.monotonic() - began < 5
        assert sorted(set(ended)) == sorted([processes["endpoint"].pid, processes["transform"].pid])
        for name in ("endpoint", "transform"):
            assert processes[name].wait(timeout=5) == -9, name
        for name in ("other state folder", "no marker", "unknown marker", "started after the restart"):
            assert processes[name].poll() is None and is_running(processes[name].pid), name
    finally:
        for process in processes.values():
            process.kill()
            process.wait()


def test_nothing_to_do_without_instance_folders(tmp_path):
    (tmp_path / "work").mkdir()
    assert end_leftover_model_server_processes(tmp_path / "work") == []
    assert end_leftover_model_server_processes(tmp_path / "missing") == []
