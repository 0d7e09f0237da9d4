"""smflow.local.support.processes: is_running (live processes, exited children, gone pids); start_time,
group_members and terminate_group (identifying and ending a process group left behind by a killed
runtime); and store recovery ending a running job's recorded process group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from smflow.local.services.sagemaker.models import PROCESS_FIELD
from smflow.local.state.recovery import recover_after_restart
from smflow.local.state.store import ResourceStore
from smflow.local.support import processes
from smflow.local.support.processes import group_members, is_running, start_time, terminate_group

linux_only = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc (Linux)")

# A group leader that starts one more member of its group, waits until that member is ready,
# prints the member's pid and sleeps. With the argument "ignore", the member ignores SIGTERM.
LEADER = """
import subprocess, sys, time
member = subprocess.Popen(
    [sys.executable, "-c",
     "import signal, sys, time\\n"
     "if sys.argv[1] == 'ignore': signal.signal(signal.SIGTERM, signal.SIG_IGN)\\n"
     "print('ready', flush=True)\\n"
     "time.sleep(120)\\n",
     sys.argv[1]],
    stdout=subprocess.PIPE,
)
member.stdout.readline()
print(member.pid, flush=True)
time.sleep(120)
"""


def start_group(member_sigterm: str = "default") -> tuple[subprocess.Popen, int]:
    """A new process group (leader + one member, both sleeping); returns (leader, member pid)."""
    leader = subprocess.Popen(
        [sys.executable, "-c", LEADER, member_sigterm], stdout=subprocess.PIPE, start_new_session=True
    )
    line = leader.stdout.readline()
    assert line.strip(), "the group's leader did not start its member"
    return leader, int(line)


def end_group(leader: subprocess.Popen, member: int) -> None:
    """Test cleanup: SIGKILL whatever of the group still runs, reap the leader."""
    try:
        os.killpg(leader.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    leader.wait(timeout=30)
    leader.stdout.close()
    wait_until(lambda: not is_running(member), "the group's member exiting")


def wait_until(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(0.01)


def unused_pid() -> int:
    with open("/proc/sys/kernel/pid_max") as limit:
        return int(limit.read()) + 1  # above the largest pid the kernel hands out


# -- is_running ---------------------------------------------------------------------------------


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
    assert not is_running(unused_pid())


# -- start_time ---------------------------------------------------------------------------------


@linux_only
def test_start_time_identifies_a_live_process_and_is_none_once_it_exited():
    first = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = start_time(first.pid)
        assert isinstance(started, int) and started > 0
        assert start_time(first.pid) == started  # stable while the process lives
        assert start_time(os.getpid()) <= started  # the parent started first
        first.kill()
        # Exited but not reaped (a zombie): no longer a live process to identify.
        wait_until(lambda: start_time(first.pid) is None, "the killed child losing its start time")
    finally:
        first.kill()
        first.wait(timeout=30)
    assert start_time(first.pid) is None
    assert start_time(unused_pid()) is None


# -- group_members / terminate_group -------------------------------------------------------------


@linux_only
def test_group_members_lists_the_leader_and_its_member_but_not_this_process():
    leader, member = start_group()
    try:
        assert sorted(group_members(leader.pid)) == sorted([leader.pid, member])
        assert os.getpid() not in group_members(leader.pid)
    finally:
        end_group(leader, member)
    assert group_members(leader.pid) == []


@linux_only
def test_terminate_group_ends_every_member_of_the_recorded_group():
    leader, member = start_group()
    try:
        assert terminate_group(leader.pid, start_time(leader.pid), timeout=30) is True
        assert group_members(leader.pid) == []
        assert leader.wait(timeout=30) == -signal.SIGTERM  # asked politely first
        assert not is_running(member)
    finally:
        end_group(leader, member)


@linux_only
def test_terminate_group_kills_a_member_that_ignores_sigterm_after_the_timeout():
    leader, member = start_group("ignore")
    try:
        assert terminate_group(leader.pid, start_time(leader.pid), timeout=0.5) is True
        assert group_members(leader.pid) == []
        assert not is_running(member)
    finally:
        end_group(leader, member)


@linux_only
def test_terminate_group_leaves_a_process_whose_start_time_differs_alone():
    """A recorded pid that now belongs to another process (a recycled pid) is never signalled."""
    leader, member = start_group()
    try:
        assert terminate_group(leader.pid, start_time(leader.pid) - 1, timeout=0.5) is False
        assert terminate_group(unused_pid(), 1, timeout=0.5) is False
        assert leader.poll() is None and is_running(member)
        assert sorted(group_members(leader.pid)) == sorted([leader.pid, member])
    finally:
        end_group(leader, member)


@linux_only
def test_terminate_group_leaves_a_group_whose_leader_exited_alone():
    leader, member = start_group()
    try:
        started = start_time(leader.pid)
        os.kill(leader.pid, signal.SIGKILL)  # only the leader: its member stays in the group
        leader.wait(timeout=30)
        assert terminate_group(leader.pid, started, timeout=0.5) is False
        assert is_running(member)
    finally:
        end_group(leader, member)


def test_without_proc_the_helpers_find_nothing_and_signal_nothing(monkeypatch, tmp_path):
    """Non-Linux systems have no /proc: recording and ending groups is a no-op there."""
    leader, member = start_group()
    try:
        started = start_time(leader.pid)
        monkeypatch.setattr(processes, "_PROC", str(tmp_path / "no-proc"))
        assert start_time(leader.pid) is None
        assert group_members(leader.pid) == []
        assert terminate_group(leader.pid, started if started is not None else 0, timeout=0.5) is False
        monkeypatch.undo()
        assert leader.poll() is None and is_running(member)
    finally:
        end_group(leader, member)


# -- store recovery -----------------------------------------------------------------------------


def training_job(name: str, status: str, process: dict | None) -> dict:
    job = {
        "TrainingJobName": name,
        "TrainingJobStatus": status,
        "SecondaryStatus": "Training" if status == "InProgress" else status,
        "SecondaryStatusTransitions": [{"Status": "Training", "StartTime": 1.0, "StatusMessage": "Training"}],
    }
    if process is not None:
        job[PROCESS_FIELD] = process
    return job


@linux_only
def test_recovery_ends_the_recorded_process_group_of_a_running_job_then_fails_it(tmp_path):
    orphan, orphan_member = start_group("ignore")
    stranger, stranger_member = start_group()
    try:
        store = ResourceStore(tmp_path / "sagemaker")
        record = {"ProcessGroupId": orphan.pid, "ProcessId": orphan.pid, "StartTime": start_time(orphan.pid)}
        store.insert("TrainingJob", "orphaned", training_job("orphaned", "InProgress", record))
        # Same pid but another start time: the pid was reused by an unrelated process.
        recycled = {"ProcessGroupId": stranger.pid, "ProcessId": stranger.pid,
                    "StartTime": start_time(stranger.pid) - 1}
        store.insert("TrainingJob", "recycled", training_job("recycled", "Stopping", recycled))
        # A job that ended keeps nothing running: its stale record is never acted on.
        ended = {"ProcessGroupId": stranger.pid, "ProcessId": stranger.pid, "StartTime": start_time(stranger.pid)}
        store.insert("TrainingJob", "ended", training_job("ended", "Completed", ended))
        store.insert("TrainingJob", "unreadable", training_job("unreadable", "InProgress", {"ProcessGroupId": "x"}))

        recover_after_restart(ResourceStore(tmp_path / "sagemaker"))

        assert group_members(orphan.pid) == [] and not is_running(orphan_member)
        assert stranger.poll() is None and is_running(stranger_member)
        reopened = ResourceStore(tmp_path / "sagemaker")
        for name in ("orphaned", "recycled", "unreadable"):
            job = reopened.get("TrainingJob", name)
            assert job["TrainingJobStatus"] == "Failed"
            assert "runtime stopped while this training job was running" in job["FailureReason"]
            assert PROCESS_FIELD not in job
        assert reopened.get("TrainingJob", "ended")["TrainingJobStatus"] == "Completed"
    finally:
        end_group(orphan, orphan_member)
        end_group(stranger, stranger_member)


# ------------------------------------------------------------------------------ ProcessTree
SLEEPER = "import time; time.sleep(120)"


@linux_only
def test_a_process_tree_holds_marked_processes_in_other_sessions_and_nothing_else():
    marker = processes.new_tree_marker()
    leader = subprocess.Popen([sys.executable, "-c", SLEEPER], start_new_session=True)
    marked = subprocess.Popen([sys.executable, "-c", SLEEPER], start_new_session=True,
                              env={**os.environ, processes.TREE_ENV: marker})
    stranger = subprocess.Popen([sys.executable, "-c", SLEEPER], start_new_session=True,
                                env={**os.environ, processes.TREE_ENV: processes.new_tree_marker()})
    try:
        tree = processes.ProcessTree(leader.pid, marker, start_time(leader.pid))
        assert tree.members() == sorted([leader.pid, marked.pid])
        assert tree.kill(timeout=5)
        leader.wait(5)
        marked.wait(5)
        assert tree.members() == []
        assert stranger.poll() is None  # another tree's process is untouched
    finally:
        for process in (leader, marked, stranger):
            process.kill()
            process.wait()


@linux_only
def test_a_process_tree_ignores_the_group_of_a_leader_whose_pid_was_reused():
    leader = subprocess.Popen([sys.executable, "-c", SLEEPER], start_new_session=True)
    try:
        # A start time that is not the live leader's: as if the pid now belonged to another process.
        tree = processes.ProcessTree(leader.pid, None, start_time(leader.pid) - 1)
        assert tree.members() == []
        assert tree.kill(timeout=1)
        assert leader.poll() is None
    finally:
        leader.kill()
        leader.wait()
