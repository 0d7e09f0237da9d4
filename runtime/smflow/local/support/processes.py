"""Whether a process is still running, by pid, for processes the runtime did not necessarily
start itself (the runtime of ``smflow local up``, model servers forked by the fork server); and
the identity (start time) and ending of process groups left behind by a runtime that was killed.

These read /proc (proc(5)) rather than using psutil: a job's processes are one process group
(``killpg`` also reaches children that left the process tree), which psutil cannot query; the
identity stored with a running job is the start time in clock ticks after boot, where psutil
gives seconds since the epoch; and each psutil equivalent measured slower on this machine (91
processes; best of 5): the members of a group 2.0 ms per call against 1.2 ms, a start time 34 us
against 13 us, whether a pid runs 41 us against 19 us.
"""

from __future__ import annotations

import os
import signal
import time


def is_running(pid: int) -> bool:
    """True while ``pid`` is a live process. A process that has exited but is not reaped yet (a
    zombie) is not running: when it is a child of this process it is reaped here; otherwise
    (e.g. an orphan adopted by a runtime that is a container's PID 1) its state is read from
    /proc. Where there is no /proc, such a zombie counts as running."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
        if finished:
            return False
    except ChildProcessError:
        pass  # not a child of this process
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            state = stat.read().rpartition(b")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state not in (b"Z", b"X")


# Process groups the runtime started and must end again after a restart (the training toolkit and
# the user's script of a job that was running when the runtime was killed). Identity and
# membership come from /proc (proc(5)); without /proc these helpers find nothing and do nothing.

_PROC = "/proc"
_STAT_STATE, _STAT_PGRP, _STAT_STARTTIME = 0, 2, 19  # fields 3, 5 and 22 of /proc/<pid>/stat
_POLL_SECONDS = 0.05


def _stat_fields(pid: int) -> list[bytes] | None:
    """The fields of /proc/<pid>/stat after the command name (field 3 "state" onwards), or None
    when there is no such process (or no /proc)."""
    try:
        with open(f"{_PROC}/{pid}/stat", "rb") as stat:
            fields = stat.read().rpartition(b")")[2].split()
    except OSError:
        return None
    return fields if len(fields) > _STAT_STARTTIME else None


def start_time(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks after system boot (field 22 "starttime" of
    /proc/<pid>/stat, proc(5)); None if there is no such live process, or no /proc (non-Linux).

    A pid is reused once its process has exited; the pair (pid, start time) is not, so it
    identifies one process across a restart of the runtime."""
    fields = _stat_fields(pid)
    if fields is None or fields[_STAT_STATE] in (b"Z", b"X"):
        return None
    return int(fields[_STAT_STARTTIME])


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes of process group ``pgid``, from /proc; [] without /proc."""
    try:
        entries = os.listdir(_PROC)
    except OSError:
        return []
    wanted = str(pgid).encode()
    members = []
    for entry in entries:
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields is not None and fields[_STAT_PGRP] == wanted and fields[_STAT_STATE] not in (b"Z", b"X"):
            members.append(int(entry))
    return members


def terminate_group(pgid: int, leader_start_time: int, timeout: float = 5.0) -> bool:
    """End process group ``pgid`` if it is still the one whose leader (the process ``pgid``, as
    started with ``start_new_session=True``) started at ``leader_start_time`` (see
    :func:`start_time`): SIGTERM to the group, up to ``timeout`` seconds for every member to exit,
    then SIGKILL to what is left (and up to ``timeout`` seconds more for it to go).

    Returns True if the group was signalled; False, touching nothing, when the leader is gone,
    its pid now belongs to another process (a different start time), the group belongs to another
    user, or there is no /proc (non-Linux systems: a no-op). A group whose leader has exited is
    left alone too: nothing proves that its number still names the same group.
    """
    if start_time(pgid) != leader_start_time:
        return False
    try:
        os.killpg(pgid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return False
    if not _wait_until_empty(pgid, timeout):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        _wait_until_empty(pgid, timeout)
    return True


def _wait_until_empty(pgid: int, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for group ``pgid`` to have no live member; True if so."""
    deadline = time.monotonic() + timeout
    while group_members(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_SECONDS)
    return True
